//! The streaming reader shared by the line-based sparse formats: chunk, split among
//! threads, parse, concatenate.

use super::chunk::{Chunk, Chunker};
use super::error::{LineError, ReadError};
use super::rows::SparseRows;
use std::io::Read;
use std::path::Path;

/// Chunks smaller than this are parsed on one thread by default: splitting costs more
/// than it saves.
const PARALLEL_MIN_BYTES: usize = 256 << 10;

pub(crate) mod sealed {
    use super::{LineError, SparseRows};

    /// How a format parses one line. Sealed: the formats are this crate's.
    pub trait ParseLine: Sync {
        /// Parses `line` (without its `\n`), appending at most one row to `out` with
        /// line number `line_no`.
        fn parse_line(
            &self,
            line: &[u8],
            line_no: u64,
            out: &mut SparseRows,
        ) -> Result<(), LineError>;
    }
}

/// A line-based sparse text format: [`LibSvm`](super::LibSvm) or [`Vw`](super::Vw).
pub trait SparseFormat: sealed::ParseLine + Clone {
    /// Opens `path` for streaming, chunk by chunk.
    fn open(&self, path: impl AsRef<Path>) -> Result<SparseReader<std::fs::File, Self>, ReadError> {
        Ok(SparseReader::new(Chunker::open(path)?, self.clone()))
    }

    /// Streams from any reader; `name` stands for it in error messages.
    fn reader<R: Read>(&self, reader: R, name: &str) -> SparseReader<R, Self> {
        SparseReader::new(Chunker::new(reader, name), self.clone())
    }

    /// Reads a whole file into memory, parsing in parallel.
    fn read_file(&self, path: impl AsRef<Path>) -> Result<SparseRows, ReadError> {
        self.open(path)?.read_all()
    }

    /// Parses text held in memory; `name` stands for it in error messages.
    fn parse_bytes(&self, text: &[u8], name: &str) -> Result<SparseRows, ReadError> {
        self.reader(text, name).read_all()
    }
}

/// A streaming reader of a sparse text format: bounded chunks of [`SparseRows`].
///
/// ```
/// use vectorflow::io::{LibSvm, SparseFormat, SparseRows};
/// let text = "1 1:0.5 3:2\n-1 2:1\n";
/// let mut reader = LibSvm::new().reader(text.as_bytes(), "<text>").chunk_bytes(8);
/// let mut rows = SparseRows::new();
/// let mut total = 0;
/// while reader.read_into(&mut rows)? {
///     total += rows.len(); // train on rows.to_rows() here
/// }
/// assert_eq!(total, 2);
/// # Ok::<(), vectorflow::io::ReadError>(())
/// ```
#[derive(Debug)]
pub struct SparseReader<R, F> {
    chunker: Chunker<R>,
    chunk: Chunk,
    /// The chunk after `chunk`, read while `chunk` is parsed on several threads.
    ahead: Chunk,
    ahead_read: Option<Result<bool, ReadError>>,
    format: F,
    threads: usize,
    parallel_min: usize,
    /// Per-thread rows of the pieces after the first, kept across chunks.
    pieces: Vec<Piece>,
}

#[derive(Debug, Default)]
struct Piece {
    rows: SparseRows,
    range: (usize, usize),
    outcome: Option<Result<u64, (u64, LineError)>>,
}

impl<R: Read, F: SparseFormat> SparseReader<R, F> {
    fn new(chunker: Chunker<R>, format: F) -> Self {
        SparseReader {
            chunker,
            chunk: Chunk::new(),
            ahead: Chunk::new(),
            ahead_read: None,
            format,
            threads: rayon::current_num_threads(),
            parallel_min: PARALLEL_MIN_BYTES,
            pieces: Vec::new(),
        }
    }

    /// Sets the chunk size in bytes (default [`DEFAULT_CHUNK_BYTES`](super::DEFAULT_CHUNK_BYTES)).
    pub fn chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunker = self.chunker.chunk_bytes(bytes);
        self
    }

    /// Sets the longest line accepted (default [`DEFAULT_MAX_LINE`](super::DEFAULT_MAX_LINE)).
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.chunker = self.chunker.max_line(bytes);
        self
    }

    /// Sets how many threads parse each chunk (default: rayon's thread count). Rows come
    /// out in input order whatever the count.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Sets the smallest chunk split among threads (default 256 KiB); smaller chunks are
    /// parsed on the calling thread.
    pub fn parallel_min(mut self, bytes: usize) -> Self {
        self.parallel_min = bytes;
        self
    }

    /// Replaces `out`'s rows with the next chunk's; `false` at the end of the input.
    ///
    /// `out` keeps its buffers, so reusing it allocates nothing in steady state.
    ///
    /// # Errors
    ///
    /// I/O errors and the first malformed line, naming file, line, field and what was
    /// expected.
    pub fn read_into(&mut self, out: &mut SparseRows) -> Result<bool, ReadError> {
        out.clear();
        while self.next_chunk()? {
            self.parse_chunk(out)?;
            if !out.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Reads the rest of the input into one [`SparseRows`].
    pub fn read_all(mut self) -> Result<SparseRows, ReadError> {
        let mut out = SparseRows::new();
        while self.next_chunk()? {
            self.parse_chunk(&mut out)?;
        }
        Ok(out)
    }

    /// Moves the next chunk into `self.chunk`: the one read ahead, if any.
    fn next_chunk(&mut self) -> Result<bool, ReadError> {
        match self.ahead_read.take() {
            Some(read) => {
                std::mem::swap(&mut self.chunk, &mut self.ahead);
                read
            }
            None => self.chunker.next_chunk(&mut self.chunk),
        }
    }

    /// Parses the current chunk, appending its rows to `out`.
    fn parse_chunk(&mut self, out: &mut SparseRows) -> Result<(), ReadError> {
        let text = self.chunk.text();
        let line0 = self.chunk.first_line() - 1;
        let file = &self.chunker.file().clone();
        let from = out.len();
        let k = if text.len() < self.parallel_min {
            1
        } else {
            self.threads
        };
        if k == 1 {
            parse_piece(&self.format, text, out).map_err(|(l, e)| e.at(file, line0 + l))?;
            out.shift_lines(from, line0);
            return Ok(());
        }
        // Piece 0 goes straight into `out`; pieces 1.. into their own rows.
        let bounds = split_lines(text, k);
        self.pieces.resize_with(k - 1, Piece::default);
        for (p, w) in self.pieces.iter_mut().zip(bounds.windows(2).skip(1)) {
            p.rows.clear();
            p.range = (w[0], w[1]);
            p.outcome = None;
        }
        let format = &self.format;
        let (chunker, ahead, ahead_read) =
            (&mut self.chunker, &mut self.ahead, &mut self.ahead_read);
        let mut first = None;
        let out0 = &mut *out;
        // In place: the calling thread reads the next chunk (reading is the serial part,
        // and the reader need not be `Send`) while the pool parses this one.
        rayon::in_place_scope(|s| {
            let first = &mut first;
            let piece0 = &text[..bounds[1]];
            s.spawn(move |_| *first = Some(parse_piece(format, piece0, out0)));
            for p in self.pieces.iter_mut() {
                s.spawn(move |_| {
                    let piece = &text[p.range.0..p.range.1];
                    p.outcome = Some(parse_piece(format, piece, &mut p.rows));
                });
            }
            *ahead_read = Some(chunker.next_chunk(ahead));
        });
        let first = first.expect("rayon::in_place_scope runs every spawned piece");
        let mut base = line0 + first.map_err(|(l, e)| e.at(file, line0 + l))?;
        out.shift_lines(from, line0);
        for p in &mut self.pieces {
            match p.outcome.take() {
                Some(Ok(lines)) => {
                    out.append(&p.rows, base);
                    base += lines;
                }
                Some(Err((l, e))) => return Err(e.at(file, base + l)),
                None => unreachable!("rayon::scope runs every spawned piece"),
            }
        }
        Ok(())
    }
}

/// `k + 1` bounds splitting `text` into `k` pieces of whole lines (some may be empty).
fn split_lines(text: &[u8], k: usize) -> Vec<usize> {
    let mut bounds = Vec::with_capacity(k + 1);
    bounds.push(0);
    for i in 1..k {
        let at = (text.len() * i / k).max(*bounds.last().unwrap_or(&0));
        let end = match memchr::memchr(b'\n', &text[at..]) {
            Some(j) => at + j + 1,
            None => text.len(),
        };
        bounds.push(end);
    }
    bounds.push(text.len());
    bounds
}

/// Parses whole lines, numbering rows from 1 within the piece; returns the line count,
/// or the failing line's number within the piece and the error.
fn parse_piece<F: sealed::ParseLine>(
    format: &F,
    text: &[u8],
    out: &mut SparseRows,
) -> Result<u64, (u64, LineError)> {
    let mut line_no = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        line_no += 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Err(e) = format.parse_line(line, line_no, out) {
            out.drop_open_row();
            return Err((line_no, e));
        }
        rest = next;
    }
    Ok(line_no)
}
