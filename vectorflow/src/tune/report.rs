//! What tuning returns: every trial, the best setting, and the effort spent.

use super::space::Setting;
use std::fmt;

/// How a trial ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It ran the most passes of the space.
    Completed,
    /// Successive halving stopped it after its last rung: others scored better.
    Halved,
    /// Its validation loss did not improve for the tuner's patience.
    EarlyStopped,
    /// Its loss became NaN or infinite: its rate is too high. Its passes before that
    /// still count.
    Diverged,
    /// The time budget ran out before it finished (or started: then it has no score).
    OutOfBudget,
}

/// One setting tried, with its validation score.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// Its number, from 0, in the order the settings were drawn.
    pub id: usize,
    /// The setting; its `passes` is the pass with the best validation loss (0 when no
    /// pass scored).
    pub setting: Setting,
    /// The best validation loss of its passes (infinite when no pass scored).
    pub loss: f64,
    /// Passes trained.
    pub passes_run: usize,
    /// Training seconds.
    pub seconds: f64,
    /// How it ended.
    pub outcome: Outcome,
}

impl Trial {
    /// Whether some pass of it scored.
    pub fn scored(&self) -> bool {
        self.loss.is_finite()
    }
}

/// The outcome of [`super::Tuner::tune`] or [`super::Tuner::grid`].
#[derive(Clone, Debug, PartialEq)]
pub struct TuneReport {
    /// Every trial, by id.
    pub trials: Vec<Trial>,
    /// The id of the trial with the best validation loss (the lower id on a tie).
    pub best: usize,
    /// Passes trained in all trials.
    pub passes: usize,
    /// Wall time of the search.
    pub seconds: f64,
    /// Whether the time budget ended the search.
    pub out_of_budget: bool,
}

impl TuneReport {
    /// The best trial.
    pub fn best_trial(&self) -> &Trial {
        &self.trials[self.best]
    }
    /// The best setting, for [`Setting::fit`] on all the rows.
    pub fn best_setting(&self) -> Setting {
        self.best_trial().setting
    }
    /// The trials that scored.
    pub fn scored(&self) -> usize {
        self.trials.iter().filter(|t| t.scored()).count()
    }
}

impl fmt::Display for TuneReport {
    /// A table of the trials, best first.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut order: Vec<&Trial> = self.trials.iter().collect();
        order.sort_by(|a, b| a.loss.total_cmp(&b.loss).then(a.id.cmp(&b.id)));
        writeln!(
            f,
            "{} trials ({} scored), {} passes in {:.1} s{}; best: trial {} ({}), validation loss {:.5}",
            self.trials.len(),
            self.scored(),
            self.passes,
            self.seconds,
            if self.out_of_budget {
                ", out of budget"
            } else {
                ""
            },
            self.best,
            self.best_setting(),
            self.best_trial().loss
        )?;
        for t in order {
            writeln!(
                f,
                "{:>5} {:>10.5} {:>3} passes {:>7.2} s  {:<12} {}",
                t.id,
                t.loss,
                t.passes_run,
                t.seconds,
                format!("{:?}", t.outcome),
                t.setting
            )?;
        }
        Ok(())
    }
}
