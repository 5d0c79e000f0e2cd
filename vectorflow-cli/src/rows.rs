//! One row type and one stream type for every format, so the trainer and the net's
//! forward pass are compiled once per optimizer, not once per format: each is a large
//! monomorphization (a few hundred MB of compiler memory apiece).

use crate::data::Rows;
use vectorflow::dynnet::DynRow;
use vectorflow::features::{AuxFields, FeatureError, Features, Labeled};
use vectorflow::io::columns::{ColumnRow, ColumnStream};
use vectorflow::io::{LibSvm, SparseRow, SparseStream, Vw};
use vectorflow::train::{Stream, StreamError};

/// A row of any format: LIBSVM and VW rows are sparse rows of the default group, table
/// rows have the column spec's groups.
#[derive(Clone, Copy, Debug)]
pub enum AnyRow<'a> {
    Sparse(SparseRow<'a>),
    Column(ColumnRow<'a>),
}

impl Features for AnyRow<'_> {
    #[inline]
    fn weight(&self) -> f32 {
        match self {
            AnyRow::Sparse(r) => r.weight(),
            AnyRow::Column(r) => r.weight(),
        }
    }
}

impl Labeled for AnyRow<'_> {
    const LABEL_FIELD: &'static str = "label";
    #[inline]
    fn label(&self) -> f32 {
        match self {
            AnyRow::Sparse(r) => r.label(),
            AnyRow::Column(r) => r.label(),
        }
    }
}

impl AuxFields for AnyRow<'_> {
    type Aux = ();
    #[inline]
    fn aux(&self) {}
}

impl DynRow for AnyRow<'_> {
    /// Which groups a row has is known only at run time: a net input reading a group the
    /// rows lack fails on the first row, naming it.
    fn feeds(group: &str, sparse: bool) -> bool {
        SparseRow::feeds(group, sparse) || ColumnRow::feeds(group, sparse)
    }

    #[inline]
    fn sparse(
        &self,
        group: &str,
        dim: usize,
        out: &mut Vec<(u32, f32)>,
    ) -> Result<(), FeatureError> {
        match self {
            AnyRow::Sparse(r) => r.sparse(group, dim, out),
            AnyRow::Column(r) => r.sparse(group, dim, out),
        }
    }

    fn dense(&self, group: &str, out: &mut [f32]) -> Result<(), FeatureError> {
        match self {
            AnyRow::Sparse(r) => r.dense(group, out),
            AnyRow::Column(r) => r.dense(group, out),
        }
    }

    fn why_refused(&self, group: &str, dim: usize) -> Option<String> {
        match self {
            AnyRow::Sparse(r) => r.why_refused(group, dim),
            AnyRow::Column(r) => r.why_refused(group, dim),
        }
    }
}

impl Rows {
    /// Row `i`.
    pub fn row(&self, i: usize) -> AnyRow<'_> {
        match self {
            Rows::Sparse(r) => AnyRow::Sparse(r.row(i)),
            Rows::Columns(r) => AnyRow::Column(r.row(i)),
        }
    }

    /// Every row.
    pub fn to_any(&self) -> Vec<AnyRow<'_>> {
        (0..self.len()).map(|i| self.row(i)).collect()
    }
}

/// Rows for training passes: held in memory, or read from the file each pass (with a
/// cache, once); optionally only the first rows (the learning-rate probe's).
pub struct RowStream<'r> {
    source: Source<'r>,
    /// Rows handed out per pass at most.
    limit: usize,
    /// Rows handed out since the start of the pass.
    given: usize,
}

/// Where a [`RowStream`]'s rows come from.
pub enum Source<'r> {
    /// Rows in memory (shared by trials and probes), the next to hand out, and the
    /// input's name.
    Memory(&'r Rows, usize, String),
    LibSvm(SparseStream<LibSvm>),
    Vw(SparseStream<Vw>),
    Columns(ColumnStream),
}

impl<'r> RowStream<'r> {
    /// Every row of `source`.
    pub fn new(source: Source<'r>) -> RowStream<'r> {
        RowStream {
            source,
            limit: usize::MAX,
            given: 0,
        }
    }

    /// The rows in memory, named `name` in messages.
    pub fn memory(rows: &'r Rows, name: String) -> RowStream<'r> {
        RowStream::new(Source::Memory(rows, 0, name))
    }

    /// Another stream over the same rows, when they are in memory (for probes run in
    /// parallel): from the first row, whole.
    pub fn fork(&self) -> Option<RowStream<'r>> {
        match &self.source {
            Source::Memory(rows, _, name) => Some(RowStream::memory(rows, name.clone())),
            _ => None,
        }
    }

    /// Only the first `limit` rows of each pass, from the first.
    pub fn first(&mut self, limit: usize) -> Result<(), StreamError> {
        self.limit = limit;
        self.rewind()
    }
}

impl Stream for RowStream<'_> {
    type Row<'a> = AnyRow<'a>;

    fn read<F: FnMut(&AnyRow<'_>)>(&mut self, max: usize, mut f: F) -> Result<usize, StreamError> {
        let left = self.limit - self.given;
        if left == 0 {
            return Ok(0);
        }
        // A reader may hand out a chunk of its own, longer than asked: rows past the
        // limit are dropped.
        let mut n = 0;
        let mut take = |row: &AnyRow<'_>| {
            if n < left {
                f(row);
                n += 1;
            }
        };
        let max = max.min(left);
        match &mut self.source {
            Source::Memory(rows, at, _) => {
                let end = (*at + max).min(rows.len());
                for i in *at..end {
                    take(&rows.row(i));
                }
                *at = end;
            }
            Source::LibSvm(s) => _ = s.read(max, |r| take(&AnyRow::Sparse(*r)))?,
            Source::Vw(s) => _ = s.read(max, |r| take(&AnyRow::Sparse(*r)))?,
            Source::Columns(s) => _ = s.read(max, |r| take(&AnyRow::Column(*r)))?,
        }
        self.given += n;
        Ok(n)
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        self.given = 0;
        match &mut self.source {
            Source::Memory(_, at, _) => {
                *at = 0;
                Ok(())
            }
            Source::LibSvm(s) => s.rewind(),
            Source::Vw(s) => s.rewind(),
            Source::Columns(s) => s.rewind(),
        }
    }

    fn source(&self) -> String {
        let whole = match &self.source {
            Source::Memory(..) => return String::new(),
            Source::LibSvm(s) => s.source(),
            Source::Vw(s) => s.source(),
            Source::Columns(s) => s.source(),
        };
        // A cache of the first rows is not a cache of the file.
        match self.limit {
            usize::MAX => whole,
            n => format!("{whole} (first {n} rows)"),
        }
    }

    fn name(&self) -> String {
        match &self.source {
            Source::Memory(_, _, name) => name.clone(),
            Source::LibSvm(s) => s.name(),
            Source::Vw(s) => s.name(),
            Source::Columns(s) => s.name(),
        }
    }
}
