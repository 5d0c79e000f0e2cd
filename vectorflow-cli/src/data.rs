//! Reading rows as flags or a model's recipe say: the format, the column spec and VW's
//! crosses, from a file or stdin, whole or chunk by chunk.

use crate::args::DataArgs;
use crate::error::{data, usage, CliError};
use crate::rows::{RowStream, Source};
use std::io::Read;
use std::path::{Path, PathBuf};
use vectorflow::dynnet::{parse_pairs, DataFormat, Recipe};
use vectorflow::io::columns::{ColumnReader, ColumnRows, ColumnSpec, Format};
use vectorflow::io::{LibSvm, OutOfRange, SparseFormat, SparseReader, SparseRows, Vw};

/// How rows are read.
#[derive(Clone, Debug)]
pub struct Reading {
    pub format: DataFormat,
    pub columns: Option<ColumnSpec>,
    pub pairs: Vec<[u8; 2]>,
}

impl Reading {
    /// From the flags: the format given or the file's extension, the column spec of a
    /// table format, VW's crosses.
    pub fn from_flags(d: &DataArgs) -> Result<Reading, CliError> {
        let format = match d.format {
            Some(f) => f,
            None if is_stdin(&d.data) => {
                return Err(usage("reading stdin (-d -) needs --format"));
            }
            None => DataFormat::of_path(&d.data).ok_or_else(|| {
                usage(format!(
                    "cannot tell the format of {} from its name: give --format (libsvm, vw, \
                     csv, jsonl or parquet)",
                    d.data.display()
                ))
            })?,
        };
        let has_columns = d.label.is_some()
            || d.weight.is_some()
            || !d.hash.is_empty()
            || !d.value.is_empty()
            || !d.tokens.is_empty()
            || !d.cross.is_empty();
        let columns = if format.has_columns() {
            let mut b = ColumnSpec::builder();
            if let Some(l) = &d.label {
                b = b.label(l);
            }
            if let Some(w) = &d.weight {
                b = b.weight(w);
            }
            for c in &d.hash {
                b = b.hash(c.clone());
            }
            for c in &d.value {
                b = b.value(c.clone());
            }
            for c in &d.tokens {
                b = b.tokens(c.clone());
            }
            for c in &d.cross {
                b = b.cross(c.clone());
            }
            if !has_columns {
                return Err(usage(format!(
                    "{format} rows need a column spec: --label, and --hash, --value or --tokens \
                     for the features"
                )));
            }
            Some(b.build().map_err(|e| usage(format!("column spec: {e}")))?)
        } else if has_columns {
            return Err(usage(format!(
                "--label, --weight, --hash, --value, --tokens and --cross are for csv, jsonl \
                 and parquet, not {format} rows"
            )));
        } else {
            None
        };
        let pairs = match (format, d.quadratic.is_empty()) {
            (_, true) => Vec::new(),
            (DataFormat::Vw, false) => {
                let mut out = Vec::new();
                for q in &d.quadratic {
                    out.extend(parse_pairs(q).map_err(|e| usage(format!("-q: {e}")))?);
                }
                out
            }
            (f, false) => return Err(usage(format!("-q crosses VW namespaces, not {f} rows"))),
        };
        Ok(Reading {
            format,
            columns,
            pairs,
        })
    }

    /// As a model's recipe says.
    pub fn from_recipe(r: &Recipe) -> Reading {
        Reading {
            format: r.format,
            columns: r.columns.clone(),
            pairs: r.interactions.clone(),
        }
    }

    /// The feature groups (roots) the rows have: the column spec's, or the default one.
    pub fn roots(&self) -> Vec<String> {
        match &self.columns {
            Some(c) => c.roots().into_iter().map(str::to_string).collect(),
            None => vec![String::new()],
        }
    }

    /// The column spec of a table format.
    fn spec(&self) -> Result<&ColumnSpec, CliError> {
        let f = self.format;
        (self.columns.as_ref()).ok_or_else(|| usage(format!("{f} rows need a column spec")))
    }

    /// The LIBSVM reader: ids folded into the net's input, as VW's `-b` does.
    fn libsvm() -> LibSvm {
        LibSvm::new().out_of_range(OutOfRange::Modulo)
    }

    /// The VW reader with the crosses, keeping names when `names`.
    fn vw(&self, names: bool) -> Vw {
        Vw::new().interactions(&self.pairs).names(names)
    }

    /// The column-spec format of a table format, if this build reads it.
    fn table_format(&self) -> Result<Format, CliError> {
        match self.format {
            DataFormat::Csv => Ok(Format::Csv),
            DataFormat::JsonLines => Ok(Format::JsonLines),
            #[cfg(feature = "parquet")]
            DataFormat::Parquet => Ok(Format::Parquet),
            f => Err(usage(format!(
                "this vf reads no {f} rows: build it with `cargo install --path vectorflow-cli \
                 --features parquet`"
            ))),
        }
    }

    /// Opens `path` (`-`: stdin) for reading chunk by chunk; `names` keeps the features'
    /// names (VW's and the column spec's) for audits.
    pub fn open(&self, path: &Path, names: bool) -> Result<Chunks, CliError> {
        let name = if is_stdin(path) {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        let input = || -> Result<Input, CliError> {
            if is_stdin(path) {
                return Ok(Box::new(std::io::stdin()));
            }
            let f = std::fs::File::open(path)
                .map_err(|e| data(format!("cannot open {}: {e}", path.display())))?;
            Ok(Box::new(f))
        };
        Ok(match self.format {
            DataFormat::LibSvm => Chunks::LibSvm(Box::new(Self::libsvm().reader(input()?, &name))),
            DataFormat::Vw => Chunks::Vw(Box::new(self.vw(names).reader(input()?, &name))),
            _ => {
                let spec = self.spec()?;
                let format = self.table_format()?;
                let reader = match format {
                    Format::Csv => ColumnReader::csv(input()?, &name, spec),
                    Format::JsonLines => Ok(ColumnReader::json_lines(input()?, &name, spec)),
                    #[cfg(feature = "parquet")]
                    Format::Parquet if is_stdin(path) => {
                        return Err(usage("Parquet cannot be read from stdin: give a file"))
                    }
                    #[cfg(feature = "parquet")]
                    Format::Parquet => ColumnReader::open(path, format, spec),
                };
                Chunks::Columns(Box::new(reader.map_err(data)?.names(names)))
            }
        })
    }

    /// Every row of `path`.
    pub fn read_all(&self, path: &Path, names: bool) -> Result<Rows, CliError> {
        match self.open(path, names)? {
            Chunks::LibSvm(r) => Ok(Rows::Sparse(r.read_all().map_err(data)?)),
            Chunks::Vw(r) => Ok(Rows::Sparse(r.read_all().map_err(data)?)),
            Chunks::Columns(r) => Ok(Rows::Columns(r.read_all().map_err(data)?)),
        }
    }

    /// The first `n` rows of `path` or more (whole chunks), read once: the rate probe's
    /// rows when training streams the file, so that the probe's trials read memory, not
    /// the text once each.
    pub fn read_first(&self, path: &Path, n: usize) -> Result<Rows, CliError> {
        fn sparse<F: SparseFormat>(
            r: &mut SparseReader<Input, F>,
            n: usize,
        ) -> Result<Rows, CliError> {
            let (mut rows, mut chunk) = (SparseRows::new(), SparseRows::new());
            while rows.len() < n && r.read_into(&mut chunk).map_err(data)? {
                rows.append(&chunk, 0);
            }
            Ok(Rows::Sparse(rows))
        }
        match self.open(path, false)? {
            Chunks::LibSvm(mut r) => sparse(&mut r, n),
            Chunks::Vw(mut r) => sparse(&mut r, n),
            Chunks::Columns(mut r) => {
                let mut rows = ColumnRows::new(r.spec());
                while rows.len() < n && r.append(&mut rows).map_err(data)? {}
                Ok(Rows::Columns(rows))
            }
        }
    }

    /// Opens `path` as a stream, reopened for each pass (with a cache, read once).
    pub fn stream(&self, path: &Path) -> Result<RowStream<'static>, CliError> {
        if is_stdin(path) {
            return Err(usage(
                "a cache (-c) reads its data file again to check it: give a file, not stdin",
            ));
        }
        Ok(RowStream::new(match self.format {
            DataFormat::LibSvm => Source::LibSvm(Self::libsvm().stream(path).map_err(data)?),
            DataFormat::Vw => Source::Vw(self.vw(false).stream(path).map_err(data)?),
            _ => {
                let spec = self.spec()?;
                let reader = ColumnReader::open(path, self.table_format()?, spec).map_err(data)?;
                Source::Columns(vectorflow::io::columns::ColumnStream::new(reader))
            }
        }))
    }
}

/// Whether `path` stands for stdin.
pub fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// The default cache file of `data`: its name with `.cache` appended.
pub fn default_cache(data: &Path) -> PathBuf {
    let mut name = data.as_os_str().to_owned();
    name.push(".cache");
    PathBuf::from(name)
}

type Input = Box<dyn Read + Send>;

/// A reader of chunks of rows.
pub enum Chunks {
    LibSvm(Box<SparseReader<Input, LibSvm>>),
    Vw(Box<SparseReader<Input, Vw>>),
    Columns(Box<ColumnReader>),
}

/// Rows in memory.
pub enum Rows {
    Sparse(SparseRows),
    Columns(ColumnRows),
}

impl Rows {
    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Rows::Sparse(r) => r.len(),
            Rows::Columns(r) => r.len(),
        }
    }

    /// Each row's label.
    pub fn labels(&self) -> Vec<f32> {
        match self {
            Rows::Sparse(r) => r.labels().to_vec(),
            Rows::Columns(r) => r.iter().map(|row| row.label()).collect(),
        }
    }
}

impl Chunks {
    /// Reads the next chunk into `rows`, replacing its rows; false at the end. `rows`
    /// must come from [`Chunks::buffer`].
    pub fn next(&mut self, rows: &mut Rows) -> Result<bool, CliError> {
        match (self, rows) {
            (Chunks::LibSvm(r), Rows::Sparse(buf)) => r.read_into(buf).map_err(data),
            (Chunks::Vw(r), Rows::Sparse(buf)) => r.read_into(buf).map_err(data),
            (Chunks::Columns(r), Rows::Columns(buf)) => r.read_into(buf).map_err(data),
            _ => Err(data("internal: a chunk buffer of another kind of rows")),
        }
    }

    /// An empty buffer for [`Chunks::next`].
    pub fn buffer(&self) -> Rows {
        match self {
            Chunks::Columns(r) => Rows::Columns(ColumnRows::new(r.spec())),
            _ => Rows::Sparse(SparseRows::new()),
        }
    }
}
