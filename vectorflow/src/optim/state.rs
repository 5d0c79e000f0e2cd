//! What a pass depends on besides the weights, kept across [`Trainer::fit`] calls. It
//! lives with the optimizers, whose state it holds, so that the net and model files
//! keep it without depending on the trainer.
//!
//! [`Trainer::fit`]: crate::train::Trainer::fit

use super::Optimizer;
use std::ops::Range;

/// The state training continues from: the optimizer's per-weight state planes (but for
/// the sparse tables', which the net keeps beside their weights: [`crate::Net::state_planes`]
/// gives them all), the
/// passes run so far (which seed each pass's shuffle and dropout masks) and the rows
/// trained so far (the learning-rate schedule's clock).
///
/// A net keeps it after [`Trainer::fit`](crate::train::Trainer::fit), and the next `fit` with
/// an optimizer of the same kind continues from it, so two passes and then one more give
/// exactly the weights of three passes on one thread. It is saved with the model
/// ([`Net::save`](crate::Net::save)) and loaded back ([`Net::load`](crate::Net::load)).
/// A `fit` with another kind of optimizer starts a fresh state from the net's weights.
///
/// Lazy-prior stamps are not part of it: every pass ends by bringing all rows up to
/// date, so between passes they are all zero.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    optimizer: String,
    /// One plane per state float of the optimizer ([`Optimizer::STATE`] of them while
    /// it trains).
    planes: Vec<Vec<f32>>,
    passes: u64,
    rows: u64,
}

impl TrainState {
    /// A fresh state for optimizer `opt` over the weights `w`.
    pub fn new<O: Optimizer>(opt: &O, w: &[f32]) -> TrainState {
        TrainState::fresh(opt, w, &[])
    }

    /// A fresh state for `opt` over the weights `w` but for the ranges `skip` (the sparse
    /// tables, which keep their own), left zero: a zeroed allocation there takes no
    /// memory.
    pub(crate) fn fresh<O: Optimizer>(opt: &O, w: &[f32], skip: &[Range<usize>]) -> TrainState {
        let mut planes: Vec<Vec<f32>> = (0..O::STATE).map(|_| vec![0.0; w.len()]).collect();
        let mut at = 0;
        for r in skip.iter().chain([&(w.len()..w.len())]) {
            for i in at..r.start {
                let s = opt.start(w[i]);
                for (plane, &s) in planes.iter_mut().zip(s.as_ref()) {
                    plane[i] = s;
                }
            }
            at = r.end;
        }
        TrainState {
            optimizer: O::NAME.to_string(),
            planes,
            passes: 0,
            rows: 0,
        }
    }

    /// A state read back from its parts (a model file), checked for consistency.
    pub(crate) fn from_parts(
        optimizer: String,
        planes: Vec<Vec<f32>>,
        passes: u64,
        rows: u64,
    ) -> TrainState {
        TrainState {
            optimizer,
            planes,
            passes,
            rows,
        }
    }

    /// The kind of optimizer the state belongs to ([`Optimizer::NAME`]).
    pub fn optimizer(&self) -> &str {
        &self.optimizer
    }

    /// The passes trained so far.
    pub fn passes(&self) -> u64 {
        self.passes
    }

    /// The training rows seen so far (the schedule's clock).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// How many state floats per weight it keeps ([`crate::Net::state_planes`] gives
    /// them).
    pub fn plane_count(&self) -> usize {
        self.planes.iter().filter(|p| !p.is_empty()).count()
    }

    /// The optimizer's state planes of the weights outside the sparse tables:
    /// `rest_planes()[j][i]` is state `j` of weight `i`, zero in the tables' ranges.
    pub(crate) fn rest_planes(&self) -> impl Iterator<Item = &[f32]> {
        self.planes
            .iter()
            .filter(|p| !p.is_empty())
            .map(Vec::as_slice)
    }

    /// The state training with `opt` continues from, over the net's weights `w` (but the
    /// ranges `skip`, see [`TrainState::fresh`]): this one if it belongs to an optimizer
    /// of the same kind, else a fresh one; and whether it continues (the sparse tables'
    /// state with it).
    ///
    /// Of one kind, optimizers may keep different planes: plain [`Sgd`] keeps none and
    /// its [`Momentum`] a velocity. So the planes `opt` does not keep are dropped, and a
    /// state with none of those it keeps starts them as [`Optimizer::start`] has them (a
    /// zero velocity). A state with only some of them, or whose planes do not match the
    /// weights, starts afresh: an Adam step count beside its moments cannot be guessed.
    ///
    /// [`Sgd`]: crate::optim::Sgd
    /// [`Momentum`]: crate::optim::Momentum
    pub(crate) fn resume<O: Optimizer>(
        mut self,
        opt: &O,
        w: &[f32],
        skip: &[Range<usize>],
    ) -> (TrainState, bool) {
        if self.optimizer != O::NAME {
            return (TrainState::fresh(opt, w, skip), false);
        }
        self.planes.truncate(O::STATE);
        let kept = self.planes.iter().filter(|p| !p.is_empty()).count();
        if kept == 0 {
            self.planes = TrainState::fresh(opt, w, skip).planes;
            return (self, false);
        } else if kept != O::STATE
            || self
                .planes
                .iter()
                .take(O::STATE)
                .any(|p| p.len() != w.len())
        {
            return (TrainState::fresh(opt, w, skip), false);
        }
        (self, true)
    }

    /// The optimizer's state planes, one per state float.
    pub(crate) fn planes_mut(&mut self) -> &mut [Vec<f32>] {
        &mut self.planes
    }

    /// Sets the passes and rows trained so far (another rank's, across ranks).
    pub(crate) fn set_counts(&mut self, passes: u64, rows: u64) {
        self.passes = passes;
        self.rows = rows;
    }

    /// Counts one finished pass of `rows` training rows.
    pub(crate) fn end_pass(&mut self, rows: u64) {
        self.passes += 1;
        self.rows += rows;
    }
}
