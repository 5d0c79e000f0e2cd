//! Optimizers: per-coordinate update rules, chosen by type.
//!
//! Each optimizer keeps [`Optimizer::State`], any number of floats of state per weight,
//! declared in its own file and nowhere else. The trainer stores
//! state in planes beside the weights (`plane[j][i]` is state `j` of weight `i`), so the
//! state of a feature's row of weights is contiguous like the row itself and the update
//! of a row vectorises. A *row-wise* optimizer ([`RowAdaGrad`]) keeps one state float
//! per sparse row instead, shared by the row's weights.

mod adagrad;
mod adam;
mod check;
mod ftrl;
mod row_adagrad;
mod sgd;
mod state;

pub use adagrad::{AdaGrad, INIT_ACC};
pub use adam::Adam;
pub use ftrl::Ftrl;
pub use row_adagrad::RowAdaGrad;
pub use sgd::{Momentum, Sgd};
pub use state::TrainState;

/// How a merge of copies of the weights (threads' replicas, ranks) combines one of an
/// optimizer's state floats, as [`Optimizer::merge`] declares it; the rule and why it
/// is the right one are in `train::store::rule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// A statistic of recent steps (Adam's moments, a momentum's velocity): each copy's
    /// change is averaged, weighted by the copy's share of the steps (the growth of the
    /// [`Merge::Weighs`] or [`Merge::Root`] float, else 1 if the copy changed the weight).
    Average,
    /// A running sum of per-step terms that is not a weighting (FTRL's `z`): the copies'
    /// changes add up, as one copy that took all their steps would have summed them.
    Add,
    /// A running count or sum that only grows (Adam's step count, FTRL's `n`): the
    /// changes add up, and each copy's growth weighs its changes to the averaged floats.
    /// At most one per optimizer.
    Weighs,
    /// A sum of squared gradients whose square root divides the step (AdaGrad's): the
    /// changes add up and weigh as [`Merge::Weighs`], and each copy's change to the weight
    /// is rescaled from its own accumulator to the merged one. At most one per optimizer.
    Root,
}

/// A per-coordinate update rule.
pub trait Optimizer: Copy + Send + Sync + 'static {
    /// The state it keeps per weight: `[f32; K]`, `K` floats (`[f32; 0]` for none).
    /// The trainer keeps state `j` of every weight in a plane of its own, and steps a
    /// row's weights with their states loaded into local arrays, so any `K` trains
    /// with the same code.
    type State: Copy + Default + AsRef<[f32]> + AsMut<[f32]> + Send + Sync + 'static;

    /// How many state floats it keeps per weight: the length of [`Optimizer::State`].
    const STATE: usize = std::mem::size_of::<Self::State>() / std::mem::size_of::<f32>();

    /// The kind of optimizer, naming what its state planes mean (`"AdaGrad"`): a
    /// training state continues only with an optimizer of the same kind.
    const NAME: &'static str;

    /// Whether each sparse row keeps one state float, state 0 of its first weight,
    /// shared by its weights and stepped by [`Optimizer::row_rate`], rather than
    /// `STATE` floats per weight. Dense weights are stepped by [`Optimizer::update`]
    /// either way.
    const ROW_WISE: bool = false;

    /// A short description for reports, e.g. `AdaGrad(lr=0.1, init_acc=1e-2)`.
    fn describe(&self) -> String;

    /// The base learning rate, which also scales prior steps.
    fn lr(&self) -> f32;

    /// The initial state of every weight.
    fn init_state(&self) -> Self::State {
        Self::State::default()
    }

    /// The state of a weight that starts training at `w`: [`Optimizer::init_state`],
    /// except for optimizers whose state determines the weight (FTRL).
    fn start(&self, w: f32) -> Self::State {
        let _ = w;
        self.init_state()
    }

    /// The weight after one step with gradient `g`, updating its state `s`. `scale`
    /// multiplies the learning rate (the trainer's schedule; 1 for a constant rate).
    fn update(&self, w: f32, s: &mut Self::State, g: f32, scale: f32) -> f32;

    /// For a row-wise optimizer: the rate of a sparse row's step, whose weights then
    /// move by `−rate · g_k`, given the mean square of the row's gradient (over all its
    /// weights, zero where a step leaves one out); updates the row's state `s`. By
    /// default the scaled learning rate, plain SGD.
    fn row_rate(&self, s: &mut f32, mean_sq: f32, scale: f32) -> f32 {
        let _ = (s, mean_sq);
        self.lr() * scale
    }

    /// How state float `j` (of [`Optimizer::STATE`]) merges when copies of the weights
    /// are combined. By default [`Merge::Average`]; an optimizer with an accumulator
    /// says which float it is.
    fn merge(j: usize) -> Merge {
        let _ = j;
        Merge::Average
    }

    /// Checks the settings before training starts; the error names the setting and its
    /// value. By default the learning rate must be finite and above 0.
    ///
    /// ```
    /// use vectorflow::optim::{Adam, Optimizer};
    /// assert!(Adam::new(0.01).check().is_ok());
    /// assert_eq!(
    ///     Adam::new(0.01).betas(0.9, 1.0).check().unwrap_err(),
    ///     "Adam's beta2 must be in [0, 1), not 1"
    /// );
    /// ```
    fn check(&self) -> Result<(), String> {
        check::positive("the optimizer", "learning rate", self.lr())
    }
}

/// The mean square of a sparse row's gradient that [`Optimizer::row_rate`] takes:
/// `Σ g² / out` over the `out` weights of the row (`g` may be part of it; the rest is
/// zero), summed in 8 lanes: a sum in one would be a chain of dependent adds.
#[inline(always)]
pub(crate) fn mean_square(g: &[f32], out: usize) -> f32 {
    let mut lanes = [0.0f32; 8];
    for (k, g) in g.iter().enumerate() {
        lanes[k % 8] += g * g;
    }
    lanes.iter().sum::<f32>() / out as f32
}
