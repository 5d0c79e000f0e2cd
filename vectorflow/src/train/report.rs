//! What training returns: a report per pass, or an error that says where.

use crate::features::FeatureError;
use crate::loss::LabelError;
use std::fmt;

/// Figures of one pass over the training rows.
#[derive(Clone, Debug, PartialEq)]
pub struct PassReport {
    /// The pass, from 1.
    pub pass: usize,
    /// Progressive-validation loss: each row's loss before its update, weighted mean.
    pub train_loss: f64,
    /// Mean loss on the holdout rows after the pass, if a holdout is set.
    pub holdout_loss: Option<f64>,
    /// Training rows seen.
    pub rows: u64,
    /// Non-zero inputs seen.
    pub nnz: u64,
    /// Wall time of the pass.
    pub seconds: f64,
    /// Rows per second.
    pub rows_per_s: f64,
}

/// The outcome of `Trainer::fit`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainReport {
    /// One entry per pass run.
    pub passes: Vec<PassReport>,
    /// The pass whose weights the net holds (the best holdout pass when early stopping
    /// ended training, else the last).
    pub best_pass: usize,
    /// Whether early stopping ended training before the last pass.
    pub stopped_early: bool,
    /// Across ranks ([`Trainer::ranks`](crate::train::Trainer::ranks)): the bytes this
    /// rank handed the collective operations (the sums' buffers, the broadcasts' and
    /// the status words), from the agreement at the start to the check at the end.
    /// 0 in one process.
    pub sync_bytes: u64,
    /// Across ranks: the seconds this rank spent in those exchanges and in packing and
    /// applying them, waiting for slower ranks included. 0 in one process.
    pub sync_seconds: f64,
}

impl TrainReport {
    /// The last pass's report.
    pub fn last(&self) -> Option<&PassReport> {
        self.passes.last()
    }
    /// Total training seconds.
    pub fn seconds(&self) -> f64 {
        self.passes.iter().map(|p| p.seconds).sum()
    }
    /// Training rows seen in all passes.
    pub fn rows(&self) -> u64 {
        self.passes.iter().map(|p| p.rows).sum()
    }
    /// Non-zeros seen in all passes.
    pub fn nnz(&self) -> u64 {
        self.passes.iter().map(|p| p.nnz).sum()
    }
}

/// Why training stopped with an error.
#[derive(Clone, PartialEq)]
pub enum TrainError {
    /// There were no rows to train on (after the holdout is set apart).
    NoRows {
        /// What was read: a stream's [`name`](crate::train::Stream::name) (the file of the
        /// readers' streams), empty for a slice.
        input: String,
    },
    /// A setting is out of range.
    Config(String),
    /// The stream of rows failed (its message names the file and line).
    Read(String),
    /// A row's feature value is not finite.
    Feature {
        /// The pass, from 1.
        pass: usize,
        /// The row's index in the slice given to `fit`.
        row: usize,
        /// The field and value.
        source: FeatureError,
    },
    /// A row's feature id is at or beyond its `Sparse<DIM>` input's `DIM`, and the rows
    /// do not ask for ids to be folded (a reader's rows, unless read with
    /// [`OutOfRange::Modulo`](crate::io::OutOfRange::Modulo)).
    IdBeyondInput {
        /// The pass, from 1.
        pass: usize,
        /// The row's index in the slice given to `fit`, or in the stream.
        row: usize,
        /// The id and where the row was read (`file:line`), what was expected, and how
        /// to ask for folding.
        message: String,
    },
    /// A row's label is not one the loss accepts (see [`crate::loss::Loss::check_row`]).
    InvalidLabel {
        /// The pass, from 1.
        pass: usize,
        /// The row's index in the slice given to `fit`.
        row: usize,
        /// The label field, its value and what was expected.
        source: LabelError,
    },
    /// A row's weight is negative or not finite.
    InvalidWeight {
        /// The pass, from 1.
        pass: usize,
        /// The row's index in the slice given to `fit`.
        row: usize,
        /// The `#[weight]` field ([`crate::Features::WEIGHT_FIELD`]).
        field: &'static str,
        /// The weight.
        value: f32,
    },
    /// The loss wrote a NaN or infinite gradient for a row. Training stopped before that
    /// row's update, so no weight holds it.
    NonFiniteGradient {
        /// The pass, from 1.
        pass: usize,
        /// The row's index in the slice given to `fit`.
        row: usize,
        /// The first output whose gradient is not finite.
        output: usize,
        /// That gradient.
        value: f32,
    },
    /// A row's loss is NaN or infinite (a diverging learning rate, a closure loss that
    /// reads a bad label, ...).
    NonFiniteLoss {
        /// The pass, from 1.
        pass: usize,
        /// The row's index in the slice given to `fit`.
        row: usize,
        /// The loss.
        loss: f32,
    },
    /// Across ranks: another rank failed, and every rank stopped with its error.
    Rank {
        /// The lowest rank that failed.
        rank: usize,
        /// Its error, in words.
        message: String,
    },
    /// Across ranks: the collective operations between the ranks failed (a rank's
    /// process or thread is gone, the engine failed).
    Collective(String),
    /// Across ranks: a checkpoint could not be written or read back (its message
    /// names the file and why).
    Checkpoint(String),
    /// The optimizer's state became NaN or infinite in the step of a row, most often an
    /// accumulator of squared gradients overflowing on huge feature values (near
    /// 3.4e38, `f32::MAX`), which would freeze the weights it divides.
    NonFiniteState {
        /// The pass, from 1.
        pass: usize,
        /// The row's index in the slice given to `fit` (with mini-batches, the batch's
        /// last row).
        row: usize,
    },
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NoRows { input } if input.is_empty() => write!(f, "no rows to train on"),
            TrainError::NoRows { input } => write!(f, "{input}: no rows to train on"),
            TrainError::Config(m) => write!(f, "invalid training setting: {m}"),
            TrainError::Read(m) => write!(f, "reading the rows: {m}"),
            TrainError::Feature { pass, row, source } => {
                write!(f, "pass {pass}, row {row}: {source}")
            }
            TrainError::IdBeyondInput { pass, row, message } => {
                write!(f, "pass {pass}, row {row}: {message}")
            }
            TrainError::InvalidLabel { pass, row, source } => {
                write!(f, "pass {pass}, row {row}: {source}")
            }
            TrainError::InvalidWeight {
                pass,
                row,
                field,
                value,
            } => write!(
                f,
                "pass {pass}, row {row}: the weight `{field}` is {value}; expected a finite \
                 number at least 0"
            ),
            TrainError::NonFiniteGradient {
                pass,
                row,
                output,
                value,
            } => write!(
                f,
                "pass {pass}, row {row}: the loss wrote a non-finite gradient ({value}) at \
                 output {output}; training stopped before updating any weight with it"
            ),
            TrainError::NonFiniteLoss { pass, row, loss } => write!(
                f,
                "pass {pass}, row {row}: the loss is {loss}; check the row's label and weight, \
                 or lower the learning rate"
            ),
            TrainError::Rank { rank, message } => {
                write!(f, "rank {rank} stopped training: {message}")
            }
            TrainError::Collective(m) => write!(f, "the ranks could not exchange: {m}"),
            TrainError::Checkpoint(m) => write!(f, "checkpoint: {m}"),
            TrainError::NonFiniteState { pass, row } => write!(
                f,
                "pass {pass}, row {row}: the optimizer's state is no longer finite after the \
                 row's step; check the row's feature values (scale them down) or lower the \
                 learning rate"
            ),
        }
    }
}

debug_as_message!(TrainError);

impl std::error::Error for TrainError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TrainError::Feature { source, .. } => Some(source),
            TrainError::InvalidLabel { source, .. } => Some(source),
            _ => None,
        }
    }
}
