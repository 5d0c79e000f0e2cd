//! Hyper-parameter tuning: which optimizer, learning rate, passes, L1/L2 and mini-batch
//! size train a given net best on given rows.
//!
//! A [`Tuner`] draws settings from a [`Space`] and scores each by its loss on a
//! validation split of the rows, held out by the trainer's own [`Holdout`]: every trial
//! trains on the same already-parsed rows and is scored on the same split. It searches
//! by **successive halving** (Jamieson & Talwalkar, 2016): all settings train a few
//! passes, the best third train on to three times as many, and so on up to the most
//! passes, so most of the time goes to the settings that are good. Within a trial,
//! early stopping ends it when its validation loss stops improving, and the pass with
//! the best loss is the setting's number of passes. A trial resumes from its net and
//! training state, so reaching the next rung costs only the passes it adds.
//! Few passes favour high learning rates, which learn fastest at first but are rarely
//! best after many; so the last rung also trains the leader of the rung before at ½ and
//! 1/√2 of its rate (two more trials).
//!
//! fastText's autotune and `vw-hyperopt` train every trial to the end; here a bad
//! setting costs a few passes, and the learning rates are a Latin hypercube on the log
//! scale rather than independent draws, so even a dozen trials cover the range.
//!
//! Trials run in parallel, one per thread, each on one thread, so a seed gives the same
//! trials and the same best on any number of threads — unless the wall-clock budget
//! ends the search, which no seed can repeat. [`Tuner::grid`] runs the exhaustive grid
//! of the same space, the baseline to compare with.
//!
//! ```
//! use vectorflow::prelude::*;
//! use vectorflow::tune::{Opt, Space, Tuner};
//!
//! #[derive(Features)]
//! struct Row {
//!     #[label]
//!     y: bool,
//!     #[hash]
//!     word: u32,
//! }
//! // Words below 50 mean "yes" four times in five.
//! let rows: Vec<Row> = (0..4000u32)
//!     .map(|i| Row { y: (i % 100 < 50) == (i % 5 != 0), word: i % 100 })
//!     .collect();
//! type Lr = network![Sparse<1024> => Linear<1>];
//! let space = Space::new(Opt::AdaGrad, 1e-3, 1.0).max_passes(3);
//! let report = Tuner::new(space)
//!     .trials(6)
//!     .threads(1)
//!     .progress(Progress::Silent)
//!     .tune(|| Lr::new(Init::zeros()), &rows, Logistic)
//!     .unwrap();
//! let best = report.best_setting();
//! // Rungs of 1 and 3 passes; the last adds the leader at two lower rates.
//! assert_eq!(report.trials.len(), 8);
//! assert!(report.best_trial().loss < 0.6);
//! // Then train on all the rows with it.
//! let mut net = Lr::new(Init::zeros());
//! best.fit(&mut net, &rows, Logistic, 1, 0).unwrap();
//! ```
//!
//! [`Holdout`]: crate::train::Holdout

mod fit;
mod report;
mod search;
mod space;

pub use fit::Tunable;
pub use report::{Outcome, Trial, TuneReport};
pub use space::{Opt, Setting, Space};

use crate::features::Features;
use crate::layers::InputFeed;
use crate::loss::Loss;
use crate::network::{Net, Stack};
use crate::train::{Progress, TrainError};
use std::time::Duration;

/// Searches a [`Space`] for the setting with the best validation loss.
#[derive(Clone, Debug)]
pub struct Tuner {
    space: Space,
    trials: usize,
    eta: usize,
    patience: usize,
    validation: f64,
    threads: usize,
    seed: u64,
    budget: Option<Duration>,
    progress: Progress,
}

impl Tuner {
    /// A tuner of `space`: 27 trials, keeping the best third at each rung, patience of
    /// 1 pass, a validation split of 20% of the rows, all cores, seed 0, no time
    /// budget, a progress line per trial.
    pub fn new(space: Space) -> Tuner {
        Tuner {
            space,
            trials: 27,
            eta: 3,
            patience: 1,
            validation: 0.2,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            seed: 0,
            budget: None,
            progress: Progress::Lines,
        }
    }
    /// How many settings successive halving starts with (the last rung adds two at
    /// lower rates).
    pub fn trials(self, trials: usize) -> Tuner {
        Tuner { trials, ..self }
    }
    /// The halving factor η (3 by default): a rung keeps the best 1/η of its trials
    /// and gives them η times the passes.
    pub fn eta(self, eta: usize) -> Tuner {
        Tuner { eta, ..self }
    }
    /// Passes without improvement of the validation loss that end a trial.
    pub fn patience(self, patience: usize) -> Tuner {
        Tuner { patience, ..self }
    }
    /// The share of the rows held out to score the trials.
    pub fn validation(self, validation: f64) -> Tuner {
        Tuner { validation, ..self }
    }
    /// How many trials train at once (each on one thread).
    pub fn threads(self, threads: usize) -> Tuner {
        Tuner { threads, ..self }
    }
    /// The seed of the settings drawn, of the validation split and of training.
    pub fn seed(self, seed: u64) -> Tuner {
        Tuner { seed, ..self }
    }
    /// A wall-clock budget: no pass starts after it, except the first trial's first,
    /// so that there is always a best.
    pub fn budget(self, budget: Duration) -> Tuner {
        Tuner {
            budget: Some(budget),
            ..self
        }
    }
    /// Whether a line is printed on stderr as each trial reaches a rung
    /// ([`Progress::Silent`]: none).
    pub fn progress(self, progress: Progress) -> Tuner {
        Tuner { progress, ..self }
    }
    /// The space searched.
    pub fn space(&self) -> &Space {
        &self.space
    }

    fn check(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        self.space.check().map_err(TrainError::Config)?;
        if self.trials == 0 {
            return bad("the tuner needs at least 1 trial".into());
        }
        if self.eta < 2 {
            return bad(format!(
                "the halving factor must be at least 2, not {}",
                self.eta
            ));
        }
        if self.patience == 0 || self.threads == 0 {
            return bad("the patience and the threads must be at least 1".into());
        }
        if !(self.validation > 0.0 && self.validation < 1.0) {
            return bad(format!(
                "the validation share must be in (0, 1), not {}",
                self.validation
            ));
        }
        Ok(())
    }

    /// The passes of each rung: the most passes divided by η, η², ... (rounded up),
    /// down to the largest power of η not above the most passes.
    fn rungs(&self) -> Vec<usize> {
        let p = self.space.passes();
        let mut k = 0;
        while self.eta.pow(k + 1) <= p {
            k += 1;
        }
        (0..=k).rev().map(|j| p.div_ceil(self.eta.pow(j))).collect()
    }

    /// Searches the space by successive halving, training fresh nets made by `fresh`
    /// on `rows` with `loss`.
    ///
    /// Fails on a tuner setting out of range, and on the errors of training that are
    /// the data's (a bad feature value or label, naming the row), not a setting's: a
    /// diverging trial is reported as [`Outcome::Diverged`]. Fails too when no trial
    /// scored (every one diverged).
    pub fn tune<I, S, R, L>(
        &self,
        fresh: impl Fn() -> Net<I, S> + Sync,
        rows: &[R],
        loss: L,
    ) -> Result<TuneReport, TrainError>
    where
        I: InputFeed<R>,
        S: Stack<In = I::Out>,
        R: Features + Sync,
        L: Loss<R, S::Out>,
    {
        self.tune_with(fresh, &fit::Slice::new(rows, &loss))
    }

    /// [`Tuner::tune`] for any model a trainer fits: `fresh` makes each trial's model
    /// and `data` trains it (see [`Tunable`]).
    pub fn tune_with<T: Tunable>(
        &self,
        fresh: impl Fn() -> T::Model + Sync,
        data: &T,
    ) -> Result<TuneReport, TrainError> {
        self.check()?;
        let settings = self.space.sample(self.trials, self.seed);
        search::run(self, settings, &self.rungs(), true, &fresh, data)
    }

    /// Trains every point of [`Space::grid`] for the most passes (with early
    /// stopping): the exhaustive search [`Tuner::tune`] competes with.
    pub fn grid<I, S, R, L>(
        &self,
        fresh: impl Fn() -> Net<I, S> + Sync,
        rows: &[R],
        loss: L,
    ) -> Result<TuneReport, TrainError>
    where
        I: InputFeed<R>,
        S: Stack<In = I::Out>,
        R: Features + Sync,
        L: Loss<R, S::Out>,
    {
        self.grid_with(fresh, &fit::Slice::new(rows, &loss))
    }

    /// [`Tuner::grid`] for any model a trainer fits (see [`Tuner::tune_with`]).
    pub fn grid_with<T: Tunable>(
        &self,
        fresh: impl Fn() -> T::Model + Sync,
        data: &T,
    ) -> Result<TuneReport, TrainError> {
        self.check()?;
        let rungs = [self.space.passes()];
        search::run(self, self.space.grid(), &rungs, false, &fresh, data)
    }
}

#[cfg(test)]
mod tests {
    use super::{Opt, Space, Tuner};

    #[test]
    fn rungs_grow_by_eta_up_to_the_most_passes() {
        let rungs = |p, eta| {
            Tuner::new(Space::new(Opt::AdaGrad, 0.1, 1.0).max_passes(p))
                .eta(eta)
                .rungs()
        };
        assert_eq!(rungs(9, 3), [1, 3, 9]);
        assert_eq!(rungs(8, 3), [3, 8]);
        assert_eq!(rungs(2, 3), [2]);
        assert_eq!(rungs(8, 2), [1, 2, 4, 8]);
        assert_eq!(rungs(10, 2), [2, 3, 5, 10]);
    }
}
