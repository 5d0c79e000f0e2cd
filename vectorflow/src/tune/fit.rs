//! Training with a [`Setting`]: the one place a setting becomes a `Trainer`, for each
//! optimizer type.

use super::space::{Opt, Setting};
use crate::features::Features;
use crate::layers::InputFeed;
use crate::loss::{LabelError, Loss};
use crate::network::{Net, Stack};
use crate::optim::{AdaGrad, Adam, Ftrl, Optimizer, RowAdaGrad, Sgd};
use crate::train::{Holdout, Prior, Progress, TrainError, TrainReport, Trainer};

/// The trainer settings a setting leaves to the caller.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Run {
    pub passes: usize,
    pub threads: usize,
    pub holdout: Holdout,
    pub seed: u64,
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
        self.fit_run(net, rows, &loss, run)
    }

    /// Trains with the caller's `run` settings.
    pub(crate) fn fit_run<I, S, R, L>(
        &self,
        net: &mut Net<I, S>,
        rows: &[R],
        loss: &L,
        run: Run,
    ) -> Result<TrainReport, TrainError>
    where
        I: InputFeed<R>,
        S: Stack<In = I::Out>,
        R: Features + Sync,
        L: Loss<R, S::Out>,
    {
        let prior = Prior::l1(self.l1).and_l2(self.l2);
        match self.opt {
            Opt::AdaGrad => {
                let opt = AdaGrad::new(self.lr).init_acc(self.init_acc);
                self.train(opt, prior, net, rows, loss, run)
            }
            Opt::RowAdaGrad => {
                let opt = RowAdaGrad::new(self.lr).init_acc(self.init_acc);
                self.train(opt, prior, net, rows, loss, run)
            }
            Opt::Adam => self.train(Adam::new(self.lr), prior, net, rows, loss, run),
            Opt::Sgd => self.train(Sgd::new(self.lr), prior, net, rows, loss, run),
            // FTRL's state determines its weights, so a prior step outside the update
            // would be undone by the next one: its own L1 and L2 take the strengths.
            Opt::Ftrl => {
                let ftrl = Ftrl::new(self.lr).l1(self.l1).l2(self.l2);
                self.train(ftrl, Prior::default(), net, rows, loss, run)
            }
        }
    }

    fn train<O, I, S, R, L>(
        &self,
        opt: O,
        prior: Prior,
        net: &mut Net<I, S>,
        rows: &[R],
        loss: &L,
        run: Run,
    ) -> Result<TrainReport, TrainError>
    where
        O: Optimizer,
        I: InputFeed<R>,
        S: Stack<In = I::Out>,
        R: Features + Sync,
        L: Loss<R, S::Out>,
    {
        Trainer::new(opt)
            .passes(run.passes)
            .threads(run.threads)
            .batch(self.batch)
            .prior(prior)
            .holdout(run.holdout)
            .seed(run.seed)
            .progress(Progress::Silent)
            .fit(net, rows, ByRef(loss))
    }
}
