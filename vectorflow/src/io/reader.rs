//! The streaming reader shared by the line-based sparse formats: chunk, split among
//! threads, parse, concatenate.

use super::error::{LineError, ReadError};
use super::line_chunks::{Chunk, Chunker};
use super::rows::SparseRows;
use super::shard::{self, line_start_at, Part};
use super::{Shard, ShardPlan};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// Chunks smaller than this are parsed on one thread by default: splitting costs more
/// than it saves.
const PARALLEL_MIN_BYTES: usize = 256 << 10;

/// A split chunk is cut into pieces of about this size, several per thread, so that a
/// thread slowed by other work (training, on a busy machine) takes fewer of them rather
/// than holding up the chunk.
const PIECE_BYTES: usize = 512 << 10;

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

        /// Whether the format's ids are folded into a network's input (hashes, or
        /// folding asked for).
        fn folds(&self) -> bool;

        /// What the format writes for stored id 0.
        fn first_id(&self) -> u32;
    }
}

/// A line-based sparse text format: [`LibSvm`](super::LibSvm) or [`Vw`](super::Vw).
///
/// Its `Debug` text lists every option: a [`SparseStream`](super::SparseStream)'s
/// source includes it, so a binary cache read with other options is rebuilt.
pub trait SparseFormat: sealed::ParseLine + Clone + std::fmt::Debug {
    /// Opens `path` for streaming, chunk by chunk.
    fn open(&self, path: impl AsRef<Path>) -> Result<SparseReader<std::fs::File, Self>, ReadError> {
        open_part(self, Part::file(path.as_ref()), None)
    }

    /// Opens rank `shard.rank()`'s part of the file `path` (see [`Shard`]): the lines
    /// that start in its share of the file's bytes. Errors name the file's true line
    /// numbers; the rows' [`lines`](SparseRows::lines) count from the shard's first line.
    fn open_shard(
        &self,
        path: impl AsRef<Path>,
        shard: Shard,
    ) -> Result<SparseReader<std::fs::File, Self>, ReadError> {
        let (part, plan) = shard::file_part(path.as_ref(), shard, false)?;
        open_part(self, part, Some(plan))
    }

    /// Opens `path` as a [`Stream`](crate::train::Stream) for `Trainer::fit_stream`,
    /// reopened for each pass.
    fn stream(&self, path: impl AsRef<Path>) -> Result<super::SparseStream<Self>, ReadError>
    where
        Self: Send + 'static,
    {
        super::SparseStream::open(self, path.as_ref(), None)
    }

    /// Opens rank `shard.rank()`'s part of `path` as a [`Stream`](crate::train::Stream)
    /// (see [`Shard`]): of a file, the lines that start in its share of the bytes; of a
    /// directory, its share of the files, each read whole.
    fn stream_shard(
        &self,
        path: impl AsRef<Path>,
        shard: Shard,
    ) -> Result<super::SparseStream<Self>, ReadError>
    where
        Self: Send + 'static,
    {
        super::SparseStream::open(self, path.as_ref(), Some(shard))
    }

    /// Streams from any reader; `name` stands for it in error messages.
    fn reader<R: Read>(&self, reader: R, name: &str) -> SparseReader<R, Self> {
        SparseReader::new(Chunker::new(reader, name), self.clone())
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
    /// The input's length in bytes when known (a file), to size `read_all`'s output.
    input_len: u64,
    /// The part of a file read (for a shard's true line numbers), if a file.
    part: Option<Part>,
    /// The shard's plan, when opened by [`SparseFormat::open_shard`].
    plan: Option<ShardPlan>,
    /// Whether no chunk has been read: `read_all` then reads the part in ranges.
    fresh: bool,
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
            input_len: 0,
            part: None,
            plan: None,
            fresh: false,
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

    /// The input's name in error messages.
    pub(crate) fn file_name(&self) -> &Arc<str> {
        self.chunker.file()
    }

    /// Replaces `out`'s rows with the next chunk's; `false` at the end of the input.
    ///
    /// `out` keeps its buffers, so reusing it allocates nothing in steady state.
    ///
    /// # Errors
    ///
    /// I/O errors and the first malformed line, naming file, line, field and what was
    /// expected. After an error `out` holds an unspecified part of the chunk.
    pub fn read_into(&mut self, out: &mut SparseRows) -> Result<bool, ReadError> {
        self.read_into_part(out).map_err(|e| self.true_line(e))
    }

    fn read_into_part(&mut self, out: &mut SparseRows) -> Result<bool, ReadError> {
        out.clear();
        self.mark(out);
        while self.next_chunk()? {
            self.parse_chunk(out)?;
            if !out.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Every remaining row, in memory: the rest of the input into one [`SparseRows`],
    /// whatever its size. A file opened with [`SparseFormat::open`] and not read from yet
    /// is parsed in parallel, one line-aligned byte range of it per thread.
    ///
    /// ```no_run
    /// use vectorflow::io::{LibSvm, SparseFormat};
    /// let rows = LibSvm::new().open("train.svm")?.read_all()?;
    /// println!("{} rows", rows.len());
    /// # Ok::<(), vectorflow::io::ReadError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read_into`](Self::read_into).
    pub fn read_all(mut self) -> Result<SparseRows, ReadError> {
        self.read_all_part().map_err(|e| self.true_line(e))
    }

    /// The shard's plan, when opened by [`SparseFormat::open_shard`].
    pub fn shard(&self) -> Option<&ShardPlan> {
        self.plan.as_ref()
    }

    /// `e` with the line number counted from the file's first line.
    fn true_line(&self, e: ReadError) -> ReadError {
        match &self.part {
            Some(part) => part.true_line(e, 0),
            None => e,
        }
    }

    fn read_all_part(&mut self) -> Result<SparseRows, ReadError> {
        if let (Some(part), true) = (&self.part, self.fresh) {
            if self.threads > 1 && self.input_len >= RANGES_MIN_BYTES {
                let sizes = self.chunker.sizes();
                return read_file_ranges(&self.format, part, self.threads, sizes);
            }
        }
        let mut out = SparseRows::new();
        self.mark(&mut out);
        let mut first = true;
        while self.next_chunk()? {
            let bytes = self.chunk.text().len() as u64;
            self.parse_chunk(&mut out)?;
            if std::mem::take(&mut first) && bytes > 0 && bytes < self.input_len {
                reserve_like(&mut out, bytes, self.input_len);
            }
        }
        Ok(out)
    }

    /// Records in `out` where its rows are read and whether their ids fold.
    fn mark(&self, out: &mut SparseRows) {
        let f = &self.format;
        out.set_origin(self.chunker.file(), f.folds(), f.first_id());
    }

    /// Moves the next chunk into `self.chunk`: the one read ahead, if any.
    fn next_chunk(&mut self) -> Result<bool, ReadError> {
        self.fresh = false;
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
        let k = if text.len() < self.parallel_min || self.threads == 1 {
            1
        } else {
            self.threads.max(text.len().div_ceil(PIECE_BYTES))
        };
        if k == 1 {
            parse_piece(&self.format, text, out).map_err(|(l, e)| e.at(file, line0 + l))?;
            out.shift_lines(from, line0);
            return Ok(());
        }
        // Piece 0 goes straight into `out`; pieces 1.. into their own rows.
        let bounds = split_lines(text, k);
        self.pieces.resize_with(k - 1, Piece::default);
        let (fold, first_id) = (self.format.folds(), self.format.first_id());
        for (p, w) in self.pieces.iter_mut().zip(bounds.windows(2).skip(1)) {
            p.rows.clear();
            // Each piece counts ids as the file does, so appending it changes nothing.
            p.rows.set_origin(file, fold, first_id);
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

/// Files smaller than this are read as one stream (whose chunks are still split among
/// threads) rather than as one range per thread.
const RANGES_MIN_BYTES: u64 = 16 << 20;

/// [`SparseReader::read_all`] of a file's part on `threads` ranges, with the reader's
/// chunk size and longest line; line numbers count from the part's first line.
/// Independent ranges, rather than chunks split among threads, need no barrier per
/// chunk: a thread that is preempted (on a busy machine) delays only its own range.
fn read_file_ranges<F: SparseFormat>(
    format: &F,
    part: &Part,
    threads: usize,
    sizes: (usize, usize),
) -> Result<SparseRows, ReadError> {
    let (path, name) = (&part.path, &part.name);
    let io = |e| ReadError::io(name, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len().min(part.end);
    let threads = threads.max(1) as u64;
    let mut bounds = vec![part.start];
    for k in 1..threads {
        let at = part.start + (len.saturating_sub(part.start)) * k / threads;
        let at = line_start_at(&mut file, at).map_err(io)?.min(len);
        bounds.push(at.max(*bounds.last().unwrap_or(&0)));
    }
    bounds.push(len.max(part.start));
    let mut ranges: Vec<Option<Result<(SparseRows, u64), ReadError>>> =
        (0..threads).map(|_| None).collect();
    rayon::scope(|s| {
        for (slot, w) in ranges.iter_mut().zip(bounds.windows(2)) {
            let (start, end, name) = (w[0], w[1], name.clone());
            s.spawn(move |_| *slot = Some(read_range(format, path, name, (start, end), sizes)));
        }
    });
    let mut out = SparseRows::new();
    let mut base = 0;
    for r in ranges {
        match r {
            Some(Ok((rows, lines))) => {
                if out.is_empty() {
                    out = rows;
                    out.shift_lines(0, base);
                } else {
                    out.append(&rows, base);
                }
                base += lines;
            }
            Some(Err(e)) => return Err(e.shift_line(base)),
            None => unreachable!("rayon::scope runs every spawned range"),
        }
    }
    Ok(out)
}

/// Reads the bytes `start..end` of `path` (whole lines), with line numbers relative to
/// the range; also gives the range's line count.
fn read_range<F: SparseFormat>(
    format: &F,
    path: &Path,
    name: Arc<str>,
    (start, end): (u64, u64),
    (chunk_bytes, max_line): (usize, usize),
) -> Result<(SparseRows, u64), ReadError> {
    use std::io::{Seek, SeekFrom};
    let io = |e| ReadError::io(&name, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    let chunker = Chunker::with_name(file, name.clone())
        .limit(end - start)
        .chunk_bytes(chunk_bytes)
        .max_line(max_line);
    let mut reader = SparseReader::new(chunker, format.clone()).threads(1);
    reader.input_len = end - start;
    let mut rows = SparseRows::new();
    reader.mark(&mut rows);
    let mut first = true;
    while reader.next_chunk()? {
        let bytes = reader.chunk.text().len() as u64;
        reader.parse_chunk(&mut rows)?;
        if std::mem::take(&mut first) && bytes > 0 && bytes < reader.input_len {
            reserve_like(&mut rows, bytes, reader.input_len);
        }
    }
    Ok((rows, reader.chunker.lines_read()))
}

/// Reserves room for `total` bytes of input at the density of the first `bytes`, with 5%
/// slack, rather than copying the rows at every doubling.
fn reserve_like(rows: &mut SparseRows, bytes: u64, total: u64) {
    let scale = |n: usize| (n as u128 * u128::from(total) * 21 / 20 / u128::from(bytes)) as usize;
    rows.reserve(scale(rows.len()), scale(rows.nnz()));
}

/// Opens `part` of a file for streaming; `plan`: the shard it is.
pub(crate) fn open_part<F: SparseFormat>(
    format: &F,
    part: Part,
    plan: Option<ShardPlan>,
) -> Result<SparseReader<std::fs::File, F>, ReadError> {
    let file = part.open()?;
    let len = file.metadata().map_or(0, |m| m.len());
    let chunker = Chunker::with_name(file, part.name.clone()).limit(part.end - part.start);
    let mut reader = SparseReader::new(chunker, format.clone());
    reader.input_len = len.min(part.end) - part.start.min(len);
    reader.part = Some(part);
    reader.plan = plan;
    reader.fresh = true;
    Ok(reader)
}

/// `k + 1` bounds splitting `text` into `k` pieces of whole lines (some may be empty).
pub(crate) fn split_lines(text: &[u8], k: usize) -> Vec<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{LibSvm, Vw, DEFAULT_CHUNK_BYTES, DEFAULT_MAX_LINE};

    const SIZES: (usize, usize) = (DEFAULT_CHUNK_BYTES, DEFAULT_MAX_LINE);

    #[test]
    fn file_ranges_agree_with_one_stream() {
        let path = std::env::temp_dir().join(format!("vf_ranges_{}.txt", std::process::id()));
        let mut text = String::new();
        for i in 0..500 {
            text.push_str(&format!("{} {}:1 |a x{}\n", i % 2, i % 9 + 1, i % 4));
            if i % 7 == 0 {
                text.push('\n');
            }
        }
        for bad in [None, Some(3), Some(250), Some(560)] {
            let mut t = text.clone();
            if let Some(at) = bad {
                let cut = t
                    .match_indices('\n')
                    .nth(at)
                    .map_or(t.len(), |(i, _)| i + 1);
                t.insert_str(cut, "oops\n");
            }
            std::fs::write(&path, &t).unwrap();
            let vw_text = t.replace(" 1:1", "");
            for threads in [1, 2, 3, 7] {
                let one = LibSvm::new().parse_bytes(t.as_bytes(), &path.display().to_string());
                let ranges = read_file_ranges(&LibSvm::new(), &Part::file(&path), threads, SIZES);
                match (one, ranges) {
                    // Debug text: also the file name, folding and how ids are named.
                    (Ok(a), Ok(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
                    (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                    (a, b) => panic!("{a:?} vs {b:?}"),
                }
                std::fs::write(&path, &vw_text).unwrap();
                let one = Vw::new().parse_bytes(vw_text.as_bytes(), &path.display().to_string());
                let ranges = read_file_ranges(&Vw::new(), &Part::file(&path), threads, SIZES);
                assert_eq!(format!("{one:?}"), format!("{ranges:?}"));
                std::fs::write(&path, &t).unwrap();
            }
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn ranges_of_a_part_agree_with_its_text_and_errors_name_the_true_line() {
        let path = std::env::temp_dir().join(format!("vf_part_{}.txt", std::process::id()));
        let mut text = String::new();
        for i in 0..300 {
            let line = if i == 200 {
                "oops".into()
            } else {
                format!("{} {}:1", i % 2, i % 9 + 1)
            };
            text.push_str(&line);
            text.push_str(if i % 3 == 0 { "\r\n" } else { "\n" });
        }
        std::fs::write(&path, &text).unwrap();
        let starts: Vec<u64> = text
            .match_indices('\n')
            .map(|(i, _)| i as u64 + 1)
            .collect();
        for (a, b) in [(0, 50), (17, 150), (100, 250), (199, 299), (201, 299)] {
            let part = Part {
                start: starts[a],
                end: starts[b],
                ..Part::file(&path)
            };
            let piece = &text.as_bytes()[part.start as usize..part.end as usize];
            let one = LibSvm::new().parse_bytes(piece, &path.display().to_string());
            for threads in [1, 2, 3, 7] {
                let ranges = read_file_ranges(&LibSvm::new(), &part, threads, SIZES);
                assert_eq!(
                    format!("{one:?}"),
                    format!("{ranges:?}"),
                    "{a}..{b} on {threads}"
                );
            }
            // Line 201 of the file: the 201st line, after the 200 before it.
            if let Err(e) = one {
                assert_eq!(part.true_line(e, 0).line(), 201, "{a}..{b}");
            }
        }
        std::fs::remove_file(&path).unwrap();
    }
}
