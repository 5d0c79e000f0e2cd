//! Files as [`Stream`]s for [`Trainer::fit_stream`] (sparse text, CSV, JSON lines):
//! trained on in bounded memory, reopened for each pass (or read once, with a
//! [`Trainer::cache`]).
//!
//! [`Trainer::fit_stream`]: crate::train::Trainer::fit_stream
//! [`Trainer::cache`]: crate::train::Trainer::cache

use super::identity::file_source;
use super::reader::{SparseFormat, SparseReader};
use super::rows::{SparseRow, SparseRows};
use super::ReadAhead;
use super::{CsvReader, JsonLines, ReadError};
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
    /// The file's reader, a chunk ahead once the first rows are asked for: training
    /// hashes one chunk's rows while the next is parsed. Until then only the file is
    /// open, so a fit whose every pass reads a finished cache parses nothing.
    reader: Reading<F>,
    rows: SparseRows,
    /// The next row of `rows` to hand out.
    at: usize,
}

/// A file opened, being read a chunk ahead, or neither (while reopening it, or after
/// it failed to start).
enum Reading<F> {
    Closed,
    Opened(Box<SparseReader<File, F>>),
    Ahead(ReadAhead),
}

impl<F: SparseFormat + Send + 'static> SparseStream<F> {
    pub(crate) fn open(format: &F, path: &Path) -> Result<Self, ReadError> {
        Ok(SparseStream {
            reader: Reading::Opened(Box::new(format.open(path)?)),
            format: format.clone(),
            path: path.to_path_buf(),
            rows: SparseRows::new(),
            at: 0,
        })
    }
}

impl<F: SparseFormat + Send + 'static> Stream for SparseStream<F> {
    type Row<'a> = SparseRow<'a>;

    fn read<G: FnMut(&SparseRow<'_>)>(
        &mut self,
        max: usize,
        mut f: G,
    ) -> Result<usize, StreamError> {
        let reader = &mut self.reader;
        let refill = |rows: &mut SparseRows| -> Result<bool, StreamError> {
            if let Reading::Opened(_) = reader {
                if let Reading::Opened(r) = std::mem::replace(reader, Reading::Closed) {
                    *reader = Reading::Ahead(r.ahead()?);
                }
            }
            let Reading::Ahead(ahead) = reader else {
                return Ok(false);
            };
            Ok(ahead.read_into(rows)?)
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
        // The old reader (and its thread) ends before the file is opened again.
        self.reader = Reading::Closed;
        self.reader = Reading::Opened(Box::new(self.format.open(&self.path)?));
        self.rows.clear();
        self.at = 0;
        Ok(())
    }

    /// The file (its path, size, times and ends) and the reader's options: a cache
    /// built from another version of the file, or read with other options, is rebuilt.
    fn source(&self) -> String {
        match file_source(&self.path) {
            file if file.is_empty() => file,
            file => format!("{file} read by {:?}", self.format),
        }
    }

    /// The path.
    fn name(&self) -> String {
        self.path.display().to_string()
    }
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
    reader: SerdeReader,
    _row: std::marker::PhantomData<fn() -> T>,
}

enum SerdeReader {
    Csv(CsvReader<File>),
    JsonLines(JsonLines<File>),
}

impl SerdeReader {
    fn reopen(&self, path: &Path) -> Result<SerdeReader, ReadError> {
        Ok(match self {
            SerdeReader::Csv(_) => SerdeReader::Csv(CsvReader::open(path)?),
            SerdeReader::JsonLines(_) => SerdeReader::JsonLines(JsonLines::open(path)?),
        })
    }
}

impl<T> SerdeStream<T> {
    /// A CSV file with a header line (columns matched to fields by name).
    pub fn csv(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref();
        Ok(SerdeStream {
            reader: SerdeReader::Csv(CsvReader::open(path)?),
            path: path.to_path_buf(),
            _row: std::marker::PhantomData,
        })
    }

    /// A JSON lines file: one object per line.
    pub fn json_lines(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        let path = path.as_ref();
        Ok(SerdeStream {
            reader: SerdeReader::JsonLines(JsonLines::open(path)?),
            path: path.to_path_buf(),
            _row: std::marker::PhantomData,
        })
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
        let rows = match &mut self.reader {
            SerdeReader::Csv(r) => r.next_rows::<T::Row<'_>>()?,
            SerdeReader::JsonLines(r) => r.next_rows::<T::Row<'_>>()?,
        };
        let rows = rows.unwrap_or_default();
        rows.iter().for_each(&mut f);
        Ok(rows.len())
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        self.reader = self.reader.reopen(&self.path)?;
        Ok(())
    }

    /// The file (its path, size, times and ends) and its format.
    fn source(&self) -> String {
        let format = match self.reader {
            SerdeReader::Csv(_) => "CSV",
            SerdeReader::JsonLines(_) => "JSON lines",
        };
        match file_source(&self.path) {
            file if file.is_empty() => file,
            file => format!("{file} read as {format}"),
        }
    }

    /// The path.
    fn name(&self) -> String {
        self.path.display().to_string()
    }
}
