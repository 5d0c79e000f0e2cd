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
/// cache, once).
pub enum RowStream {
    /// Rows in memory, the next to hand out, and the input's name.
    Memory(Rows, usize, String),
    LibSvm(SparseStream<LibSvm>),
    Vw(SparseStream<Vw>),
    Columns(ColumnStream),
}

impl Stream for RowStream {
    type Row<'a> = AnyRow<'a>;

    fn read<F: FnMut(&AnyRow<'_>)>(&mut self, max: usize, mut f: F) -> Result<usize, StreamError> {
        match self {
            RowStream::Memory(rows, at, _) => {
                let end = (*at + max).min(rows.len());
                for i in *at..end {
                    f(&rows.row(i));
                }
                let n = end - *at;
                *at = end;
                Ok(n)
            }
            RowStream::LibSvm(s) => s.read(max, |r| f(&AnyRow::Sparse(*r))),
            RowStream::Vw(s) => s.read(max, |r| f(&AnyRow::Sparse(*r))),
            RowStream::Columns(s) => s.read(max, |r| f(&AnyRow::Column(*r))),
        }
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        match self {
            RowStream::Memory(_, at, _) => {
                *at = 0;
                Ok(())
            }
            RowStream::LibSvm(s) => s.rewind(),
            RowStream::Vw(s) => s.rewind(),
            RowStream::Columns(s) => s.rewind(),
        }
    }

    fn source(&self) -> String {
        match self {
            RowStream::Memory(..) => String::new(),
            RowStream::LibSvm(s) => s.source(),
            RowStream::Vw(s) => s.source(),
            RowStream::Columns(s) => s.source(),
        }
    }

    fn name(&self) -> String {
        match self {
            RowStream::Memory(_, _, name) => name.clone(),
            RowStream::LibSvm(s) => s.name(),
            RowStream::Vw(s) => s.name(),
            RowStream::Columns(s) => s.name(),
        }
    }
}
