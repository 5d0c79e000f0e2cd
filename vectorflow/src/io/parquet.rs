//! Parquet files and Hive-partitioned directories of them (as Spark, pyarrow and DuckDB
//! write), read into the caller's `#[derive(Features, Deserialize)]` rows. Needs the
//! cargo feature `parquet`.
//!
//! ```text
//! let mut rows = ParquetStream::<Click<'static>>::open("clicks/")?; // a file or a directory
//! ```
//!
//! Columns are matched to the row's fields by name (serde's names, so `#[serde(rename)]`
//! works); the `key=value` directory names of a partitioned dataset are string columns
//! too, parsed into the field's type (`year=2024` into a `u16`). Booleans, integers,
//! floats, decimals (as floats), dates and timestamps (as integers: days, or units since
//! the epoch), strings and binary are read, dictionary-encoded or not; a null reads
//! into an `Option` field as `None`, and an `Option` field with no column is `None`.
//! `&str` fields borrow the decoded column, so rows are not copied. Codecs: uncompressed,
//! snappy (what Spark, pyarrow and DuckDB write by default) and zstd; a file in another
//! (gzip, brotli, lz4) is an error naming the column, when the file is opened.
//!
//! A directory is walked for files ending in `.parquet` (names starting with `_` or `.`,
//! such as Spark's `_SUCCESS`, are skipped), sorted by path: the order of the rows does
//! not depend on the file system or on threads. Row groups are decoded on rayon's
//! threads, a few at a time (one per thread), and handed out in order; only the columns
//! the row type names are decoded. Memory is that of those few decoded row groups (Spark
//! writes row groups of up to 128 MiB).
//!
//! Errors are [`ReadError`]s naming the file, the row group and the row within it
//! (both 0-based, as pyarrow's `read_row_group(g).slice(row, 1)` would find them), the
//! field and what was expected. A file that is not Parquet, or is truncated or
//! corrupt, is an error, never a panic: each column chunk's extent is checked against
//! the file's size before anything is read (the parquet crate would otherwise allocate
//! a buffer of the length the footer claims), and a panic inside the decoder is turned
//! into an error. So is every page header of the columns read, when the file is opened:
//! the decoder would otherwise reserve what a header claims (a page's uncompressed size,
//! a dictionary's number of values) before finding it false. A page lies within its
//! column chunk, decompresses to at most its chunk's total uncompressed size and 256 MiB
//! (snappy: at most 32 times its compressed size), and a dictionary page claims no more
//! values than its bytes hold; else the error names the file, row group, column and page.
//! A page whose writer stored a CRC-32 checksum (pyarrow's `write_page_checksum=True`,
//! Spark's `parquet.page.write-checksum.enabled`) is verified when decoded: a damaged page
//! is an error naming the column, not other values.
//!
//! ```no_run
//! use vectorflow::io::parquet::ParquetStream;
//! use vectorflow::prelude::*;
//!
//! #[derive(Features, serde::Deserialize)]
//! struct Click<'a> {
//!     #[label]
//!     clicked: bool,
//!     #[hash]
//!     site: &'a str,
//!     #[hash]
//!     country: Option<&'a str>, // a partition key: clicks/country=FR/part-0.parquet
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! type Lr = network![Sparse<{ 1 << 20 }> => Linear<1>];
//! let mut net = Lr::new(Init::zeros());
//! let mut rows = ParquetStream::<Click<'static>>::open("clicks/")?;
//! Trainer::new(AdaGrad::new(0.5))
//!     .passes(3)
//!     .fit_stream(&mut net, &mut rows, Logistic)?;
//! # Ok(())
//! # }
//! ```

mod pages;

use super::ReadError;
use crate::features::{Labeled, RowType};
use crate::train::{Stream, StreamError};
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::basic::Compression;
use rayon::prelude::*;
use serde::de::{self, DeserializeSeed, MapAccess, Visitor};
use serde::Deserialize;
use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `key=value` directories above a file (value `None` for Hive's null partition).
type Parts = Vec<(String, Option<String>)>;

/// The names of the columns read (the row type's fields, or a column spec's), or `None`
/// for every column.
type Wanted = Option<Arc<[Box<str>]>>;

/// Rows decoded per Arrow batch.
const BATCH_ROWS: usize = 8192;

/// A Parquet file, or a Hive-partitioned directory of them, read as a [`Stream`] of the
/// caller's rows: `T` names the row type without its lifetime (`Click<'static>` for
/// `Click<'a>`, see [`RowType`]). See the [module docs](self).
pub struct ParquetStream<T> {
    data: Dataset,
    /// The next unit (file, row group) to decode.
    next: usize,
    /// Decoded row groups (or the error decoding one), in order.
    ready: VecDeque<Result<Decoded, ReadError>>,
    /// Where in the front of `ready`: batch, and row within that batch.
    at_batch: usize,
    at_row: usize,
    _row: PhantomData<fn() -> T>,
}

impl<T> ParquetStream<T>
where
    T: RowType,
    for<'a> T::Row<'a>: Deserialize<'a>,
{
    /// Opens a Parquet file, or a directory holding a (Hive-partitioned) dataset. Reads
    /// every file's footer (in parallel), so a file that is not Parquet fails here.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        Self::with_fields(path.as_ref(), fields_of::<T::Row<'_>>(), None)
    }

    /// Opens rank `shard.rank()`'s part of a Parquet file or directory (see
    /// [`Shard`](super::Shard)): its share of the row groups, balanced by rows.
    pub fn open_shard(path: impl AsRef<Path>, shard: super::Shard) -> Result<Self, ReadError> {
        Self::with_fields(path.as_ref(), fields_of::<T::Row<'_>>(), Some(shard))
    }

    /// The files read, in order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.data.read_files().map(|f| f.path.as_path())
    }

    /// The number of rows read, from the files' footers.
    pub fn rows(&self) -> u64 {
        self.data.rows()
    }
}

impl<T> ParquetStream<T> {
    /// Decodes the next few row groups in parallel; false at the end.
    fn fill(&mut self) -> bool {
        let units = &self.data.units[self.next..];
        let take = units.len().min(rayon::current_num_threads().max(1));
        let files = &self.data.files;
        let decoded: Vec<_> = units[..take]
            .par_iter()
            .map(|&(file, group)| decode(&files[file], file, group))
            .collect();
        self.next += take;
        self.ready.extend(decoded);
        take > 0
    }
}

impl<T> Stream for ParquetStream<T>
where
    T: RowType,
    for<'a> T::Row<'a>: Deserialize<'a> + Labeled,
{
    type Row<'a> = T::Row<'a>;

    fn read<G: FnMut(&T::Row<'_>)>(&mut self, max: usize, mut f: G) -> Result<usize, StreamError> {
        Ok(self.read_with(max, |at| {
            f(&at.de(PhantomData)?);
            Ok(())
        })?)
    }

    /// Opens the path again (a directory is walked again) and starts at its first row.
    fn rewind(&mut self) -> Result<(), StreamError> {
        let shard = self.data.plan.as_ref().map(|p| p.shard());
        self.data = Dataset::open(&self.data.root, self.data.fields.clone(), shard)?;
        self.next = 0;
        self.ready.clear();
        (self.at_batch, self.at_row) = (0, 0);
        Ok(())
    }

    /// The file or directory opened.
    fn name(&self) -> String {
        self.data.root.display().to_string()
    }

    /// Each file's path, size, times and ends, and the shard.
    fn source(&self) -> String {
        self.files_source()
    }

    fn shard(&self) -> Option<&super::ShardPlan> {
        self.data.plan.as_ref()
    }
}

impl<T> ParquetStream<T> {
    /// Opens a file or directory to read the columns `columns` (and no other), for a
    /// [`ColumnSpec`](super::columns::ColumnSpec)'s reader.
    pub(crate) fn open_columns(path: &Path, columns: &[&str]) -> Result<Self, ReadError> {
        let fields = columns.iter().map(|&c| c.into()).collect();
        ParquetStream::with_fields(path, Some(fields), None)
    }

    fn with_fields(
        path: &Path,
        fields: Wanted,
        shard: Option<super::Shard>,
    ) -> Result<Self, ReadError> {
        Ok(ParquetStream {
            data: Dataset::open(path, fields, shard)?,
            next: 0,
            ready: VecDeque::new(),
            at_batch: 0,
            at_row: 0,
            _row: PhantomData,
        })
    }

    /// Each file's path, size, times and ends, and the shard.
    pub(crate) fn files_source(&self) -> String {
        let files: Vec<_> = self
            .data
            .read_files()
            .map(|f| super::identity::file_source(&f.path))
            .collect();
        match self.data.plan.as_ref().filter(|p| p.is_part()) {
            Some(plan) => format!("{}, {}", files.join("; "), plan.describe()),
            None => files.join("; "),
        }
    }

    /// Each file's name with its columns and partition keys.
    pub(crate) fn file_columns(&self) -> impl Iterator<Item = (&Arc<str>, Vec<&str>)> {
        self.data.files.iter().map(|f| {
            let schema = f.meta.schema();
            let columns = schema.fields().iter().map(|c| c.name().as_str());
            let keys = f.parts.iter().map(|(k, _)| k.as_str());
            (&f.name, columns.chain(keys).collect())
        })
    }

    /// Reads about `max` rows, handing each to `f` to deserialize ([`RowAt::de`]);
    /// returns how many, 0 at the end.
    pub(crate) fn read_with<G>(&mut self, max: usize, mut f: G) -> Result<usize, ReadError>
    where
        G: FnMut(RowAt<'_>) -> Result<(), ReadError>,
    {
        let mut n = 0;
        while n < max {
            if self.ready.is_empty() && !self.fill() {
                break;
            }
            let unit = match self.ready.front() {
                Some(Ok(unit)) => unit,
                _ => match self.ready.pop_front() {
                    Some(Err(e)) => return Err(e),
                    _ => continue,
                },
            };
            let Some(batch) = unit.batches.get(self.at_batch) else {
                self.ready.pop_front();
                self.at_batch = 0;
                continue;
            };
            let file = &self.data.files[unit.file];
            let end = batch.rows.num_rows().min(self.at_row + max - n);
            let plan = Plan::new(&batch.rows, &file.parts, self.data.fields.as_deref());
            for row in self.at_row..end {
                f(RowAt {
                    plan: &plan,
                    file,
                    group: unit.group,
                    in_group: batch.first + row,
                    row,
                })?;
            }
            n += end - self.at_row;
            self.at_row = end;
            if end == batch.rows.num_rows() {
                self.at_batch += 1;
                self.at_row = 0;
            }
        }
        Ok(n)
    }
}

/// One row of a decoded batch, and where it is, for [`ParquetStream::read_with`].
pub(crate) struct RowAt<'p> {
    plan: &'p Plan<'p>,
    file: &'p ParquetFile,
    group: usize,
    in_group: usize,
    row: usize,
}

impl<'p> RowAt<'p> {
    /// The row deserialized with `seed`, borrowing the batch.
    pub(crate) fn de<S: DeserializeSeed<'p>>(&self, seed: S) -> Result<S::Value, ReadError> {
        (self.plan).row_seed(seed, self.file, self.group, self.in_group, self.row)
    }

    /// An error about this row: `field`, then `msg`.
    pub(crate) fn error(&self, field: Option<String>, msg: String) -> ReadError {
        let at = (self.in_group + 1) as u64;
        ReadError::message(&self.file.name, at, field, msg).in_row_group(self.group)
    }
}

/// A whole Parquet dataset decoded into memory (row groups decoded in parallel), for
/// `Trainer::fit` on a slice of rows that borrow it.
///
/// ```no_run
/// use vectorflow::io::parquet::ParquetData;
/// use vectorflow::prelude::*;
///
/// #[derive(Features, serde::Deserialize)]
/// struct Click<'a> {
///     #[label]
///     clicked: bool,
///     #[hash]
///     site: &'a str,
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// type Lr = network![Sparse<{ 1 << 20 }> => Linear<1>];
/// let mut net = Lr::new(Init::zeros());
/// let data = ParquetData::read_all::<Click>("clicks.parquet")?;
/// let rows: Vec<Click> = data.rows()?;
/// Trainer::new(AdaGrad::new(0.5)).fit(&mut net, &rows, Logistic)?;
/// # Ok(())
/// # }
/// ```
pub struct ParquetData {
    data: Dataset,
    units: Vec<Decoded>,
}

impl ParquetData {
    /// Reads and decodes every row of a file or a partitioned directory (only the
    /// columns `R` reads); [`rows`](Self::rows) then gives them.
    pub fn read_all<'de, R: Deserialize<'de>>(path: impl AsRef<Path>) -> Result<Self, ReadError> {
        Self::read(path.as_ref(), fields_of::<R>(), None)
    }

    /// Reads and decodes rank `shard.rank()`'s part of a file or a partitioned directory
    /// (see [`Shard`](super::Shard)): its share of the row groups, balanced by rows.
    pub fn read_shard<'de, R: Deserialize<'de>>(
        path: impl AsRef<Path>,
        shard: super::Shard,
    ) -> Result<Self, ReadError> {
        Self::read(path.as_ref(), fields_of::<R>(), Some(shard))
    }

    fn read(path: &Path, fields: Wanted, shard: Option<super::Shard>) -> Result<Self, ReadError> {
        let data = Dataset::open(path, fields, shard)?;
        let units = data
            .units
            .par_iter()
            .map(|&(file, group)| decode(&data.files[file], file, group))
            .collect::<Result<_, _>>()?;
        Ok(ParquetData { data, units })
    }

    /// The rows, borrowing the decoded columns.
    pub fn rows<'a, R: Deserialize<'a>>(&'a self) -> Result<Vec<R>, ReadError> {
        let mut out = Vec::with_capacity(self.units.iter().map(|u| u.rows).sum());
        for unit in &self.units {
            let file = &self.data.files[unit.file];
            for batch in &unit.batches {
                let plan = Plan::new(&batch.rows, &file.parts, self.data.fields.as_deref());
                for row in 0..batch.rows.num_rows() {
                    out.push(plan.row(file, unit.group, batch.first + row, row)?);
                }
            }
        }
        Ok(out)
    }

    /// The files read, in order.
    pub fn files(&self) -> impl Iterator<Item = &Path> {
        self.data.read_files().map(|f| f.path.as_path())
    }

    /// The shard's plan, when read by [`read_shard`](Self::read_shard).
    pub fn shard(&self) -> Option<&super::ShardPlan> {
        self.data.plan.as_ref()
    }
}

/// The files of a dataset and their row groups, in order.
struct Dataset {
    root: PathBuf,
    files: Vec<ParquetFile>,
    /// (file, row group), in reading order.
    units: Vec<(usize, usize)>,
    /// The row type's fields, when it says (a struct does): only their columns are read.
    fields: Wanted,
    /// The shard, when one rank's part is read: `units` are then that part's.
    plan: Option<super::ShardPlan>,
}

struct ParquetFile {
    path: PathBuf,
    name: Arc<str>,
    parts: Parts,
    meta: ArrowReaderMetadata,
    projection: ProjectionMask,
    /// The root columns read (all when `None`).
    roots: Option<Vec<usize>>,
}

/// One row group, decoded.
struct Decoded {
    file: usize,
    group: usize,
    rows: usize,
    batches: Vec<Batch>,
}

struct Batch {
    rows: RecordBatch,
    /// The row group's row at which it starts.
    first: usize,
}

impl Dataset {
    fn open(
        root: &Path,
        fields: Wanted,
        shard: Option<super::Shard>,
    ) -> Result<Dataset, ReadError> {
        let name: Arc<str> = root.display().to_string().into();
        let meta = std::fs::metadata(root).map_err(|e| ReadError::io(&name, e))?;
        let mut paths = Vec::new();
        if meta.is_dir() {
            walk(root, &mut Vec::new(), &mut paths)?;
            if paths.is_empty() {
                return Err(invalid(&name, "no .parquet files in this directory".into()));
            }
            paths.sort_by(|a, b| a.0.cmp(&b.0));
        } else {
            paths.push((root.to_path_buf(), Vec::new()));
        }
        let files = paths
            .into_par_iter()
            .map(|(path, parts)| ParquetFile::open(path, parts, fields.as_deref()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut units: Vec<(usize, usize)> = files
            .iter()
            .enumerate()
            .flat_map(|(i, f)| (0..f.meta.metadata().num_row_groups()).map(move |g| (i, g)))
            .collect();
        let plan = shard.map(|shard| {
            let groups = units.iter().map(|&(f, g)| (f, g, group_rows(&files[f], g)));
            let paths = files.iter().map(|f| f.path.clone()).collect();
            super::ShardPlan::row_groups(root, shard, paths, groups.collect())
        });
        if let Some(plan) = &plan {
            units.retain(|&(f, g)| plan.reads_group(f, g));
        }
        Ok(Dataset {
            root: root.to_path_buf(),
            files,
            units,
            fields,
            plan,
        })
    }

    /// The number of rows read, from the footers.
    fn rows(&self) -> u64 {
        if self.plan.is_some() {
            let rows = self
                .units
                .iter()
                .map(|&(f, g)| group_rows(&self.files[f], g));
            return rows.sum();
        }
        let rows = self
            .files
            .iter()
            .map(|f| f.meta.metadata().file_metadata().num_rows());
        rows.map(|n| n.max(0) as u64).sum()
    }

    /// The files read, in order: all of them, or a shard's, those it reads a row group of.
    fn read_files(&self) -> impl Iterator<Item = &ParquetFile> {
        // The units are sorted by file.
        let has_unit = |f: usize| self.units.binary_search_by(|u| u.0.cmp(&f)).is_ok();
        (0..self.files.len())
            .filter(move |&f| self.plan.is_none() || has_unit(f))
            .map(|f| &self.files[f])
    }
}

/// The rows of row group `group` of `file`, from its footer.
fn group_rows(file: &ParquetFile, group: usize) -> u64 {
    file.meta.metadata().row_group(group).num_rows().max(0) as u64
}

/// Collects the `.parquet` files under `dir` with the `key=value` directories above them.
fn walk(dir: &Path, parts: &mut Parts, out: &mut Vec<(PathBuf, Parts)>) -> Result<(), ReadError> {
    let name: Arc<str> = dir.display().to_string().into();
    let entries = std::fs::read_dir(dir).map_err(|e| ReadError::io(&name, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ReadError::io(&name, e))?;
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            continue;
        };
        if file_name.starts_with(['_', '.']) {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| ReadError::io(&name, e))?;
        // A symbolic link is followed: partitions are sometimes linked in.
        let is_dir = kind.is_dir() || (kind.is_symlink() && path.is_dir());
        if is_dir {
            let pushed = match file_name.split_once('=') {
                Some((key, value)) => {
                    let value = (value != "__HIVE_DEFAULT_PARTITION__").then(|| unescape(value));
                    parts.push((unescape(key), value));
                    true
                }
                None => false,
            };
            walk(&path, parts, out)?;
            if pushed {
                parts.pop();
            }
        } else if file_name.ends_with(".parquet") {
            out.push((path, parts.clone()));
        }
    }
    Ok(())
}

/// Undoes the `%XX` escapes Hive and Spark write in partition directory names.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

impl ParquetFile {
    fn open(
        path: PathBuf,
        parts: Parts,
        fields: Option<&[Box<str>]>,
    ) -> Result<ParquetFile, ReadError> {
        let name: Arc<str> = path.display().to_string().into();
        let file = File::open(&path).map_err(|e| ReadError::io(&name, e))?;
        let len = file.metadata().map_err(|e| ReadError::io(&name, e))?.len();
        let meta = guard(|| ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()))
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|e| invalid(&name, format!("not a readable Parquet file: {e}")))?;
        // The reader allocates each column chunk's claimed length before reading it.
        for (g, group) in meta.metadata().row_groups().iter().enumerate() {
            for col in group.columns() {
                let start = col
                    .dictionary_page_offset()
                    .unwrap_or(col.data_page_offset());
                let end = start.checked_add(col.compressed_size());
                let inside = start >= 0
                    && col.compressed_size() >= 0
                    && end.is_some_and(|end| end as u64 <= len);
                if !inside {
                    return Err(ReadError::parse(
                        &name,
                        0,
                        Some(format!("column `{}`", col.column_path().string())),
                        format!(
                            "a column chunk within the file's {len} bytes, found {} bytes at offset {start}",
                            col.compressed_size()
                        ),
                        None,
                    )
                    .in_row_group(g));
                }
                // A codec left out of this build would fail only when the chunk is read.
                let read = wants(fields, &col.column_path().parts()[0]);
                let known = matches!(
                    col.compression(),
                    Compression::UNCOMPRESSED | Compression::SNAPPY | Compression::ZSTD(_)
                );
                if read && !known {
                    return Err(ReadError::parse(
                        &name,
                        0,
                        Some(format!("column `{}`", col.column_path().string())),
                        format!(
                            "a codec vectorflow reads (uncompressed, snappy or zstd), found {}",
                            col.compression()
                        ),
                        None,
                    )
                    .in_row_group(g));
                }
            }
        }
        // The decoder would allocate what a page header claims: check the headers of
        // the columns read, once every chunk is known to lie within the file.
        for (g, group) in meta.metadata().row_groups().iter().enumerate() {
            for col in group.columns() {
                let read = wants(fields, &col.column_path().parts()[0]);
                if !read {
                    continue;
                }
                pages::check_chunk(&file, col).map_err(|expected| {
                    ReadError::parse(
                        &name,
                        0,
                        Some(format!("column `{}`", col.column_path().string())),
                        expected,
                        None,
                    )
                    .in_row_group(g)
                })?;
            }
        }
        let roots: Option<Vec<usize>> = fields.map(|fields| {
            (meta.schema().fields().iter().enumerate())
                .filter(|(_, f)| wants(Some(fields), f.name()))
                .map(|(i, _)| i)
                .collect()
        });
        let projection = match &roots {
            Some(roots) => ProjectionMask::roots(
                meta.metadata().file_metadata().schema_descr(),
                roots.iter().copied(),
            ),
            None => ProjectionMask::all(),
        };
        Ok(ParquetFile {
            path,
            name,
            parts,
            meta,
            projection,
            roots,
        })
    }
}

/// Decodes row group `group` of `file` (number `index` of the dataset). On failure, finds
/// the column that fails and the batch of rows where, for the error.
fn decode(file: &ParquetFile, index: usize, group: usize) -> Result<Decoded, ReadError> {
    let (batches, result) = decode_columns(file, group, file.projection.clone())?;
    let Err(e) = result else {
        let rows = batches.last().map_or(0, |b| b.first + b.rows.num_rows());
        return Ok(Decoded {
            file: index,
            group,
            rows,
            batches,
        });
    };
    let descr = file.meta.metadata().file_metadata().schema_descr();
    for (i, field) in file.meta.schema().fields().iter().enumerate() {
        if !file.roots.as_ref().is_none_or(|r| r.contains(&i)) {
            continue;
        }
        let (ok, result) = decode_columns(file, group, ProjectionMask::roots(descr, [i]))?;
        if let Err(e) = result {
            let from = ok.last().map_or(0, |b| b.first + b.rows.num_rows());
            let msg = format!("corrupt or unreadable (in the rows from this one on): {e}");
            let column = Some(format!("column `{}`", field.name()));
            return Err(
                ReadError::message(&file.name, from as u64 + 1, column, msg).in_row_group(group)
            );
        }
    }
    let msg = format!("corrupt or unreadable: {e}");
    Err(ReadError::message(&file.name, 0, None, msg).in_row_group(group))
}

/// The batches of `columns` of a row group that decode, and how decoding ended.
fn decode_columns(
    file: &ParquetFile,
    group: usize,
    columns: ProjectionMask,
) -> Result<(Vec<Batch>, Result<(), String>), ReadError> {
    let handle = File::open(&file.path).map_err(|e| ReadError::io(&file.name, e))?;
    let mut batches = Vec::new();
    let result = guard(|| {
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, file.meta.clone())
            .with_row_groups(vec![group])
            .with_projection(columns)
            .with_batch_size(BATCH_ROWS)
            .build()?;
        let mut first = 0;
        for rows in reader {
            let rows = rows?;
            let n = rows.num_rows();
            batches.push(Batch { rows, first });
            first += n;
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    });
    let result = result.and_then(|r| r.map_err(|e| e.to_string()));
    Ok((batches, result))
}

/// Runs `f`, turning a panic of the decoder (on corrupt input) into an error.
fn guard<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let msg = (p.downcast_ref::<&str>().map(|s| s.to_string()))
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        format!("the decoder failed: {msg}")
    })
}

fn invalid(name: &Arc<str>, msg: String) -> ReadError {
    ReadError::io(
        name,
        std::io::Error::new(std::io::ErrorKind::InvalidData, msg),
    )
}

/// The fields of a struct row type, found by asking it to deserialize from a probe.
fn fields_of<'de, R: Deserialize<'de>>() -> Wanted {
    match R::deserialize(Probe) {
        Err(DeError::Probe(Some(fields))) => Some(fields.iter().map(|&f| f.into()).collect()),
        _ => None,
    }
}

/// Whether `name` is a column read: one of `fields`, or any when `None`.
fn wants(fields: Option<&[Box<str>]>, name: &str) -> bool {
    fields.is_none_or(|f| f.iter().any(|n| **n == *name))
}

struct Probe;

impl<'de> de::Deserializer<'de> for Probe {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, DeError> {
        Err(DeError::Probe(None))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, DeError> {
        Err(DeError::Probe(Some(fields)))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// The deserializer's error, before the file and row are attached.
#[derive(Debug)]
enum DeError {
    Custom(String),
    Missing(&'static str),
    Probe(Option<&'static [&'static str]>),
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeError::Custom(m) => f.write_str(m),
            DeError::Missing(field) => write!(f, "missing field `{field}`"),
            DeError::Probe(_) => f.write_str("probe"),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        DeError::Custom(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        DeError::Missing(field)
    }
}

/// Where a field's value comes from.
#[derive(Clone, Copy)]
enum Source<'a> {
    Column(&'a dyn Array),
    Part(Option<&'a str>),
}

/// The fields of one batch's rows and where each comes from.
struct Plan<'a> {
    parts: &'a Parts,
    fields: Vec<(&'a str, Source<'a>)>,
}

impl<'a> Plan<'a> {
    fn new(batch: &'a RecordBatch, parts: &'a Parts, wanted: Option<&'a [Box<str>]>) -> Plan<'a> {
        let schema = batch.schema_ref();
        let find = |name: &str| -> Option<Source<'a>> {
            match schema.index_of(name) {
                Ok(i) => Some(Source::Column(batch.column(i).as_ref())),
                Err(_) => {
                    (parts.iter().find(|(k, _)| k == name)).map(|(_, v)| Source::Part(v.as_deref()))
                }
            }
        };
        let fields = match wanted {
            Some(wanted) => (wanted.iter())
                .filter_map(|name| Some((&**name, find(name)?)))
                .collect(),
            None => {
                let columns = schema.fields().iter().map(|f| f.name().as_str());
                let keys = parts.iter().map(|(k, _)| k.as_str());
                let mut names: Vec<&str> = columns.collect();
                names.extend(keys.filter(|k| schema.index_of(k).is_err()));
                names
                    .into_iter()
                    .filter_map(|n| Some((n, find(n)?)))
                    .collect()
            }
        };
        Plan { parts, fields }
    }

    /// Row `row` of the batch, which is row `in_group` of row group `group` of `file`.
    fn row<R: Deserialize<'a>>(
        &self,
        file: &ParquetFile,
        group: usize,
        in_group: usize,
        row: usize,
    ) -> Result<R, ReadError> {
        self.row_seed(PhantomData, file, group, in_group, row)
    }

    /// As [`row`](Self::row), deserialized with `seed`.
    fn row_seed<S: DeserializeSeed<'a>>(
        &self,
        seed: S,
        file: &ParquetFile,
        group: usize,
        in_group: usize,
        row: usize,
    ) -> Result<S::Value, ReadError> {
        let current = Cell::new(None);
        seed.deserialize(RowDe {
            plan: self,
            row,
            current: &current,
        })
        .map_err(|e| {
            let at = (in_group + 1) as u64;
            let err = match e {
                DeError::Missing(field) => ReadError::parse(
                    &file.name,
                    at,
                    Some(format!("field `{field}`")),
                    format!("a column `{field}`; {}", self.columns(file)),
                    None,
                ),
                e => match current.get() {
                    Some((name, Source::Column(array))) => ReadError::message(
                        &file.name,
                        at,
                        Some(format!("column `{name}`")),
                        format!("{e} (the column is {})", array.data_type()),
                    ),
                    Some((name, Source::Part(_))) => ReadError::message(
                        &file.name,
                        at,
                        Some(format!("partition key `{name}`")),
                        e.to_string(),
                    ),
                    None => ReadError::message(&file.name, at, None, e.to_string()),
                },
            };
            err.in_row_group(group)
        })
    }

    /// The columns and partition keys there are, for an error message.
    fn columns(&self, file: &ParquetFile) -> String {
        let schema = file.meta.schema();
        let names: Vec<_> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut out = format!("the file has columns {}", names.join(", "));
        if !self.parts.is_empty() {
            let keys: Vec<_> = self.parts.iter().map(|(k, _)| k.as_str()).collect();
            out += &format!(" and partition keys {}", keys.join(", "));
        }
        out
    }
}

/// One row of a batch, as a map from field names to values.
struct RowDe<'p, 'a> {
    plan: &'p Plan<'a>,
    row: usize,
    /// The field being read, for errors.
    current: &'p Cell<Option<(&'a str, Source<'a>)>>,
}

impl<'de> de::Deserializer<'de> for RowDe<'_, 'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(Fields { de: self, at: 0 })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Fields<'p, 'a> {
    de: RowDe<'p, 'a>,
    at: usize,
}

impl<'de> MapAccess<'de> for Fields<'_, 'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(&(name, source)) = self.de.plan.fields.get(self.at) else {
            return Ok(None);
        };
        self.de.current.set(Some((name, source)));
        let name = de::value::BorrowedStrDeserializer::<DeError>::new(name);
        seed.deserialize(name).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (_, source) = self.de.plan.fields[self.at];
        self.at += 1;
        match source {
            Source::Column(array) => seed.deserialize(Value {
                array,
                row: self.de.row,
            }),
            Source::Part(value) => seed.deserialize(Part(value)),
        }
    }
}

/// One value of a column.
struct Value<'a> {
    array: &'a dyn Array,
    row: usize,
}

impl<'de> de::Deserializer<'de> for Value<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let (a, i) = (self.array, self.row);
        if a.is_null(i) {
            return Err(DeError::Custom(
                "expected a value, found null (an `Option` field reads nulls as `None`)".into(),
            ));
        }
        match a.data_type() {
            DataType::Boolean => v.visit_bool(a.as_boolean().value(i)),
            DataType::Int8 => v.visit_i8(a.as_primitive::<Int8Type>().value(i)),
            DataType::Int16 => v.visit_i16(a.as_primitive::<Int16Type>().value(i)),
            DataType::Int32 => v.visit_i32(a.as_primitive::<Int32Type>().value(i)),
            DataType::Int64 => v.visit_i64(a.as_primitive::<Int64Type>().value(i)),
            DataType::UInt8 => v.visit_u8(a.as_primitive::<UInt8Type>().value(i)),
            DataType::UInt16 => v.visit_u16(a.as_primitive::<UInt16Type>().value(i)),
            DataType::UInt32 => v.visit_u32(a.as_primitive::<UInt32Type>().value(i)),
            DataType::UInt64 => v.visit_u64(a.as_primitive::<UInt64Type>().value(i)),
            DataType::Float32 => v.visit_f32(a.as_primitive::<Float32Type>().value(i)),
            DataType::Float64 => v.visit_f64(a.as_primitive::<Float64Type>().value(i)),
            DataType::Decimal128(_, scale) => {
                let x = a
                    .as_primitive::<arrow_array::types::Decimal128Type>()
                    .value(i);
                v.visit_f64(x as f64 / 10f64.powi(i32::from(*scale)))
            }
            DataType::Date32 => {
                v.visit_i32(a.as_primitive::<arrow_array::types::Date32Type>().value(i))
            }
            DataType::Date64 => {
                v.visit_i64(a.as_primitive::<arrow_array::types::Date64Type>().value(i))
            }
            DataType::Timestamp(unit, _) => {
                use arrow_array::types::*;
                use arrow_schema::TimeUnit;
                v.visit_i64(match unit {
                    TimeUnit::Second => a.as_primitive::<TimestampSecondType>().value(i),
                    TimeUnit::Millisecond => a.as_primitive::<TimestampMillisecondType>().value(i),
                    TimeUnit::Microsecond => a.as_primitive::<TimestampMicrosecondType>().value(i),
                    TimeUnit::Nanosecond => a.as_primitive::<TimestampNanosecondType>().value(i),
                })
            }
            DataType::Utf8 => v.visit_borrowed_str(a.as_string::<i32>().value(i)),
            DataType::LargeUtf8 => v.visit_borrowed_str(a.as_string::<i64>().value(i)),
            DataType::Utf8View => v.visit_borrowed_str(a.as_string_view().value(i)),
            DataType::Binary => v.visit_borrowed_bytes(a.as_binary::<i32>().value(i)),
            DataType::LargeBinary => v.visit_borrowed_bytes(a.as_binary::<i64>().value(i)),
            DataType::BinaryView => v.visit_borrowed_bytes(a.as_binary_view().value(i)),
            DataType::Dictionary(key, _) => {
                let (key, values) = match key.as_ref() {
                    DataType::Int8 => dict_key(a.as_dictionary::<Int8Type>(), i),
                    DataType::Int16 => dict_key(a.as_dictionary::<Int16Type>(), i),
                    DataType::Int32 => dict_key(a.as_dictionary::<Int32Type>(), i),
                    DataType::Int64 => dict_key(a.as_dictionary::<Int64Type>(), i),
                    DataType::UInt8 => dict_key(a.as_dictionary::<UInt8Type>(), i),
                    DataType::UInt16 => dict_key(a.as_dictionary::<UInt16Type>(), i),
                    DataType::UInt32 => dict_key(a.as_dictionary::<UInt32Type>(), i),
                    DataType::UInt64 => dict_key(a.as_dictionary::<UInt64Type>(), i),
                    other => return Err(unsupported(other)),
                };
                if key >= values.len() {
                    return Err(DeError::Custom(format!(
                        "expected a dictionary key below {}, found {key}",
                        values.len()
                    )));
                }
                Value {
                    array: values,
                    row: key,
                }
                .deserialize_any(v)
            }
            other => Err(unsupported(other)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if self.array.is_null(self.row) {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

fn dict_key<K: arrow_array::types::ArrowDictionaryKeyType>(
    a: &arrow_array::DictionaryArray<K>,
    i: usize,
) -> (usize, &dyn Array) {
    let key = num_to_usize(a.keys().value(i));
    (key, a.values().as_ref())
}

fn num_to_usize<N: arrow_array::ArrowNativeTypeOp>(n: N) -> usize {
    n.to_usize().unwrap_or(usize::MAX)
}

fn unsupported(t: &DataType) -> DeError {
    DeError::Custom(format!(
        "expected a column of booleans, integers, floats, decimals, dates, timestamps, strings or binary, found a column of {t}"
    ))
}

/// A partition key's value: a string, parsed into the field's type.
struct Part<'a>(Option<&'a str>);

macro_rules! parse_part {
    ($($method:ident $t:ty => $visit:ident),*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            let s = self.str()?;
            match s.parse::<$t>() {
                Ok(x) => v.$visit(x),
                Err(_) => Err(DeError::Custom(format!(
                    "expected {}, found `{s}`",
                    stringify!($t)
                ))),
            }
        }
    )*};
}

impl<'a> Part<'a> {
    fn str(&self) -> Result<&'a str, DeError> {
        self.0.ok_or_else(|| {
            DeError::Custom(
                "expected a value, found Hive's null partition (an `Option` field reads it as `None`)"
                    .into(),
            )
        })
    }
}

impl<'de> de::Deserializer<'de> for Part<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_borrowed_str(self.str()?)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.0 {
            None => v.visit_none(),
            Some(_) => v.visit_some(self),
        }
    }

    parse_part! {
        deserialize_bool bool => visit_bool,
        deserialize_i8 i8 => visit_i8,
        deserialize_i16 i16 => visit_i16,
        deserialize_i32 i32 => visit_i32,
        deserialize_i64 i64 => visit_i64,
        deserialize_u8 u8 => visit_u8,
        deserialize_u16 u16 => visit_u16,
        deserialize_u32 u32 => visit_u32,
        deserialize_u64 u64 => visit_u64,
        deserialize_f32 f32 => visit_f32,
        deserialize_f64 f64 => visit_f64
    }

    serde::forward_to_deserialize_any! {
        i128 u128 char str string bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}
