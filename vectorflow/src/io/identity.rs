//! What a file is, as a [`Stream::source`](crate::train::Stream::source) reports it: the
//! key of a binary cache built from it, and what training compares before and after each
//! pass to notice a file that changed while it was read.

use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::path::Path;

/// Bytes hashed at each end of a file: enough to tell apart most edits that keep the
/// size, cheap enough to read before and after every pass.
const END_BYTES: u64 = 16 << 10;

/// `path (N bytes, modified T, file D:I changed C, ends H)`: the path, size and
/// modification time, on Unix the device, inode and status-change time, and a CRC-32 of
/// the first and last 16 KiB. A file replaced by other content of the same size and
/// modification time (as `cp -p`, `rsync -t`, `tar` or `touch -r` leave it) still
/// differs: its status-change time is set by the system, never copied, and its ends
/// most likely differ too. A file that cannot be read says why.
///
/// Empty (unknown) for what is not a regular file: a pipe such as `/dev/stdin` has no
/// identity to reuse a cache by, and opening it again to hash its start would take
/// rows from the stream.
pub(crate) fn file_source(path: &Path) -> String {
    match identity(path) {
        Ok(Some(id)) => format!("{} ({id})", path.display()),
        Ok(None) => String::new(),
        Err(e) => format!("{} (cannot be read: {e})", path.display()),
    }
}

fn identity(path: &Path) -> std::io::Result<Option<String>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    let len = meta.len();
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut id = format!("{len} bytes, modified {modified}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        id += &format!(
            ", file {}:{} changed {}.{:09}",
            meta.dev(),
            meta.ino(),
            meta.ctime(),
            meta.ctime_nsec()
        );
    }
    // The first block, then the last (or what of it the first did not cover).
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0u8; END_BYTES as usize];
    let head = crate::fsio::read_full(&mut file, &mut buf[..len.min(END_BYTES) as usize])?;
    crc.update(&buf[..head]);
    let tail_start = len.saturating_sub(END_BYTES).max(END_BYTES);
    if tail_start < len {
        file.seek(SeekFrom::Start(tail_start))?;
        let tail = crate::fsio::read_full(&mut file, &mut buf[..(len - tail_start) as usize])?;
        crc.update(&buf[..tail]);
    }
    Ok(Some(format!("{id}, ends {:08x}", crc.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_content_of_the_same_size_and_time_is_another_source() {
        let dir = std::env::temp_dir().join(format!("vf-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rows.svm");
        // Longer than both ends together: an edit in either end is seen.
        for edit in [0, 3 * END_BYTES as usize - 1] {
            let mut text = vec![b'1'; 3 * END_BYTES as usize];
            std::fs::write(&path, &text).unwrap();
            let when = std::fs::metadata(&path).unwrap().modified().unwrap();
            let before = file_source(&path);
            assert_eq!(file_source(&path), before, "reading it changes nothing");
            text[edit] = b'2';
            std::fs::write(&path, &text).unwrap();
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(when)
                .unwrap();
            let after = file_source(&path);
            assert_ne!(after, before);
            // The ends' CRC alone tells them apart, whatever the status-change time says.
            let ends = |s: &str| s.rsplit_once("ends ").map(|(_, crc)| crc.to_string());
            assert_ne!(ends(&after), ends(&before));
            assert!(ends(&after).is_some(), "{after}");
            assert!(after.starts_with(&path.display().to_string()), "{after}");
        }
        std::fs::remove_file(&path).unwrap();
        assert!(file_source(&path).contains("cannot be read"));
        assert_eq!(file_source(&dir), "", "not a regular file");
    }
}
