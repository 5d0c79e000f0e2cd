//! A sparse text file as a [`Stream`] for [`Trainer::fit_stream`]: trained on in bounded
//! memory, reopened for each pass (or read once, with a [`Trainer::cache`]).
//!
//! [`Trainer::fit_stream`]: crate::train::Trainer::fit_stream
//! [`Trainer::cache`]: crate::train::Trainer::cache

use super::reader::{SparseFormat, SparseReader};
use super::rows::{SparseRow, SparseRows};
use super::ReadError;
use crate::train::{Stream, StreamError};
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
    reader: SparseReader<File, F>,
    rows: SparseRows,
    /// The next row of `rows` to hand out.
    at: usize,
}

impl<F: SparseFormat> SparseStream<F> {
    pub(crate) fn open(format: &F, path: &Path) -> Result<Self, ReadError> {
        Ok(SparseStream {
            reader: format.open(path)?,
            format: format.clone(),
            path: path.to_path_buf(),
            rows: SparseRows::new(),
            at: 0,
        })
    }
}

impl<F: SparseFormat + Send> Stream for SparseStream<F> {
    type Row<'a> = SparseRow<'a>;

    fn read<G: FnMut(&SparseRow<'_>)>(
        &mut self,
        max: usize,
        mut f: G,
    ) -> Result<usize, StreamError> {
        let mut n = 0;
        while n < max {
            if self.at == self.rows.len() {
                self.at = 0;
                if !self.reader.read_into(&mut self.rows)? {
                    break;
                }
            }
            let end = self.rows.len().min(self.at + max - n);
            for i in self.at..end {
                f(&self.rows.row(i));
            }
            n += end - self.at;
            self.at = end;
        }
        Ok(n)
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        self.reader = self.format.open(&self.path)?;
        self.rows.clear();
        self.at = 0;
        Ok(())
    }

    /// The path, its size and modification time: a cache built from another version of
    /// the file is rebuilt.
    fn source(&self) -> String {
        let meta = std::fs::metadata(&self.path);
        let (len, modified) = meta.map_or((0, None), |m| (m.len(), m.modified().ok()));
        let modified = modified
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("{} ({len} bytes, modified {modified})", self.path.display())
    }
}
