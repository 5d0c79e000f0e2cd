//! Training with a [`Setting`]: the one place a setting becomes a `Trainer`, for each
//! optimizer type, and what the tuner trains with it ([`Tunable`]).

use super::space::{Opt, Setting};
use crate::features::Features;
use crate::layers::InputFeed;
use crate::loss::{LabelError, Loss};
use crate::network::{Net, Stack};
use crate::optim::{AdaGrad, Adam, Ftrl, Optimizer, RowAdaGrad, Sgd};
use crate::train::{Holdout, Prior, Progress, TrainError, TrainReport, Trainer};
use std::marker::PhantomData;

/// The trainer settings a setting leaves to the caller.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    pub passes: usize,
    pub threads: usize,
    pub holdout: Holdout,
    pub seed: u64,
}

/// What a tuner trains: each trial's model, trained a pass at a time by a trainer the
/// tuner sets up for the trial's setting (optimizer, rate, priors, batch, holdout, seed).
///
/// [`Tuner::tune`](super::Tuner::tune) trains `network!` nets on a slice of rows
/// through it; implement it to tune whatever else a [`Trainer`] fits, such as a
/// [`DynNet`](crate::dynnet::DynNet) on a stream of rows, and pass it to
/// [`Tuner::tune_with`](super::Tuner::tune_with).
pub trait Tunable: Sync {
    /// The model a trial trains and keeps between the rungs it reaches.
    type Model: Send;

    /// Trains `model` with `trainer`, as the trainer is set up: one pass, with the
    /// tuner's validation share of the rows held out pseudo-randomly
    /// ([`Holdout::Fraction`]), when the tuner calls it. The tuner scores the trial by
    /// the pass's [`holdout_loss`](crate::train::PassReport::holdout_loss): an
    /// implementation that holds out rows its own way (the last rows of data ordered in
    /// time, say) trains with `trainer.clone().holdout(Holdout::None)` and writes its
    /// validation loss there.
    fn fit<O: Optimizer>(
        &self,
        trainer: &Trainer<O>,
        model: &mut Self::Model,
    ) -> Result<TrainReport, TrainError>;
}

/// `network!` nets of type `N` trained on a slice of rows with a loss.
pub(crate) struct Slice<'a, N, R, L> {
    rows: &'a [R],
    loss: &'a L,
    net: PhantomData<fn() -> N>,
}

impl<'a, N, R, L> Slice<'a, N, R, L> {
    pub(crate) fn new(rows: &'a [R], loss: &'a L) -> Self {
        Slice {
            rows,
            loss,
            net: PhantomData,
        }
    }
}

impl<I, S, R, L> Tunable for Slice<'_, Net<I, S>, R, L>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
    R: Features + Sync,
    L: Loss<R, S::Out>,
{
    type Model = Net<I, S>;

    fn fit<O: Optimizer>(
        &self,
        trainer: &Trainer<O>,
        net: &mut Net<I, S>,
    ) -> Result<TrainReport, TrainError> {
        trainer.fit(net, self.rows, ByRef(self.loss))
    }
}

/// A loss by reference, so that every trial can share the caller's.
struct ByRef<'a, L>(&'a L);

impl<R, O, L: Loss<R, O>> Loss<R, O> for ByRef<'_, L> {
    #[inline]
    fn loss(&self, out: &O, row: &R, grad: &mut O) -> f32 {
        self.0.loss(out, row, grad)
    }
    #[inline]
    fn check_row(&self, row: &R) -> Result<(), LabelError> {
        self.0.check_row(row)
    }
}

impl Setting {
    /// Trains `net` on `rows` with `loss` in this setting, for [`Setting::passes`]
    /// passes on `threads` threads with seed `seed`, without a holdout or progress
    /// lines: the last step of tuning, once the best setting is known.
    ///
    /// ```
    /// use vectorflow::prelude::*;
    /// use vectorflow::tune::{Opt, Setting};
    ///
    /// #[derive(Features)]
    /// struct Row {
    ///     #[label]
    ///     y: bool,
    ///     #[hash]
    ///     word: &'static str,
    /// }
    /// let rows: Vec<Row> = (0..1000)
    ///     .map(|i| Row { y: i % 2 == 0, word: if i % 2 == 0 { "good" } else { "bad" } })
    ///     .collect();
    /// let best = Setting {
    ///     opt: Opt::AdaGrad,
    ///     lr: 0.5,
    ///     init_acc: 0.01,
    ///     l1: 0.0,
    ///     l2: 0.0,
    ///     batch: 1,
    ///     passes: 2,
    /// };
    /// let mut net = <network![Sparse<1024> => Linear<1>]>::new(Init::zeros());
    /// let report = best.fit(&mut net, &rows, Logistic, 1, 7).unwrap();
    /// assert_eq!(report.passes.len(), 2);
    /// ```
    pub fn fit<I, S, R, L>(
        &self,
        net: &mut Net<I, S>,
        rows: &[R],
        loss: L,
        threads: usize,
        seed: u64,
    ) -> Result<TrainReport, TrainError>
    where
        I: InputFeed<R>,
        S: Stack<In = I::Out>,
        R: Features + Sync,
        L: Loss<R, S::Out>,
    {
        let run = Run {
            passes: self.passes,
            threads,
            holdout: Holdout::None,
            seed,
        };
        self.fit_with(&Slice::new(rows, &loss), net, run)
    }

    /// Trains `model` of `data` with the caller's `run` settings.
    pub(crate) fn fit_with<T: Tunable>(
        &self,
        data: &T,
        model: &mut T::Model,
        run: Run,
    ) -> Result<TrainReport, TrainError> {
        let prior = Prior::l1(self.l1).and_l2(self.l2);
        match self.opt {
            Opt::AdaGrad => {
                let opt = AdaGrad::new(self.lr).init_acc(self.init_acc);
                data.fit(&self.trainer(opt, prior, run), model)
            }
            Opt::RowAdaGrad => {
                let opt = RowAdaGrad::new(self.lr).init_acc(self.init_acc);
                data.fit(&self.trainer(opt, prior, run), model)
            }
            Opt::Adam => data.fit(&self.trainer(Adam::new(self.lr), prior, run), model),
            Opt::Sgd => data.fit(&self.trainer(Sgd::new(self.lr), prior, run), model),
            // FTRL's state determines its weights, so a prior step outside the update
            // would be undone by the next one: its own L1 and L2 take the strengths.
            Opt::Ftrl => {
                let ftrl = Ftrl::new(self.lr).l1(self.l1).l2(self.l2);
                data.fit(&self.trainer(ftrl, Prior::default(), run), model)
            }
        }
    }

    /// The trainer of this setting with optimizer `opt` and the caller's `run`.
    fn trainer<O: Optimizer>(&self, opt: O, prior: Prior, run: Run) -> Trainer<O> {
        Trainer::new(opt)
            .passes(run.passes)
            .threads(run.threads)
            .batch(self.batch)
            .prior(prior)
            .holdout(run.holdout)
            .seed(run.seed)
            .progress(Progress::Silent)
    }
}
