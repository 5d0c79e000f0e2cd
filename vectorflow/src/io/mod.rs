//! Readers: LIBSVM / SVMlight and Vowpal Wabbit text into sparse rows; CSV, JSON lines
//! and Parquet (feature `parquet`) into the user's own (borrowing) row type. All stream
//! in bounded chunks, and each has a [`Stream`](crate::train::Stream) for
//! `Trainer::fit_stream`.
//!
//! | format | every row, in memory | chunk by chunk | as a `Stream` |
//! | --- | --- | --- | --- |
//! | LIBSVM | `LibSvm::new().open(path)?.read_all()?` | `LibSvm::new().open(path)?.read_into(&mut rows)?` | `LibSvm::new().stream(path)?` |
//! | Vowpal Wabbit | `Vw::new().open(path)?.read_all()?` | `Vw::new().open(path)?.read_into(&mut rows)?` | `Vw::new().stream(path)?` |
//! | CSV | `CsvReader::open(path)?.read_all::<Row>()?` | `CsvReader::open(path)?.next_rows::<Row>()?` | `SerdeStream::<Row<'static>>::csv(path)?` |
//! | JSON lines | `JsonLines::open(path)?.read_all::<Row>()?` | `JsonLines::open(path)?.next_rows::<Row>()?` | `SerdeStream::<Row<'static>>::json_lines(path)?` |
//! | Parquet | `parquet::ParquetData::read_all::<Row>(path)?.rows::<Row>()?` | | `parquet::ParquetStream::<Row<'static>>::open(path)?` |
//! | CSV, JSON lines, Parquet with a run-time [`columns::ColumnSpec`] | `ColumnReader::open(path, format, &spec)?.read_all()?` | `reader.read_into(&mut rows)?` | `ColumnStream::new(ColumnReader::open(path, format, &spec)?)` |
//!
//! `read_all` reads every row whatever the input's size; `next_rows` and `read_into` give
//! one chunk (about [`DEFAULT_CHUNK_BYTES`]) per call, and are called until they say the
//! input is over. (CSV and JSON rows borrow the reader, so they are read into a
//! variable: `let mut reader = CsvReader::open(path)?; let rows: Vec<Row> = reader.read_all()?;`.)
//!
//! ```no_run
//! use vectorflow::io::{LibSvm, SparseFormat, SparseRows};
//! use vectorflow::prelude::*;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! type Lr = network![Sparse<{ 1 << 20 }> => Linear<1>];
//! let mut net = Lr::new(Init::zeros());
//! // Every row: the file parsed in parallel, then trained on as a slice.
//! let rows = LibSvm::new().open("train.svm")?.read_all()?;
//! Trainer::new(AdaGrad::new(0.5)).fit(&mut net, &rows.to_rows(), Logistic)?;
//! // Streaming: one bounded chunk at a time, buffers reused.
//! let mut reader = LibSvm::new().open("train.svm")?;
//! let mut chunk = SparseRows::new();
//! while reader.read_into(&mut chunk)? {
//!     println!("{} rows from line {}", chunk.len(), chunk.lines()[0]);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The sparse formats give [`SparseRows`] (CSR: labels, weights, row ends, ids, values,
//! line numbers); their [`SparseRow`] views implement `Features`, `Labeled` and
//! `SparseGroup`, so `Trainer::fit` takes `rows.to_rows()` directly. Each chunk (4 MiB by
//! default) is split at line boundaries among rayon's threads while the calling thread
//! reads the next one. The Vowpal Wabbit reader gives VW's own feature ids (see [`Vw`]).
//! Audits ([`crate::explain`]) name a LIBSVM feature by its id as written, and a VW
//! feature as VW does (`ns^name`) when the reader keeps names ([`Vw::names`]).
//! CSV and JSON lines are parsed into the caller's `#[derive(Deserialize)]` type, whose
//! `&str` fields borrow from the reader's chunk: CSV on the calling thread (quoted
//! newlines keep it from being split at line boundaries), JSON lines on the calling
//! thread or, with `next_rows_parallel`, on rayon's. A JSON string with escapes
//! (`\u00e9`, `\"`) cannot be borrowed: a field that may hold one is a `Cow<'a, str>`
//! marked `#[serde(borrow)]` (see [`JsonLines`]). Columns and fields the row type does not
//! have are ignored by default; `#[serde(deny_unknown_fields)]` on the row type makes
//! them errors that name them.
//!
//! Each rank of a job of several reads its own part of the data through the readers'
//! `_shard` constructors (`LibSvm::new().stream_shard(path, Shard::new(rank, size)?)?`,
//! ...): see [`Shard`].
//!
//! Every error is a [`ReadError`] naming the file, the 1-based line, the field and what
//! was expected. Nothing panics on malformed input, and no line longer than the maximum
//! ([`DEFAULT_MAX_LINE`], settable) is ever buffered.

mod ahead;
pub mod columns;
mod error;
mod identity;
mod libsvm;
mod line_chunks;
mod names;
mod number;
#[cfg(feature = "parquet")]
pub mod parquet;
mod reader;
mod rows;
mod serde_rows;
mod shard;
mod sources;
mod vw;

pub use crate::shard::{Shard, ShardError, ShardPlan};
pub use ahead::ReadAhead;
pub use error::ReadError;
pub use libsvm::{LibSvm, OutOfRange};
pub use line_chunks::{Chunk, Chunker, DEFAULT_CHUNK_BYTES, DEFAULT_MAX_LINE};
pub use reader::{SparseFormat, SparseReader};
pub use rows::{SparseRow, SparseRows};
pub use serde_rows::{CsvReader, JsonLines};
pub use sources::{SerdeStream, SparseStream};
pub use vw::{Vw, VwHash};

/// How a sparse reader stores labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Labels {
    /// The number as written (`-1`, `+1`, `0.37`, ...). The binary losses read a label
    /// above 0.5 as positive, so `-1`/`+1` and `0`/`1` both train as they are.
    AsRead,
    /// `1` for a label above 0, `0` otherwise: the 0/1 labels binary metrics expect.
    Binary,
}

impl Labels {
    #[inline]
    fn map(self, label: f32) -> f32 {
        match self {
            Labels::AsRead => label,
            Labels::Binary => {
                if label > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}
