//! Files as [`Stream`]s for [`Trainer::fit_stream`] (sparse text, CSV, JSON lines):
//! trained on in bounded memory, reopened for each pass (or read once, with a
//! [`Trainer::cache`]).
//!
//! [`Trainer::fit_stream`]: crate::train::Trainer::fit_stream
//! [`Trainer::cache`]: crate::train::Trainer::cache

use super::identity::file_source;
use super::reader::{open_part, SparseFormat, SparseReader};
use super::rows::{SparseRow, SparseRows};
use super::shard::{self, Part};
use super::ReadAhead;
use super::{CsvReader, JsonLines, ReadError};
use super::{Shard, ShardPlan};
use crate::features::{Labeled, RowType};
use crate::train::{Stream, StreamError};
use serde::Deserialize;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A LIBSVM or Vowpal Wabbit file read as a stream of rows.
///
/// ```no_run
/// use vectorflow::io::{LibSvm, SparseFormat};
/// use vectorflow::prelude::*;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// type Lr = network![Sparse<{ 1 << 20 }> => Linear<1>];
/// let mut net = Lr::new(Init::zeros());
/// let mut rows = LibSvm::new().stream("train.svm")?;
/// Trainer::new(AdaGrad::new(0.5))
///     .passes(3)
///     .cache("train.vfcache") // passes 2 and 3 read the hashed rows, not the text
///     .fit_stream(&mut net, &mut rows, Logistic)?;
/// # Ok(())
/// # }
/// ```
pub struct SparseStream<F> {
    format: F,
    path: PathBuf,
    /// The shard read, when opened by [`SparseFormat::stream_shard`].
    plan: Option<ShardPlan>,
    /// The parts of files read, in order, and the one being read.
    parts: Vec<Part>,
    part: usize,
    /// The part's reader, a chunk ahead once the first rows are asked for: training
    /// hashes one chunk's rows while the next is parsed. Until then only the file is
    /// open, so a fit whose every pass reads a finished cache parses nothing.
    reader: Reading<F>,
    rows: SparseRows,
    /// The next row of `rows` to hand out.
    at: usize,
}

/// A file opened, being read a chunk ahead, or neither (while reopening it, after it
/// failed to start, or after the last part).
enum Reading<F> {
    Closed,
    Opened(Box<SparseReader<File, F>>),
    Ahead(ReadAhead),
}

impl<F: SparseFormat + Send + 'static> SparseStream<F> {
    /// A stream of `path` (a file; with a shard, a directory too).
    pub(crate) fn open(format: &F, path: &Path, shard: Option<Shard>) -> Result<Self, ReadError> {
        let (parts, plan) = shard::stream_parts(path, shard, false)?;
        let mut stream = SparseStream {
            reader: Reading::Closed,
            format: format.clone(),
            path: path.to_path_buf(),
            plan,
            parts,
            part: 0,
            rows: SparseRows::new(),
            at: 0,
        };
        stream.open_part(0)?;
        Ok(stream)
    }

    /// Opens part `i` (if any: after the last, the stream is over).
    fn open_part(&mut self, i: usize) -> Result<(), ReadError> {
        self.part = i;
        Self::open_into(&mut self.reader, &self.format, self.parts.get(i))
    }

    /// Sets `reader` to `part` opened, or closed when there is none.
    fn open_into(
        reader: &mut Reading<F>,
        format: &F,
        part: Option<&Part>,
    ) -> Result<(), ReadError> {
        // The old reader (and its thread) ends before the next file is opened.
        *reader = Reading::Closed;
        if let Some(part) = part {
            *reader = Reading::Opened(Box::new(open_part(format, part.clone(), None)?));
        }
        Ok(())
    }
}

impl<F: SparseFormat + Send + 'static> Stream for SparseStream<F> {
    type Row<'a> = SparseRow<'a>;

    fn read<G: FnMut(&SparseRow<'_>)>(
        &mut self,
        max: usize,
        mut f: G,
    ) -> Result<usize, StreamError> {
        let (reader, format, parts, part) =
            (&mut self.reader, &self.format, &self.parts, &mut self.part);
        let refill = |rows: &mut SparseRows| -> Result<bool, StreamError> {
            loop {
                if let Reading::Opened(_) = reader {
                    if let Reading::Opened(r) = std::mem::replace(reader, Reading::Closed) {
                        *reader = Reading::Ahead(r.ahead()?);
                    }
                }
                let Reading::Ahead(ahead) = reader else {
                    return Ok(false);
                };
                if ahead.read_into(rows)? {
                    return Ok(true);
                }
                // This part is over: on to the next, if any.
                *part += 1;
                Self::open_into(reader, format, parts.get(*part))?;
            }
        };
        let each = |rows: &SparseRows, i| f(&rows.row(i));
        read_buffered(
            &mut self.rows,
            &mut self.at,
            max,
            SparseRows::len,
            refill,
            each,
        )
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        self.open_part(0)?;
        self.rows.clear();
        self.at = 0;
        Ok(())
    }

    /// The files (their paths, sizes, times and ends), the reader's options and the
    /// shard: a cache built from another version of a file, read with other options, or
    /// by another rank or a job of another size, is rebuilt.
    fn source(&self) -> String {
        sources(
            &self.parts,
            self.plan.as_ref(),
            &format!("read by {:?}", self.format),
        )
    }

    /// The path.
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn shard(&self) -> Option<&ShardPlan> {
        self.plan.as_ref()
    }
}

/// The identity of each file of `parts`, then `how` they are read and, for one rank's
/// part of the data, the shard; empty when a file has no identity (a pipe).
fn sources(parts: &[Part], plan: Option<&ShardPlan>, how: &str) -> String {
    let mut files = Vec::with_capacity(parts.len());
    for part in parts {
        match file_source(&part.path) {
            file if file.is_empty() => return file,
            file => files.push(file),
        }
    }
    let mut source = format!("{} {how}", files.join("; "))
        .trim_start()
        .to_string();
    if let Some(plan) = plan.filter(|p| p.is_part()) {
        source = format!("{source}, {}", plan.describe());
    }
    source
}

/// Hands `each` up to `max` rows of the buffer `rows` from row `*at` on, moving `at`
/// past them; when every row of the buffer is handed out, `refill` reads the next
/// chunk into it (false: the input is over). Returns how many rows were handed out:
/// how the streams that read a buffer of rows ahead give out their rows.
pub(crate) fn read_buffered<B>(
    rows: &mut B,
    at: &mut usize,
    max: usize,
    len: fn(&B) -> usize,
    mut refill: impl FnMut(&mut B) -> Result<bool, StreamError>,
    mut each: impl FnMut(&B, usize),
) -> Result<usize, StreamError> {
    let mut n = 0;
    while n < max {
        if *at == len(rows) {
            *at = 0;
            if !refill(rows)? {
                break;
            }
        }
        let end = len(rows).min(*at + max - n);
        (*at..end).for_each(|i| each(rows, i));
        n += end - *at;
        *at = end;
    }
    Ok(n)
}

/// A CSV or JSON lines file read as a stream of the caller's rows, which borrow their
/// text from the reader's chunk: `T` names the row type without its lifetime
/// (`Flight<'static>` for `Flight<'a>`, see [`RowType`]).
///
/// ```
/// use vectorflow::io::SerdeStream;
/// use vectorflow::prelude::*;
///
/// #[derive(Features, serde::Deserialize)]
/// struct Review<'a> {
///     #[label]
///     good: bool,
///     #[tokens]
///     text: &'a str,
/// }
///
/// let path = std::env::temp_dir().join(format!("reviews-{}.jsonl", std::process::id()));
/// let lines: String = (0..400)
///     .map(|i| if i % 2 == 0 {
///         "{\"good\": true, \"text\": \"great fast\"}\n"
///     } else {
///         "{\"good\": false, \"text\": \"slow broken\"}\n"
///     })
///     .collect();
/// std::fs::write(&path, lines).unwrap();
///
/// type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];
/// let mut net = Lr::new(Init::zeros());
/// let mut rows = SerdeStream::<Review<'static>>::json_lines(&path).unwrap();
/// Trainer::new(AdaGrad::new(0.5))
///     .passes(2)
///     .progress(Progress::Silent)
///     .fit_stream(&mut net, &mut rows, Logistic)
///     .unwrap();
/// let good = Review { good: true, text: "great" };
/// assert!(net.predict(&good).unwrap()[0] > 1.0);
/// # std::fs::remove_file(&path).unwrap();
/// ```
pub struct SerdeStream<T> {
    path: PathBuf,
    format: SerdeFormat,
    plan: Option<ShardPlan>,
    /// The parts of files read, in order, and the one being read.
    parts: Vec<Part>,
    part: usize,
    /// The part's reader; `None` after the last part.
    reader: Option<SerdeReader>,
    _row: std::marker::PhantomData<fn() -> T>,
}

#[derive(Clone, Copy)]
enum SerdeFormat {
    Csv,
    JsonLines,
}

enum SerdeReader {
    Csv(CsvReader<File>),
    JsonLines(JsonLines<File>),
}

impl<T> SerdeStream<T> {
    /// A CSV file with a header line (columns matched to fields by name).
    pub fn csv(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        Self::open(path.as_ref(), SerdeFormat::Csv, None)
    }

    /// Rank `shard.rank()`'s part of a CSV file, or of a directory of CSV files (see
    /// [`Shard`]). Every rank reads the header line; a file's records must be one line
    /// each (no line breaks in quoted fields).
    pub fn csv_shard(path: impl AsRef<Path>, shard: Shard) -> Result<Self, ReadError> {
        Self::open(path.as_ref(), SerdeFormat::Csv, Some(shard))
    }

    /// A JSON lines file: one object per line.
    pub fn json_lines(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        Self::open(path.as_ref(), SerdeFormat::JsonLines, None)
    }

    /// Rank `shard.rank()`'s part of a JSON lines file, or of a directory of them (see
    /// [`Shard`]).
    pub fn json_lines_shard(path: impl AsRef<Path>, shard: Shard) -> Result<Self, ReadError> {
        Self::open(path.as_ref(), SerdeFormat::JsonLines, Some(shard))
    }

    fn open(path: &Path, format: SerdeFormat, shard: Option<Shard>) -> Result<Self, ReadError> {
        let csv = matches!(format, SerdeFormat::Csv);
        let (parts, plan) = shard::stream_parts(path, shard, csv)?;
        let mut stream = SerdeStream {
            path: path.to_path_buf(),
            format,
            plan,
            parts,
            part: 0,
            reader: None,
            _row: std::marker::PhantomData,
        };
        stream.open_part(0)?;
        Ok(stream)
    }

    /// Opens part `i` (if any: after the last, the stream is over).
    fn open_part(&mut self, i: usize) -> Result<(), ReadError> {
        self.reader = None;
        self.part = i;
        if let Some(part) = self.parts.get(i) {
            self.reader = Some(match self.format {
                SerdeFormat::Csv => SerdeReader::Csv(CsvReader::open_part(part.clone())?),
                SerdeFormat::JsonLines => {
                    SerdeReader::JsonLines(JsonLines::open_part(part.clone(), None)?)
                }
            });
        }
        Ok(())
    }
}

impl<T> Stream for SerdeStream<T>
where
    T: RowType,
    for<'a> T::Row<'a>: Deserialize<'a> + Labeled,
{
    type Row<'a> = T::Row<'a>;

    /// Hands out one chunk of the file's records (about 4 MiB of text), whatever `max`.
    fn read<G: FnMut(&T::Row<'_>)>(&mut self, _max: usize, mut f: G) -> Result<usize, StreamError> {
        // The rows borrow the reader only within `hand_out`, so that the next part can
        // replace it.
        fn hand_out<R>(rows: Option<Vec<R>>, f: &mut impl FnMut(&R)) -> Option<usize> {
            let rows = rows?;
            rows.iter().for_each(f);
            Some(rows.len())
        }
        loop {
            let read = match &mut self.reader {
                None => return Ok(0),
                Some(SerdeReader::Csv(r)) => hand_out(r.next_rows::<T::Row<'_>>()?, &mut f),
                Some(SerdeReader::JsonLines(r)) => hand_out(r.next_rows::<T::Row<'_>>()?, &mut f),
            };
            if let Some(n) = read {
                return Ok(n);
            }
            // This part is over: on to the next, if any.
            self.open_part(self.part + 1)?;
        }
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        self.open_part(0)?;
        Ok(())
    }

    /// The files (their paths, sizes, times and ends), their format and the shard.
    fn source(&self) -> String {
        let how = match self.format {
            SerdeFormat::Csv => "read as CSV",
            SerdeFormat::JsonLines => "read as JSON lines",
        };
        sources(&self.parts, self.plan.as_ref(), how)
    }

    /// The path.
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn shard(&self) -> Option<&ShardPlan> {
        self.plan.as_ref()
    }
}
