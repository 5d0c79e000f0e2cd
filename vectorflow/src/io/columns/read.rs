//! Reading CSV, JSON lines and Parquet with a column spec: [`ColumnReader`] chunk by
//! chunk or whole, [`ColumnStream`] for `Trainer::fit_stream`.

use super::cells::RowSeed;
use super::rows::{Cell, CellError, ColumnRow, ColumnRows};
use super::spec::{ColumnSpec, Plan};
use crate::io::identity::file_source;
use crate::io::sources::read_buffered;
use crate::io::{CsvReader, JsonLines, ReadError};
use crate::train::{Stream, StreamError};
use std::cell::RefCell;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows of Parquet read per chunk.
#[cfg(feature = "parquet")]
const PARQUET_CHUNK_ROWS: usize = 1 << 16;

/// The formats a column spec reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header line, its columns named by the header.
    Csv,
    /// One JSON object per line, its columns the objects' keys.
    JsonLines,
    /// A Parquet file or a Hive-partitioned directory of them (feature `parquet`).
    #[cfg(feature = "parquet")]
    Parquet,
}

impl Format {
    /// The format a path's name says: `.csv`, `.jsonl`/`.ndjson`/`.json`, `.parquet`
    /// or a directory (Parquet, with the feature); `None` otherwise.
    pub fn of_path(path: &Path) -> Option<Format> {
        #[cfg(feature = "parquet")]
        if path.is_dir() {
            return Some(Format::Parquet);
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(Format::Csv),
            "jsonl" | "ndjson" | "json" => Some(Format::JsonLines),
            #[cfg(feature = "parquet")]
            "parquet" => Some(Format::Parquet),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Csv => "CSV",
            Format::JsonLines => "JSON lines",
            #[cfg(feature = "parquet")]
            Format::Parquet => "Parquet",
        })
    }
}

type Input = Box<dyn Read + Send>;

/// Reads a file's rows with a [`ColumnSpec`] into [`ColumnRows`], hashing each row as
/// it is read: one chunk at a time ([`read_into`](Self::read_into)) or all of it
/// ([`read_all`](Self::read_all)).
///
/// When opened, a CSV header and the columns of every Parquet file are checked to hold
/// every column the spec reads. JSON lines have no header: a column that no line of the
/// first chunk has (not even as `null`) is the same error. Every error names the file,
/// the line (for Parquet the row group and row) and the column.
///
/// ```
/// use vectorflow::io::columns::{ColumnReader, ColumnSpec};
/// let spec = ColumnSpec::builder()
///     .label("delayed")
///     .hash("carrier".parse()?)
///     .value("distance".parse()?)
///     .build()?;
/// let text = "delayed,carrier,distance\n1,UA,1400\n0,B6,\n";
/// let rows = ColumnReader::csv(text.as_bytes(), "<text>", &spec)?.read_all()?;
/// assert_eq!(rows.len(), 2);
/// assert_eq!(rows.row(0).features("").len(), 2);
/// assert_eq!(rows.row(1).features("").len(), 1); // an empty value is no feature
///
/// let bad = "delayed,carrier,distance\nyes,UA,1400\n";
/// let err = ColumnReader::csv(bad.as_bytes(), "f.csv", &spec)?.read_all().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "f.csv:2: column `delayed`: expected a label (a number, or true/false), found `yes`"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ColumnReader {
    /// The file, when it is one (a stream reopens it for each pass).
    path: Option<PathBuf>,
    /// What stands for the input in errors.
    name: Arc<str>,
    spec: ColumnSpec,
    plan: Arc<Plan>,
    format: Format,
    source: Source,
    /// Whether [`ColumnReader::read_all`] keeps the features' names.
    names: bool,
}

enum Source {
    /// The reader, and for each column of the plan its index in the header.
    Csv(Box<CsvReader<Input>>, Vec<usize>),
    /// The reader, and whether the first chunk is still to be checked.
    Json(Box<JsonLines<Input>>, bool),
    #[cfg(feature = "parquet")]
    Parquet(Box<crate::io::parquet::ParquetStream<()>>),
}

impl fmt::Debug for ColumnReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ColumnReader({} with {})", self.format, self.spec)
    }
}

impl ColumnReader {
    /// Opens `path` in `format` (see [`Format::of_path`]).
    pub fn open(
        path: impl AsRef<Path>,
        format: Format,
        spec: &ColumnSpec,
    ) -> Result<Self, ReadError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let open =
            || std::fs::File::open(path).map_err(|e| ReadError::io(&name.as_str().into(), e));
        let reader = match format {
            Format::Csv => ColumnReader::csv(open()?, &name, spec)?,
            Format::JsonLines => ColumnReader::json_lines(open()?, &name, spec),
            #[cfg(feature = "parquet")]
            Format::Parquet => ColumnReader::parquet(path, spec)?,
        };
        Ok(reader.at_path(path))
    }

    /// CSV with a header line from `reader` (a file, stdin, ...); `name` stands for it in
    /// errors. Fails if the header lacks a column of the spec.
    pub fn csv(
        reader: impl Read + Send + 'static,
        name: &str,
        spec: &ColumnSpec,
    ) -> Result<Self, ReadError> {
        let csv = CsvReader::new(Box::new(reader) as Input, name)?;
        let header: Vec<String> = csv
            .headers()
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        spec.check_columns_at(name, 1, &header)?;
        let at = (spec.columns().iter())
            .map(|n| header.iter().position(|h| h == n).expect("checked"))
            .collect();
        let source = Source::Csv(Box::new(csv), at);
        Ok(ColumnReader::with(name, spec, Format::Csv, source))
    }

    /// JSON lines from `reader`; `name` stands for it in errors.
    pub fn json_lines(reader: impl Read + Send + 'static, name: &str, spec: &ColumnSpec) -> Self {
        let json = JsonLines::new(Box::new(reader) as Input, name);
        let source = Source::Json(Box::new(json), true);
        ColumnReader::with(name, spec, Format::JsonLines, source)
    }

    /// A Parquet file or a (Hive-partitioned) directory of them; only the spec's columns
    /// are decoded. Fails if a file has neither a column nor a partition key of a
    /// column of the spec.
    #[cfg(feature = "parquet")]
    pub fn parquet(path: impl AsRef<Path>, spec: &ColumnSpec) -> Result<Self, ReadError> {
        let columns = spec.columns();
        let stream =
            crate::io::parquet::ParquetStream::<()>::open_columns(path.as_ref(), &columns)?;
        for (file, there) in stream.file_columns() {
            spec.check_columns_at(file, 0, &there)?;
        }
        let path = path.as_ref();
        let name = path.display().to_string();
        let reader = ColumnReader::with(
            &name,
            spec,
            Format::Parquet,
            Source::Parquet(Box::new(stream)),
        );
        Ok(reader.at_path(path))
    }

    fn with(name: &str, spec: &ColumnSpec, format: Format, source: Source) -> ColumnReader {
        ColumnReader {
            path: None,
            name: name.into(),
            spec: spec.clone(),
            plan: spec.plan(),
            format,
            source,
            names: false,
        }
    }

    /// Whether [`ColumnReader::read_all`] keeps each feature's name for audits
    /// ([`ColumnRows::named`]); off by default, as training does not need them.
    pub fn names(self, names: bool) -> ColumnReader {
        ColumnReader { names, ..self }
    }

    /// Records that the input is the file `path`.
    fn at_path(mut self, path: &Path) -> ColumnReader {
        self.path = Some(path.to_path_buf());
        self
    }

    /// The format read.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The spec read with.
    pub fn spec(&self) -> &ColumnSpec {
        &self.spec
    }

    /// Replaces `rows` with the next chunk of rows (about 4 MiB of text, or 65,536
    /// Parquet rows); false at the end of the input. Panics if `rows` were made for
    /// another spec.
    pub fn read_into(&mut self, rows: &mut ColumnRows) -> Result<bool, ReadError> {
        rows.clear();
        self.append(rows)
    }

    /// Every remaining row. The input is read a chunk at a time (rows are hashed as
    /// they are read), so memory holds the hashed rows, not the text.
    pub fn read_all(mut self) -> Result<ColumnRows, ReadError> {
        let mut rows = match self.names {
            true => ColumnRows::named(&self.spec),
            false => ColumnRows::new(&self.spec),
        };
        while self.append(&mut rows)? {}
        Ok(rows)
    }

    /// Appends the next chunk's rows to `rows`; false at the end of the input. Panics if
    /// `rows` were made for another spec. For the first rows of a file, in memory:
    ///
    /// ```
    /// use vectorflow::io::columns::{ColumnReader, ColumnRows, ColumnSpec};
    /// let spec: ColumnSpec = "--label y --hash c".parse()?;
    /// let text = "y,c\n1,a\n0,b\n";
    /// let mut reader = ColumnReader::csv(text.as_bytes(), "t.csv", &spec)?;
    /// let mut rows = ColumnRows::new(&spec);
    /// // Whole chunks: at least the rows asked for.
    /// while rows.len() < 1 && reader.append(&mut rows)? {}
    /// assert_eq!(rows.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn append(&mut self, rows: &mut ColumnRows) -> Result<bool, ReadError> {
        assert!(
            Arc::ptr_eq(rows.plan(), &self.plan) || rows.spec() == &self.spec,
            "rows of another column spec"
        );
        let plan = &*self.plan;
        match &mut self.source {
            Source::Csv(reader, at) => {
                let file = reader.file().clone();
                let Some(records) = reader.next_records()? else {
                    return Ok(false);
                };
                let mut cells: Vec<Cell<'_>> = Vec::with_capacity(at.len());
                for r in records {
                    let line = r.position().map_or(0, |p| p.line());
                    cells.clear();
                    for (col, &i) in at.iter().enumerate() {
                        let field = r.get(i).unwrap_or_default();
                        cells.push(match std::str::from_utf8(field) {
                            Ok("") => Cell::Missing,
                            Ok(s) => Cell::Text(s.into()),
                            Err(_) => {
                                return Err(at_line(
                                    &file,
                                    line,
                                    plan,
                                    CellError {
                                        col,
                                        msg: "expected UTF-8 text".into(),
                                    },
                                ))
                            }
                        });
                    }
                    rows.push(&cells)
                        .map_err(|e| at_line(&file, line, plan, e))?;
                }
                Ok(true)
            }
            Source::Json(reader, first) => {
                let mut seen = vec![false; plan.names.len()];
                let file = reader.file().clone();
                // The first chunk's keys, for the error about a column none of its lines has.
                let keys = RefCell::new(Vec::new());
                let seed = RowSeed {
                    plan,
                    keys: first.then_some(&keys),
                };
                let more = reader.next_with(seed, |cells, line| {
                    let cells: Vec<Cell<'_>> = cells
                        .into_iter()
                        .zip(&mut seen)
                        .map(|(c, seen)| {
                            *seen |= c.is_some();
                            c.unwrap_or(Cell::Missing)
                        })
                        .collect();
                    rows.push(&cells).map_err(|e| at_line(&file, line, plan, e))
                })?;
                if more && std::mem::take(first) {
                    let keys = keys.into_inner();
                    let named = (plan.names.iter().zip(&seen)).filter(|(_, s)| **s);
                    let mut there: Vec<&str> = named.map(|(n, _)| n.as_str()).collect();
                    there.extend(keys.iter().map(String::as_str));
                    self.spec.check_columns_at(&file, 0, &there)?;
                }
                Ok(more)
            }
            #[cfg(feature = "parquet")]
            Source::Parquet(stream) => {
                let n = stream.read_with(PARQUET_CHUNK_ROWS, |at| {
                    let cells = at.de(RowSeed { plan, keys: None })?;
                    let cells: Vec<Cell<'_>> = cells
                        .into_iter()
                        .map(|c| c.unwrap_or(Cell::Missing))
                        .collect();
                    rows.push(&cells).map_err(|e| {
                        at.error(Some(format!("column `{}`", plan.names[e.col])), e.msg)
                    })
                })?;
                Ok(n > 0)
            }
        }
    }

    /// What it reads, for a cache's key: for Parquet each file's identity.
    fn parquet_source(&self) -> Option<String> {
        match &self.source {
            #[cfg(feature = "parquet")]
            Source::Parquet(stream) => Some(stream.files_source()),
            _ => None,
        }
    }
}

fn at_line(file: &Arc<str>, line: u64, plan: &Plan, e: CellError) -> ReadError {
    ReadError::message(
        file,
        line,
        Some(format!("column `{}`", plan.names[e.col])),
        e.msg,
    )
}

/// A CSV, JSON lines or Parquet input read with a [`ColumnSpec`] as a [`Stream`] for
/// `Trainer::fit_stream`: its rows are [`ColumnRow`]s, as [`ColumnRows`] holds them.
/// Its [`source`](Stream::source) includes the spec's description, so a binary cache
/// built from the file read with another spec is rebuilt, never misread. A file is
/// reopened for each pass; an input that is not a file (stdin) is read once, so a
/// second pass needs a cache.
///
/// ```
/// use vectorflow::io::columns::{ColumnReader, ColumnSpec, ColumnStream, Format};
/// use vectorflow::prelude::*;
///
/// let path = std::env::temp_dir().join(format!("col-doc-{}.csv", std::process::id()));
/// let text: String = std::iter::once("good,words\n".to_string())
///     .chain((0..400).map(|i| if i % 2 == 0 { "1,great fast\n" } else { "0,slow broken\n" }.to_string()))
///     .collect();
/// std::fs::write(&path, text)?;
/// let spec = ColumnSpec::builder().label("good").tokens("words".parse()?).build()?;
///
/// type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];
/// let mut net = Lr::new(Init::zeros());
/// let mut rows = ColumnStream::new(ColumnReader::open(&path, Format::Csv, &spec)?);
/// Trainer::new(AdaGrad::new(0.5))
///     .passes(2)
///     .progress(Progress::Silent)
///     .fit_stream(&mut net, &mut rows, Logistic)?;
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ColumnStream {
    reader: ColumnReader,
    rows: ColumnRows,
    /// The next row of `rows` to hand out.
    at: usize,
}

impl ColumnStream {
    /// Streams the rows of `reader`.
    pub fn new(reader: ColumnReader) -> ColumnStream {
        ColumnStream {
            rows: ColumnRows::new(&reader.spec),
            reader,
            at: 0,
        }
    }
}

impl Stream for ColumnStream {
    type Row<'a> = ColumnRow<'a>;

    fn read<G: FnMut(&ColumnRow<'_>)>(
        &mut self,
        max: usize,
        mut f: G,
    ) -> Result<usize, StreamError> {
        let reader = &mut self.reader;
        let refill = |rows: &mut ColumnRows| Ok(reader.read_into(rows)?);
        let each = |rows: &ColumnRows, i| f(&rows.row(i));
        read_buffered(
            &mut self.rows,
            &mut self.at,
            max,
            ColumnRows::len,
            refill,
            each,
        )
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        let Some(path) = &self.reader.path else {
            return Err(format!(
                "{} can be read only once (it is not a file): give a file to train more passes, or a cache (`Trainer::cache`)",
                self.reader.name
            )
            .into());
        };
        self.reader = ColumnReader::open(path, self.reader.format, &self.reader.spec)?;
        self.rows.clear();
        self.at = 0;
        Ok(())
    }

    /// The file (for Parquet every file: path, size, times and ends), its format and the
    /// spec's description; empty for an input that is not a file.
    fn source(&self) -> String {
        let file = match (&self.reader.path, self.reader.parquet_source()) {
            (_, Some(files)) => files,
            (Some(path), None) => file_source(path),
            (None, None) => String::new(),
        };
        match file {
            file if file.is_empty() => file,
            file => format!(
                "{file} read as {} with columns {}",
                self.reader.format, self.reader.spec
            ),
        }
    }

    /// The path, or the name given to the reader.
    fn name(&self) -> String {
        self.reader.name.to_string()
    }
}
