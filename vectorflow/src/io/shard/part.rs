//! The bytes of a file one rank reads, and what the readers need to read them: where the
//! lines start near a cut, and the true line numbers of a shard's errors.

use super::super::ReadError;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bytes `start..end` of a file, whole lines; its first `header` bytes (a CSV header
/// line) are read before them when `start` is past them.
#[derive(Clone, Debug)]
pub(crate) struct Part {
    pub path: PathBuf,
    pub name: Arc<str>,
    pub start: u64,
    pub end: u64,
    pub header: u64,
}

impl Part {
    /// A whole file, to its end whatever its length (a pipe, too).
    pub fn file(path: &Path) -> Part {
        Part::whole(path, u64::MAX)
    }

    /// A whole file of `len` bytes.
    pub fn whole(path: &Path, len: u64) -> Part {
        Part {
            path: path.to_path_buf(),
            name: path.display().to_string().into(),
            start: 0,
            end: len,
            header: 0,
        }
    }

    /// Opens the file at `start`.
    pub fn open(&self) -> Result<File, ReadError> {
        let io = |e| ReadError::io(&self.name, e);
        let mut file = File::open(&self.path).map_err(io)?;
        if self.start > 0 {
            file.seek(SeekFrom::Start(self.start)).map_err(io)?;
        }
        Ok(file)
    }

    /// `e` with its line counted from the file's first line rather than from the part's
    /// (after `replayed` lines read before the part: its header). The lines before the
    /// part are counted here, on an error only: reading them costs nothing otherwise.
    pub fn true_line(&self, e: ReadError, replayed: u64) -> ReadError {
        if self.start == 0 || e.line() == 0 {
            return e;
        }
        match lines_before(&self.path, self.start) {
            Ok(n) => e.shift_line(n.saturating_sub(replayed)),
            Err(io) => ReadError::io(&self.name, io),
        }
    }
}

/// The number of newlines in the first `end` bytes of `path`.
fn lines_before(path: &Path, end: u64) -> std::io::Result<u64> {
    let mut file = File::open(path)?.take(end);
    let mut buf = vec![0u8; 256 << 10];
    let mut lines = 0;
    loop {
        let n = crate::fsio::read_full(&mut file, &mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// The start of the first line beginning at or after byte `at`: `at` itself when it is
/// 0 or follows a `\n`, else just after the next `\n` (the file's length when none).
pub(crate) fn line_start_at(file: &mut File, at: u64) -> std::io::Result<u64> {
    if at == 0 {
        return Ok(0);
    }
    file.seek(SeekFrom::Start(at - 1))?;
    // Small reads first: a cut usually lands a few bytes before a line's end.
    let mut buf = vec![0u8; 4 << 10];
    let mut pos = at - 1;
    loop {
        let n = crate::fsio::read_full(file, &mut buf)?;
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(pos + i as u64 + 1);
        }
        if n < buf.len() {
            return Ok(pos + n as u64);
        }
        pos += n as u64;
        if buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
        }
    }
}
