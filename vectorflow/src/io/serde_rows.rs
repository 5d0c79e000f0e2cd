//! CSV and JSON lines into the user's row type via serde, borrowing text from the chunk.

use super::error::ReadError;
use super::line_chunks::{Chunk, Chunker, DEFAULT_CHUNK_BYTES};
use super::shard::{self, Part};
use super::{Shard, ShardPlan};
use serde::de::DeserializeSeed;
use serde::Deserialize;
use std::io::Read;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

/// A streaming CSV reader: chunks of rows of the caller's `#[derive(Deserialize)]` type,
/// whose `&str` fields borrow from the reader's buffers. [`read_all`](Self::read_all)
/// gives every row at once; [`next_rows`](Self::next_rows) one chunk (about 4 MiB).
///
/// The first record is the header; columns are matched to fields by name. Columns the
/// row type has no field for are ignored by default; `#[serde(deny_unknown_fields)]` on
/// the row type makes them errors naming the file, the line and the column. Quoted
/// fields may hold newlines. Each chunk is about [`DEFAULT_CHUNK_BYTES`] of records (settable);
/// a record longer than the maximum ([`DEFAULT_MAX_LINE`](super::DEFAULT_MAX_LINE)) is an
/// error naming its line, not an unbounded buffer. Parsing runs on the calling thread
/// (quoted newlines keep a CSV file from being split at arbitrary line boundaries).
///
/// ```
/// use vectorflow::io::CsvReader;
/// #[derive(serde::Deserialize)]
/// struct Flight<'a> {
///     carrier: &'a str,
///     distance: f32,
/// }
/// let text = "carrier,distance\nUA,1400\nB6,1089\n";
/// let mut reader = CsvReader::new(text.as_bytes(), "<text>")?;
/// let mut total = 0.0;
/// while let Some(rows) = reader.next_rows::<Flight>()? {
///     total += rows.iter().map(|f| f.distance).sum::<f32>(); // train on &rows here
/// }
/// assert_eq!(total, 2489.0);
/// # Ok::<(), vectorflow::io::ReadError>(())
/// ```
pub struct CsvReader<R> {
    reader: csv::Reader<Bounded<R>>,
    file: Arc<str>,
    headers: csv::ByteRecord,
    /// Records of the current chunk; reused, so steady state allocates only the rows.
    records: Vec<csv::ByteRecord>,
    chunk_bytes: usize,
    /// The part of a file read, for a shard's true line numbers.
    part: Option<Part>,
    plan: Option<ShardPlan>,
}

impl<R> std::fmt::Debug for CsvReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvReader")
            .field("file", &self.file)
            .finish()
    }
}

/// Counts the bytes read since the last record boundary and fails past a limit, so that
/// no record makes the CSV parser buffer without bound. For a shard, gives the file's
/// header line first, then at most `left` bytes of the input.
struct Bounded<R> {
    inner: R,
    read: u64,
    mark: u64,
    limit: u64,
    exceeded: bool,
    head: std::io::Cursor<Vec<u8>>,
    left: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read - self.mark > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("record too long"));
        }
        let mut n = self.head.read(buf)?;
        if n == 0 {
            let room = buf.len().min(self.left.try_into().unwrap_or(usize::MAX));
            n = self.inner.read(&mut buf[..room])?;
            self.left -= n as u64;
        }
        self.read += n as u64;
        Ok(n)
    }
}

impl CsvReader<std::fs::File> {
    /// Opens a CSV file with a header line.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        CsvReader::open_part(Part::file(path.as_ref()))
    }

    /// Opens rank `shard.rank()`'s part of a CSV file (see [`Shard`]): its header line,
    /// then the records that start in its share of the bytes after it. Records must be
    /// one line each (no line breaks in quoted fields). Errors name the file's true
    /// line numbers.
    pub fn open_shard(path: impl AsRef<Path>, shard: Shard) -> Result<Self, ReadError> {
        let (part, plan) = shard::file_part(path.as_ref(), shard, true)?;
        let mut reader = CsvReader::open_part(part)?;
        reader.plan = Some(plan);
        Ok(reader)
    }

    /// Opens `part` of a file: its header, then its bytes.
    pub(crate) fn open_part(part: Part) -> Result<Self, ReadError> {
        let mut head = Vec::new();
        if part.start > 0 && part.header > 0 {
            let io = |e| ReadError::io(&part.name, e);
            if part.header > super::DEFAULT_MAX_LINE as u64 {
                let e = format!("a header of at most {} bytes", super::DEFAULT_MAX_LINE);
                return Err(ReadError::parse(&part.name, 1, None, e, None)
                    .with_found_text(format!("{} bytes", part.header)));
            }
            let file = std::fs::File::open(&part.path).map_err(io)?;
            file.take(part.header).read_to_end(&mut head).map_err(io)?;
        }
        let bounded = Bounded {
            inner: part.open()?,
            read: 0,
            mark: 0,
            limit: super::DEFAULT_MAX_LINE as u64,
            exceeded: false,
            head: std::io::Cursor::new(head),
            left: part.end - part.start,
        };
        let mut reader = CsvReader::from_bounded(csv::ReaderBuilder::new(), bounded, &part.name)?;
        reader.part = Some(part);
        Ok(reader)
    }

    /// The shard's plan, when opened by [`open_shard`](Self::open_shard).
    pub fn shard(&self) -> Option<&ShardPlan> {
        self.plan.as_ref()
    }
}

impl<R: Read> CsvReader<R> {
    /// Reads CSV with a header line from `reader`; `name` stands for it in errors.
    pub fn new(reader: R, name: &str) -> Result<Self, ReadError> {
        CsvReader::with_builder(csv::ReaderBuilder::new(), reader, name)
    }

    /// As [`new`](Self::new), with the `csv` crate's options (delimiter, quoting,
    /// comments, ...). Headers are always read.
    pub fn with_builder(
        builder: csv::ReaderBuilder,
        reader: R,
        name: &str,
    ) -> Result<Self, ReadError> {
        let bounded = Bounded {
            inner: reader,
            read: 0,
            mark: 0,
            limit: super::DEFAULT_MAX_LINE as u64,
            exceeded: false,
            head: std::io::Cursor::new(Vec::new()),
            left: u64::MAX,
        };
        CsvReader::from_bounded(builder, bounded, name)
    }

    fn from_bounded(
        mut builder: csv::ReaderBuilder,
        bounded: Bounded<R>,
        name: &str,
    ) -> Result<Self, ReadError> {
        let mut this = CsvReader {
            reader: builder.has_headers(true).from_reader(bounded),
            file: name.into(),
            headers: csv::ByteRecord::new(),
            records: Vec::new(),
            chunk_bytes: DEFAULT_CHUNK_BYTES,
            part: None,
            plan: None,
        };
        this.headers = match this.reader.byte_headers() {
            Ok(h) => h.clone(),
            Err(e) => return Err(this.csv_error(e)),
        };
        this.mark();
        Ok(this)
    }

    /// Sets the size of a chunk of records in bytes (default [`DEFAULT_CHUNK_BYTES`]).
    pub fn chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunk_bytes = bytes.max(1);
        self
    }

    /// Sets the longest record accepted, in bytes (default
    /// [`DEFAULT_MAX_LINE`](super::DEFAULT_MAX_LINE)).
    pub fn max_record(mut self, bytes: usize) -> Self {
        self.reader.get_mut().limit = bytes.max(1) as u64;
        self
    }

    /// The column names.
    pub fn headers(&self) -> impl Iterator<Item = &[u8]> {
        self.headers.iter()
    }

    fn mark(&mut self) {
        let at = self.reader.position().byte();
        self.reader.get_mut().mark = at;
    }

    /// The next chunk of rows, `None` at the end of the input.
    ///
    /// # Errors
    ///
    /// I/O errors, malformed CSV and values that do not deserialize, naming the file,
    /// the line, the column and what was expected.
    pub fn next_rows<'a, T: Deserialize<'a>>(&'a mut self) -> Result<Option<Vec<T>>, ReadError> {
        let used = self.fill_records()?;
        if used == 0 {
            return Ok(None);
        }
        let (records, headers) = (&self.records[..used], &self.headers);
        let mut rows = Vec::with_capacity(used);
        for r in records {
            match r.deserialize(Some(headers)) {
                Ok(row) => rows.push(row),
                Err(e) => return Err(self.true_line(deserialize_error(&self.file, headers, r, e))),
            }
        }
        Ok(Some(rows))
    }

    /// The records of the next chunk, `None` at the end of the input.
    pub(crate) fn next_records(&mut self) -> Result<Option<&[csv::ByteRecord]>, ReadError> {
        let used = self.fill_records()?;
        Ok((used > 0).then(|| &self.records[..used]))
    }

    /// Reads the next chunk's records into `records`; how many, 0 at the end.
    fn fill_records(&mut self) -> Result<usize, ReadError> {
        let mut used = 0;
        let mut bytes = 0;
        while bytes < self.chunk_bytes {
            if used == self.records.len() {
                self.records.push(csv::ByteRecord::new());
            }
            match self.reader.read_byte_record(&mut self.records[used]) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(self.true_line(self.csv_error(e))),
            }
            self.mark();
            bytes += self.records[used].as_slice().len() + self.records[used].len();
            used += 1;
        }
        Ok(used)
    }

    /// The name that stands for the input in errors.
    pub(crate) fn file(&self) -> &Arc<str> {
        &self.file
    }

    /// Every remaining row, in memory: all the records are read, whatever their size, and
    /// the rows borrow them. For inputs larger than memory, use
    /// [`next_rows`](Self::next_rows) chunk by chunk.
    ///
    /// ```
    /// use vectorflow::io::CsvReader;
    /// #[derive(serde::Deserialize)]
    /// struct Flight<'a> {
    ///     carrier: &'a str,
    ///     distance: f32,
    /// }
    /// let text = "carrier,distance\nUA,1400\nB6,1089\n";
    /// let mut reader = CsvReader::new(text.as_bytes(), "<text>")?.chunk_bytes(8);
    /// let rows: Vec<Flight> = reader.read_all()?;
    /// assert_eq!(rows.len(), 2);
    /// # Ok::<(), vectorflow::io::ReadError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`next_rows`](Self::next_rows).
    pub fn read_all<'a, T: Deserialize<'a>>(&'a mut self) -> Result<Vec<T>, ReadError> {
        self.chunk_bytes = usize::MAX;
        Ok(self.next_rows()?.unwrap_or_default())
    }

    fn csv_error(&self, e: csv::Error) -> ReadError {
        let bounded = self.reader.get_ref();
        if bounded.exceeded {
            let line = self.reader.position().line();
            return ReadError::parse(
                &self.file,
                line,
                None,
                format!("a record of at most {} bytes", bounded.limit),
                None,
            )
            .with_found_text("a longer one".into());
        }
        let line = e.position().map_or(0, |p| p.line());
        match e.into_kind() {
            csv::ErrorKind::Io(io) => ReadError::io(&self.file, io),
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => ReadError::parse(
                &self.file,
                line,
                None,
                format!("{expected_len} fields, as in the header"),
                None,
            )
            .with_found_text(format!("{len}")),
            csv::ErrorKind::Utf8 { err, .. } => ReadError::message(
                &self.file,
                line,
                Some(self.column(err.field())),
                "invalid UTF-8".into(),
            ),
            other => ReadError::message(&self.file, line, None, format!("{:?}", other)),
        }
    }

    /// `e` with its line counted from the file's first line (a shard's part of a file
    /// is read after its header line).
    fn true_line(&self, e: ReadError) -> ReadError {
        match &self.part {
            Some(part) => part.true_line(e, u64::from(part.header > 0)),
            None => e,
        }
    }

    fn column(&self, i: usize) -> String {
        column_name(&self.headers, i)
    }
}

fn column_name(headers: &csv::ByteRecord, i: usize) -> String {
    match headers.get(i) {
        Some(name) => format!("column `{}`", String::from_utf8_lossy(name)),
        None => format!("column {}", i + 1),
    }
}

fn deserialize_error(
    file: &Arc<str>,
    headers: &csv::ByteRecord,
    record: &csv::ByteRecord,
    e: csv::Error,
) -> ReadError {
    let line = record.position().map_or(0, |p| p.line());
    let e = match e.into_kind() {
        csv::ErrorKind::Deserialize { err, .. } => err,
        other => return ReadError::message(file, line, None, format!("{other:?}")),
    };
    // serde names an unknown field (`deny_unknown_fields`) only in its message.
    let unknown = e
        .kind()
        .to_string()
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| format!("column `{name}`"));
    let field = e
        .field()
        .map(|i| column_name(headers, i as usize))
        .or(unknown);
    let found = e.field().and_then(|i| record.get(i as usize));
    let msg = match found {
        Some(v) => format!(
            "{} (found `{}`)",
            e.kind(),
            super::error::escape(&v[..v.len().min(64)])
        ),
        None => e.kind().to_string(),
    };
    ReadError::message(file, line, field, msg)
}

/// A streaming JSON lines reader: one JSON object per line into the caller's
/// `#[derive(Deserialize)]` type, whose `&str` fields borrow from the chunk.
/// [`read_all`](Self::read_all) gives every row at once; [`next_rows`](Self::next_rows)
/// one chunk (about 4 MiB).
///
/// Blank lines and a byte-order mark at the start are skipped. [`next_rows_parallel`](Self::next_rows_parallel) splits each
/// chunk among rayon's threads when the row type is `Send`. Lines longer than the maximum
/// are errors naming the line, as for [`Chunker`].
///
/// A borrowed `&str` cannot hold a string with escapes (`\"`, `\n`, and `\u00e9`, which
/// Python's `json.dumps` writes for every non-ASCII letter by default): such a line is
/// an error naming the field. A field that may have them is a `Cow<'a, str>` marked
/// `#[serde(borrow)]`, which borrows text without escapes and decodes the rest into its
/// own string; `#[hash]` and `#[tokens]` take it and give the ids of the same text in a
/// `&str`. Without `#[serde(borrow)]` (and inside an `Option`) serde copies every value.
///
/// ```
/// use std::borrow::Cow;
/// use vectorflow::io::JsonLines;
/// use vectorflow::prelude::*;
/// #[derive(Features, serde::Deserialize)]
/// struct Visit<'a> {
///     #[hash]
///     #[serde(borrow)]
///     city: Cow<'a, str>,
/// }
/// let text = "{\"city\": \"Lyon\"}\n{\"city\": \"caf\\u00e9\"}\n";
/// let mut reader = JsonLines::new(text.as_bytes(), "<text>");
/// let rows = reader.next_rows::<Visit>()?.unwrap();
/// assert!(matches!(rows[0].city, Cow::Borrowed("Lyon")));
/// assert_eq!(rows[1].city, "café");
/// # Ok::<(), vectorflow::io::ReadError>(())
/// ```
///
/// Fields of the line that the row type does not have are ignored by default, as serde
/// does; `#[serde(deny_unknown_fields)]` on the row type makes them errors naming the
/// file, the line and the field, so a misspelled optional field (`"opts"` for `opt`)
/// does not silently leave it `None`. [`CsvReader`] reads its columns the same way.
///
/// ```
/// use vectorflow::io::JsonLines;
/// #[derive(serde::Deserialize)]
/// struct Flight<'a> {
///     carrier: &'a str,
///     distance: f32,
/// }
/// let text = "{\"carrier\": \"UA\", \"distance\": 1400}\n{\"carrier\": \"B6\", \"distance\": 1089}\n";
/// let mut reader = JsonLines::new(text.as_bytes(), "<text>");
/// let mut carriers = Vec::new();
/// while let Some(rows) = reader.next_rows::<Flight>()? {
///     carriers.extend(rows.iter().map(|f| f.carrier.to_string()));
/// }
/// assert_eq!(carriers, ["UA", "B6"]);
/// # Ok::<(), vectorflow::io::ReadError>(())
/// ```
#[derive(Debug)]
pub struct JsonLines<R> {
    chunker: Chunker<R>,
    chunk: Chunk,
    /// The part of a file read, for a shard's true line numbers.
    part: Option<Part>,
    plan: Option<ShardPlan>,
}

impl JsonLines<std::fs::File> {
    /// Opens a JSON lines file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        JsonLines::open_part(Part::file(path.as_ref()), None)
    }

    /// Opens rank `shard.rank()`'s part of a JSON lines file (see [`Shard`]): the lines
    /// that start in its share of the bytes. Errors name the file's true line numbers.
    pub fn open_shard(path: impl AsRef<Path>, shard: Shard) -> Result<Self, ReadError> {
        let (part, plan) = shard::file_part(path.as_ref(), shard, false)?;
        JsonLines::open_part(part, Some(plan))
    }

    /// Opens `part` of a file; `plan`: the shard it is.
    pub(crate) fn open_part(part: Part, plan: Option<ShardPlan>) -> Result<Self, ReadError> {
        let chunker = Chunker::with_name(part.open()?, part.name.clone());
        Ok(JsonLines {
            chunker: chunker.limit(part.end - part.start),
            chunk: Chunk::new(),
            part: Some(part),
            plan,
        })
    }

    /// The shard's plan, when opened by [`open_shard`](Self::open_shard).
    pub fn shard(&self) -> Option<&ShardPlan> {
        self.plan.as_ref()
    }
}

impl<R: Read> JsonLines<R> {
    /// Reads JSON lines from `reader`; `name` stands for it in errors.
    pub fn new(reader: R, name: &str) -> Self {
        JsonLines {
            chunker: Chunker::new(reader, name),
            chunk: Chunk::new(),
            part: None,
            plan: None,
        }
    }

    /// Sets the chunk size in bytes (default [`DEFAULT_CHUNK_BYTES`]).
    pub fn chunk_bytes(mut self, bytes: usize) -> Self {
        self.chunker = self.chunker.chunk_bytes(bytes);
        self
    }

    /// Sets the longest line accepted (default [`DEFAULT_MAX_LINE`](super::DEFAULT_MAX_LINE)).
    pub fn max_line(mut self, bytes: usize) -> Self {
        self.chunker = self.chunker.max_line(bytes);
        self
    }

    /// The next chunk of rows, `None` at the end of the input.
    ///
    /// # Errors
    ///
    /// I/O errors, too long lines and lines that do not deserialize, naming the file,
    /// the line, the field (its path, such as `user.id`) and what was expected.
    pub fn next_rows<'a, T: Deserialize<'a>>(&'a mut self) -> Result<Option<Vec<T>>, ReadError> {
        let mut rows = Vec::new();
        let more = self.next_with(PhantomData::<T>, |row, _| {
            rows.push(row);
            Ok(())
        })?;
        Ok(more.then_some(rows))
    }

    /// Reads the next chunk, handing each line's value (deserialized with a copy of
    /// `seed`) and its line number to `out`; false at the end of the input.
    pub(crate) fn next_with<'a, S: DeserializeSeed<'a> + Clone>(
        &'a mut self,
        seed: S,
        out: impl FnMut(S::Value, u64) -> Result<(), ReadError>,
    ) -> Result<bool, ReadError> {
        if !self.next_chunk()? {
            return Ok(false);
        }
        let this: &'a Self = self;
        parse_json_lines_with(
            this.text(),
            this.chunk.first_line(),
            this.chunker.file(),
            seed,
            out,
        )
        .map_err(|e| true_line(&this.part, e))?;
        Ok(true)
    }

    /// The name that stands for the input in errors.
    pub(crate) fn file(&self) -> &Arc<str> {
        self.chunker.file()
    }

    /// Reads the next chunk that is not only blank lines; false at the end.
    fn next_chunk(&mut self) -> Result<bool, ReadError> {
        loop {
            let more = self.chunker.next_chunk(&mut self.chunk);
            if !more.map_err(|e| true_line(&self.part, e))? {
                return Ok(false);
            }
            if !self.chunk.text().iter().all(u8::is_ascii_whitespace) {
                return Ok(true);
            }
        }
    }

    /// The chunk's text, without the UTF-8 byte-order mark some editors put at the
    /// start of a file (skipped, as the CSV reader skips it).
    fn text(&self) -> &[u8] {
        let text = self.chunk.text();
        let at_start =
            self.chunk.first_line() == 1 && self.part.as_ref().is_none_or(|p| p.start == 0);
        match at_start {
            true => text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text),
            false => text,
        }
    }

    /// Every remaining row, in memory: the rest of the input is read as one chunk,
    /// whatever its size, and the rows borrow it. For inputs larger than memory, use
    /// [`next_rows`](Self::next_rows) chunk by chunk.
    ///
    /// ```
    /// use vectorflow::io::JsonLines;
    /// #[derive(serde::Deserialize)]
    /// struct Flight<'a> {
    ///     carrier: &'a str,
    /// }
    /// let text = "{\"carrier\": \"UA\"}\n\n{\"carrier\": \"B6\"}\n";
    /// let mut reader = JsonLines::new(text.as_bytes(), "<text>").chunk_bytes(16);
    /// let rows: Vec<Flight> = reader.read_all()?;
    /// assert_eq!(rows.len(), 2);
    /// # Ok::<(), vectorflow::io::ReadError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`next_rows`](Self::next_rows).
    pub fn read_all<'a, T: Deserialize<'a>>(&'a mut self) -> Result<Vec<T>, ReadError> {
        self.chunker.set_chunk_bytes(usize::MAX);
        Ok(self.next_rows()?.unwrap_or_default())
    }

    /// As [`next_rows`](Self::next_rows), with each chunk split at line boundaries among
    /// rayon's threads (the row type must be `Send`). Rows keep their input order, and
    /// the error reported is the first in the input.
    pub fn next_rows_parallel<'a, T: Deserialize<'a> + Send>(
        &'a mut self,
    ) -> Result<Option<Vec<T>>, ReadError> {
        if !self.next_chunk()? {
            return Ok(None);
        }
        let text = self.text();
        let file = self.chunker.file();
        let k = rayon::current_num_threads();
        let bounds = super::reader::split_lines(text, k);
        // The first line number of each piece.
        let mut firsts = vec![self.chunk.first_line()];
        for w in bounds.windows(2) {
            let lines = memchr::memchr_iter(b'\n', &text[w[0]..w[1]]).count() as u64;
            firsts.push(firsts[firsts.len() - 1] + lines);
        }
        let mut pieces: Vec<(Vec<T>, Result<(), ReadError>)> =
            (0..k).map(|_| (Vec::new(), Ok(()))).collect();
        rayon::scope(|s| {
            for ((piece, w), &first) in pieces.iter_mut().zip(bounds.windows(2)).zip(&firsts) {
                let part = &text[w[0]..w[1]];
                s.spawn(move |_| piece.1 = parse_json_lines(part, first, file, &mut piece.0));
            }
        });
        let mut rows = Vec::with_capacity(pieces.iter().map(|p| p.0.len()).sum());
        for (piece, outcome) in pieces {
            outcome.map_err(|e| true_line(&self.part, e))?;
            rows.extend(piece);
        }
        Ok(Some(rows))
    }
}

/// `e` with its line counted from the file's first line rather than the part's.
fn true_line(part: &Option<Part>, e: ReadError) -> ReadError {
    match part {
        Some(part) => part.true_line(e, 0),
        None => e,
    }
}

/// Deserializes the non-blank lines of `text`, whose first line is `first_line`.
fn parse_json_lines<'a, T: Deserialize<'a>>(
    text: &'a [u8],
    first_line: u64,
    file: &Arc<str>,
    rows: &mut Vec<T>,
) -> Result<(), ReadError> {
    parse_json_lines_with(text, first_line, file, PhantomData::<T>, |row, _| {
        rows.push(row);
        Ok(())
    })
}

/// Deserializes the non-blank lines of `text`, whose first line is `first_line`, each
/// with a copy of `seed`, handing each value and its line to `out`.
fn parse_json_lines_with<'a, S: DeserializeSeed<'a> + Clone>(
    text: &'a [u8],
    first_line: u64,
    file: &Arc<str>,
    seed: S,
    mut out: impl FnMut(S::Value, u64) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    let lines = text.split(|&b| b == b'\n');
    for (line_no, line) in (first_line..).zip(lines) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let mut de = serde_json::Deserializer::from_slice(line);
        let mut track = serde_path_to_error::Track::new();
        let value = seed
            .clone()
            .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track));
        match value {
            Ok(row) => match de.end() {
                Ok(()) => out(row, line_no)?,
                Err(e) => return Err(json_error(file, line_no, None, e)),
            },
            Err(e) => {
                let path = track.path().to_string();
                let field = (path != ".").then(|| format!("field `{path}`"));
                return Err(json_error(file, line_no, field, e));
            }
        }
    }
    Ok(())
}

fn json_error(
    file: &Arc<str>,
    line: u64,
    field: Option<String>,
    e: serde_json::Error,
) -> ReadError {
    // serde_json's message ends with "at line 1 column N": keep the column only.
    let msg = e.to_string();
    let mut msg = match msg.rfind(" at line ") {
        Some(i) => format!("{} (column {})", &msg[..i], e.column()),
        None => msg,
    };
    if msg.contains("expected a borrowed string") {
        msg.push_str(
            "; a `&str` field cannot hold text with escapes: make it a `Cow<'a, str>` marked #[serde(borrow)]",
        );
    }
    ReadError::message(file, line, field, msg)
}
