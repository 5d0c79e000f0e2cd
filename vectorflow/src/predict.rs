//! Prediction for serving: many rows at once, in parallel, and outputs as probabilities.
//!
//! ```
//! use vectorflow::prelude::*;
//! use vectorflow::predict::{probability, softmax};
//!
//! #[derive(Features)]
//! struct Ad<'a> {
//!     #[hash]
//!     site: &'a str,
//! }
//!
//! type Lr = network![Sparse<{ 1 << 10 }> => Linear<1>];
//! let net = Lr::new(Init::uniform(0.5).seed(1));
//! let rows: Vec<Ad> = ["a.com", "b.org", "c.net"].iter().map(|&site| Ad { site }).collect();
//! let scores = net.predict_batch(&rows).unwrap();
//! assert_eq!(scores[1], net.predict(&rows[1]).unwrap());
//! let p = probability(scores[0]);
//! assert!(p > 0.0 && p < 1.0);
//! let q = softmax([1.0, 2.0, 3.0]);
//! assert!((q.iter().sum::<f32>() - 1.0).abs() < 1e-6 && q[2] > q[1]);
//! ```

use crate::features::FeatureError;
use crate::layers::{InputFeed, InputLayer, Zeroed};
use crate::network::{Net, Stack, Workspace};
use rayon::prelude::*;
use std::fmt;

/// Rows per parallel task: large enough that a workspace per task costs nothing.
const CHUNK: usize = 1024;

/// A row that could not be predicted: its index and why.
pub struct PredictError {
    /// The row's index in the batch.
    pub row: usize,
    /// What was wrong with it.
    pub source: FeatureError,
}

impl fmt::Display for PredictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "row {}: {}", self.row, self.source)
    }
}

debug_as_message!(PredictError);

impl std::error::Error for PredictError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The probability of the positive class from a logistic output (a log-odds).
#[inline]
pub fn probability(out: [f32; 1]) -> f32 {
    crate::loss::sigmoid(out[0])
}

/// Class probabilities from multinomial outputs (scores), max-shifted so large scores
/// do not overflow.
#[inline]
pub fn softmax<const K: usize>(out: [f32; K]) -> [f32; K] {
    let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e = out.map(|x| (x - max).exp());
    let sum: f32 = e.iter().sum();
    e.map(|x| x / sum)
}

impl<I: InputLayer, S: Stack<In = I::Out>> Net<I, S> {
    /// The outputs for every row, computed in parallel on rayon's pool. Equal to
    /// [`Net::predict`] row by row; fails with the first row whose features are not
    /// finite.
    pub fn predict_batch<R: Sync>(&self, rows: &[R]) -> Result<Vec<S::Out>, PredictError>
    where
        I: InputFeed<R>,
        S::Out: Send,
    {
        let mut out = vec![S::Out::zeroed(); rows.len()];
        self.predict_batch_into(rows, &mut out)?;
        Ok(out)
    }

    /// [`Net::predict_batch`] into the caller's buffer, one output per row.
    ///
    /// # Panics
    ///
    /// If `out` and `rows` differ in length.
    pub fn predict_batch_into<R: Sync>(
        &self,
        rows: &[R],
        out: &mut [S::Out],
    ) -> Result<(), PredictError>
    where
        I: InputFeed<R>,
        S::Out: Send,
    {
        assert_eq!(rows.len(), out.len(), "one output per row");
        let params = self.params();
        let failed = out
            .par_chunks_mut(CHUNK)
            .zip(rows.par_chunks(CHUNK))
            .enumerate()
            .filter_map(|(c, (out, rows))| {
                let mut ws = Workspace::<I, S>::predict();
                for (k, (o, row)) in out.iter_mut().zip(rows).enumerate() {
                    match Self::forward(params, &mut ws, row) {
                        Ok(y) => *o = *y,
                        Err(source) => {
                            return Some(PredictError {
                                row: c * CHUNK + k,
                                source,
                            })
                        }
                    }
                }
                None
            })
            .min_by_key(|e| e.row);
        failed.map_or(Ok(()), Err)
    }
}
