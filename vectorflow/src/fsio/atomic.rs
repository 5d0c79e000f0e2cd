//! Atomic file replacement: a crash never leaves a half-written file under the final name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `path` through `write`, atomically (see [`AtomicFile`]).
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(file.writer())?;
    file.commit()
}

/// A file written under a temporary name in the same directory as its final name (so
/// the rename cannot cross file systems), then flushed, fsynced and renamed over it, with
/// the directory fsynced so the rename itself is durable. Dropped before
/// [`AtomicFile::commit`], or on a failed commit, it removes the temporary file and
/// leaves the final name untouched. A process killed while writing cannot remove its
/// temporary file: the next writer of the same name does, once that process is gone.
pub(crate) struct AtomicFile {
    w: Option<BufWriter<File>>,
    tmp: PathBuf,
    path: PathBuf,
}

impl AtomicFile {
    /// Starts writing `path`.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let tmp = temp_name(path)?;
        remove_stale(path);
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        Ok(AtomicFile {
            w: Some(BufWriter::with_capacity(1 << 16, file)),
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// Where to write the contents.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.w.as_mut().expect("not yet committed")
    }

    /// Puts the file under its final name.
    pub fn commit(mut self) -> io::Result<()> {
        let w = self.w.take().expect("committed once");
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&self.tmp, &self.path)?;
        sync_dir(&self.path);
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // After a commit the temporary name no longer exists; before one (an error, a
        // panic) the partial file goes.
        self.w = None;
        let _ = fs::remove_file(&self.tmp);
    }
}

/// `.NAME.PID.N.tmp` beside `path`: unique within the process, and hidden.
fn temp_name(path: &Path) -> io::Result<PathBuf> {
    static N: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the path names a directory, not a file",
        )
    })?;
    let n = N.fetch_add(1, Ordering::Relaxed);
    let tmp = format!(".{}.{}.{n}.tmp", name.to_string_lossy(), std::process::id());
    Ok(path.with_file_name(tmp))
}

/// Removes the temporary files of earlier writers of `path` whose process is gone
/// (killed before they could remove them), so that repeated crashes do not fill the
/// disk. Best effort: a file that cannot be listed or removed stays.
fn remove_stale(path: &Path) {
    let (Some(name), Some(dir)) = (path.file_name(), path.parent()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{}.", name.to_string_lossy());
    for entry in entries.flatten() {
        let file = entry.file_name();
        let writer = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix)?.strip_suffix(".tmp"))
            .and_then(|rest| {
                let (pid, n) = rest.split_once('.')?;
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                if !digits(pid) || !digits(n) {
                    return None;
                }
                pid.parse::<u32>().ok()
            });
        if writer.is_some_and(process_gone) && untouched_for(&entry, STALE_AFTER) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// How long a temporary file must have gone unwritten before it is taken for stale. A
/// writer in another PID namespace sharing the directory (a container on a shared
/// volume) looks gone from here, but it writes its file as it goes (a cache block per
/// chunk), so its file is never this old.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Whether the file was last written at least `age` ago.
fn untouched_for(entry: &fs::DirEntry, age: std::time::Duration) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|e| e >= age)
}

/// Whether no process `pid` runs. Only Linux can tell (from `/proc`); elsewhere every
/// writer is taken to be alive and its file stays.
fn process_gone(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        // Without `/proc` mounted, nothing can be told.
        pid != std::process::id()
            && Path::new("/proc/self").exists()
            && !Path::new(&format!("/proc/{pid}")).exists()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        false
    }
}

/// Makes a rename in `path`'s directory durable where the platform allows it.
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // The data is already safe under its final name; a directory that cannot be
        // opened or synced only weakens durability against power loss.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn failed_write_leaves_old_file_and_no_temporary() {
        let dir = std::env::temp_dir().join(format!("vf-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.vf");
        write_atomic(&path, |w| w.write_all(b"old")).unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "disk full");
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let left: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("m.vf")]);
        fs::remove_dir_all(&dir).unwrap();
    }

    /// Sets a file's modification time `age` in the past.
    fn set_age(path: &Path, age: std::time::Duration) {
        let when = std::time::SystemTime::now() - age;
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    /// A temporary file left by a killed writer goes at the next write of the same
    /// name; a live writer's, another name's, files not named by us, and a gone
    /// writer's file written recently (by a writer this machine cannot see) stay.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_dead_writers_temporary_goes_at_the_next_write() {
        let dir = std::env::temp_dir().join(format!("vf-stale-tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let own = std::process::id();
        let names = [
            format!(".m.vf.{dead}.0.tmp"),
            format!(".m.vf.{own}.999999.tmp"),
            format!(".n.vf.{dead}.0.tmp"),
            format!(".m.vf.{dead}.x.tmp"),
            format!(".m.vf.{dead}.tmp"),
            format!("m.vf.{dead}.0.tmp"),
        ];
        for name in &names {
            fs::write(dir.join(name), b"partial").unwrap();
            set_age(&dir.join(name), 2 * STALE_AFTER);
        }
        let recent = format!(".m.vf.{dead}.1.tmp");
        fs::write(dir.join(&recent), b"partial").unwrap();
        write_atomic(&dir.join("m.vf"), |w| w.write_all(b"new")).unwrap();
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut kept: Vec<String> = names[1..].to_vec();
        kept.push(recent);
        kept.push("m.vf".into());
        kept.sort();
        assert_eq!(left, kept);
        fs::remove_dir_all(&dir).unwrap();
    }
}
