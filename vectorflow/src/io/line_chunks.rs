//! Bounded, reusable byte chunks of a text stream that end on a line boundary.

use super::error::ReadError;
use std::io::{ErrorKind, Read};
use std::sync::Arc;

/// Default chunk size: 4 MiB. Big enough that per-chunk costs (a read call, the split
/// among threads) vanish next to parsing, small enough to stay in L2/L3-friendly pieces
/// per thread and to bound a streaming reader's memory to a few chunks.
pub const DEFAULT_CHUNK_BYTES: usize = 4 << 20;

/// Default longest line: 64 MiB. The widest real sparse rows (dense LIBSVM exports with a
/// million columns) take about 12 MB; 64 MiB admits them with room to spare while still
/// bounding the buffer a corrupt file without newlines can make us allocate.
pub const DEFAULT_MAX_LINE: usize = 64 << 20;

/// A chunk of whole lines, read by a [`Chunker`]. Reuse one across calls: its buffer is
/// kept, so steady-state reading allocates nothing.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Always initialised up to its length; `len` bytes of it are the chunk.
    buf: Vec<u8>,
    len: usize,
    first_line: u64,
}

impl Chunk {
    /// An empty chunk (its buffer is allocated on first use).
    pub fn new() -> Chunk {
        Chunk::default()
    }

    /// The chunk's bytes: whole lines, each ending in `\n` except perhaps the last line of
    /// the input.
    pub fn text(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The 1-based number of the chunk's first line in the input.
    pub fn first_line(&self) -> u64 {
        self.first_line
    }
}

/// Splits any [`Read`] into [`Chunk`]s of about `chunk_bytes` that end on a line boundary.
///
/// A line longer than the chunk size makes its chunk grow, up to `max_line` bytes; a
/// longer line is an error naming it, never an unbounded buffer.
///
/// ```
/// use vectorflow::io::{Chunk, Chunker};
/// let mut chunker = Chunker::new(&b"a\nb\nc"[..], "<bytes>").chunk_bytes(2);
/// let mut chunk = Chunk::new();
/// let mut seen = Vec::new();
/// while chunker.next_chunk(&mut chunk)? {
///     seen.push((chunk.first_line(), chunk.text().to_vec()));
/// }
/// assert_eq!(seen, [(1, b"a\n".to_vec()), (2, b"b\n".to_vec()), (3, b"c".to_vec())]);
/// # Ok::<(), vectorflow::io::ReadError>(())
/// ```
#[derive(Debug)]
pub struct Chunker<R> {
    reader: R,
    file: Arc<str>,
    chunk_bytes: usize,
    max_line: usize,
    /// The partial line after the last chunk's final newline.
    carry: Vec<u8>,
    next_line: u64,
    eof: bool,
    /// Bytes still to read before the input counts as over (a shard's range).
    left: u64,
}

impl Chunker<std::fs::File> {
    /// Opens a file; its path names it in error messages.
    pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, ReadError> {
        let path = path.as_ref();
        let name: Arc<str> = path.display().to_string().into();
        let file = std::fs::File::open(path).map_err(|e| ReadError::io(&name, e))?;
        Ok(Chunker::with_name(file, name))
    }
}

impl<R: Read> Chunker<R> {
    /// Reads `reader`; `name` stands for it in error messages (`<stdin>`, a URL, ...).
    pub fn new(reader: R, name: &str) -> Self {
        Chunker::with_name(reader, name.into())
    }

    pub(crate) fn with_name(reader: R, file: Arc<str>) -> Self {
        Chunker {
            reader,
            file,
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            max_line: DEFAULT_MAX_LINE,
            carry: Vec::new(),
            next_line: 1,
            eof: false,
            left: u64::MAX,
        }
    }

    /// Reads at most `bytes` of the input: a shard's range of a file.
    pub(crate) fn limit(mut self, bytes: u64) -> Self {
        self.left = bytes;
        self
    }

    /// Sets the chunk size in bytes (at least 1; default [`DEFAULT_CHUNK_BYTES`]).
    pub fn chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// As [`chunk_bytes`](Self::chunk_bytes), in place.
    pub(crate) fn set_chunk_bytes(&mut self, bytes: usize) {
        self.chunk_bytes = bytes.max(1);
    }

    /// The chunk size and the longest line accepted.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.chunk_bytes, self.max_line)
    }

    /// Sets the longest line accepted beyond the chunk size (default
    /// [`DEFAULT_MAX_LINE`]).
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// The number of lines in the chunks read so far.
    pub fn lines_read(&self) -> u64 {
        self.next_line - 1
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The name used in error messages.
    pub fn file(&self) -> &Arc<str> {
        &self.file
    }

    /// Reads the next chunk into `chunk`; `false` at the end of the input.
    ///
    /// # Errors
    ///
    /// An I/O error, or a line longer than the maximum (naming its line number).
    pub fn next_chunk(&mut self, chunk: &mut Chunk) -> Result<bool, ReadError> {
        // Start small and double up to the chunk size, so short inputs stay cheap.
        let start = self.chunk_bytes.min(64 << 10).max(self.carry.len());
        if chunk.buf.len() < start {
            chunk.buf.resize(start, 0);
        }
        chunk.first_line = self.next_line;
        chunk.buf[..self.carry.len()].copy_from_slice(&self.carry);
        let mut len = self.carry.len();
        self.carry.clear();
        // Where to look for the last newline: bytes before it were searched already.
        let mut search_from = 0;
        let cut = loop {
            while len < chunk.buf.len() && !self.eof {
                let room = (chunk.buf.len() - len).min(self.left.try_into().unwrap_or(usize::MAX));
                if room == 0 {
                    self.eof = true;
                    break;
                }
                match self.reader.read(&mut chunk.buf[len..len + room]) {
                    Ok(0) => self.eof = true,
                    Ok(n) => {
                        len += n;
                        self.left -= n as u64;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(ReadError::io(&self.file, e)),
                }
            }
            if self.eof {
                break len;
            }
            if len < self.chunk_bytes {
                let grown = (chunk.buf.len() * 2).min(self.chunk_bytes);
                chunk.buf.resize(grown, 0);
                continue;
            }
            if let Some(i) = memchr::memrchr(b'\n', &chunk.buf[search_from..len]) {
                break search_from + i + 1;
            }
            // No newline anywhere: the chunk is one partial line, the chunk's first.
            if len > self.max_line {
                return Err(ReadError::parse(
                    &self.file,
                    chunk.first_line,
                    None,
                    format!("a line of at most {} bytes", self.max_line),
                    None,
                )
                .with_found_text(format!("{len} bytes without a newline")));
            }
            search_from = len;
            let grown = (chunk.buf.len() * 2).min(self.max_line + 1);
            chunk.buf.resize(grown.max(chunk.buf.len() + 1), 0);
        };
        self.carry.extend_from_slice(&chunk.buf[cut..len]);
        chunk.len = cut;
        self.next_line += memchr::memchr_iter(b'\n', &chunk.buf[..cut]).count() as u64;
        Ok(cut > 0)
    }
}
