//! `vf tune`: the library's tuner over a run-time net and the rows in memory, printing
//! the best setting as a `vf train` command line.
//!
//! Each trial trains through the same `fit_stream_dyn` as `vf train`, so tuning adds no
//! trainer to the binary (each is a large monomorphization).

use crate::args::TuneArgs;
use crate::data::Rows;
use crate::error::{data, train, usage, CliError};
use crate::optimizers::default_rate;
use crate::rate;
use crate::rows::RowStream;
use crate::train::{fresh, net_loss};
use std::time::{Duration, Instant};
use vectorflow::dynnet::{DynLoss, DynNet};
use vectorflow::optim::Optimizer;
use vectorflow::prelude::*;
use vectorflow::train::{Holdout, TrainError, TrainReport};
use vectorflow::tune::{Opt, Setting, Space, Tunable, Tuner};

/// The rows every trial trains on and is scored on, and the loss. Trials train on the
/// first `trained` rows and are scored on the rest: as the rate probe does (rate.rs),
/// so data ordered in time is scored as a later test split would score it, where the
/// tuner's own pseudo-random split rewards fitting the training period.
struct Trials<'r> {
    rows: &'r Rows,
    name: String,
    loss: DynLoss,
    trained: usize,
}

impl Tunable for Trials<'_> {
    type Model = DynNet;

    // One function per trainer (see train.rs's `fit`).
    #[inline(never)]
    fn fit<O: Optimizer>(
        &self,
        trainer: &Trainer<O>,
        net: &mut DynNet,
    ) -> Result<TrainReport, TrainError> {
        let read = |e: CliError| TrainError::Read(e.to_string());
        let stream = |e: vectorflow::train::StreamError| TrainError::Read(e.to_string());
        let mut input = RowStream::memory(self.rows, self.name.clone());
        input.first(self.trained).map_err(stream)?;
        let t = trainer.clone().holdout(Holdout::None);
        let mut report = t.fit_stream_dyn(net, &mut input, self.loss)?;
        input.first(self.rows.len()).map_err(stream)?;
        let score = rate::score(net, &mut input, self.trained, self.loss).map_err(read)?;
        if let Some(p) = report.passes.first_mut() {
            // A diverged net scores no finite loss: never the best.
            p.holdout_loss = Some(score.unwrap_or(f64::INFINITY));
        }
        Ok(report)
    }
}

/// The tuner's optimizer for an `--optimizers` name.
fn opt_of(name: &str) -> Result<Opt, CliError> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "adagrad" => Opt::AdaGrad,
        "rowadagrad" => Opt::RowAdaGrad,
        "sgd" => Opt::Sgd,
        "adam" => Opt::Adam,
        "ftrl" => Opt::Ftrl,
        other => {
            return Err(usage(format!(
                "--optimizers {other}: the tuner searches adagrad, rowadagrad, sgd, adam and ftrl"
            )))
        }
    })
}

/// The `--optimizer` name of a tuner's optimizer.
fn name_of(opt: Opt) -> &'static str {
    match opt {
        Opt::AdaGrad => "adagrad",
        Opt::RowAdaGrad => "rowadagrad",
        Opt::Sgd => "sgd",
        Opt::Adam => "adam",
        Opt::Ftrl => "ftrl",
    }
}

/// The space of the flags: each optimizer's rates from 1/1000 to 3 times its default
/// (the best one-pass rates measured on real and synthetic data are 1/200 and 1 times
/// the default: docs/cli.md).
fn space(a: &TuneArgs, hidden: bool) -> Result<Space, CliError> {
    let mut space: Option<Space> = None;
    for name in &a.optimizers {
        let opt = opt_of(name)?;
        let lr = default_rate(name_of(opt), hidden);
        let (lo, hi) = (lr / 1000.0, lr * 3.0);
        space = Some(match space {
            None => Space::new(opt, lo, hi),
            Some(s) => s.or(opt, lo, hi),
        });
    }
    let space = space.ok_or_else(|| usage("--optimizers: name at least one"))?;
    if a.max_passes == 0 {
        return Err(usage("--max-passes 0: give 1 or more"));
    }
    Ok(space.l1(&a.l1).l2(&a.l2).max_passes(a.max_passes))
}

/// Runs `vf tune`.
pub fn run(a: &TuneArgs) -> Result<(), CliError> {
    let (net, reading, _) = fresh(&a.data, &a.model, a.seed)?;
    let loss = net_loss(a.model.loss.as_deref(), &net)?;
    let hidden = !net.spec().layers.is_empty();
    let space = space(a, hidden)?;
    let t0 = Instant::now();
    let rows = reading.read_all(&a.data.data, false)?;
    if !a.quiet {
        eprintln!(
            "read {} rows from {} in {:.2}s",
            rows.len(),
            a.data.data.display(),
            t0.elapsed().as_secs_f64()
        );
    }
    let mut tuner = Tuner::new(space)
        .trials(a.trials)
        .validation(a.validation)
        .seed(a.seed)
        .progress(if a.quiet {
            Progress::Silent
        } else {
            Progress::Lines
        });
    if let Some(t) = a.threads {
        tuner = tuner.threads(t);
    }
    if let Some(s) = a.budget {
        if !(s.is_finite() && s > 0.0) {
            return Err(usage(format!("--budget {s}: give a number of seconds")));
        }
        tuner = tuner.budget(Duration::from_secs_f64(s));
    }
    if !(a.validation > 0.0 && a.validation < 1.0) {
        return Err(usage(format!(
            "--validation {}: give a share between 0 and 1",
            a.validation
        )));
    }
    let scored = (rows.len() as f64 * a.validation).ceil() as usize;
    if scored == 0 || scored >= rows.len() {
        return Err(data(format!(
            "{}: {} rows are too few to hold out a share of {} and train on the rest",
            a.data.data.display(),
            rows.len(),
            a.validation
        )));
    }
    let trials = Trials {
        rows: &rows,
        name: a.data.data.display().to_string(),
        loss,
        trained: rows.len() - scored,
    };
    let report = tuner.tune_with(|| net.clone(), &trials).map_err(train)?;
    let best = report.best_trial();
    if !a.quiet {
        eprintln!(
            "{} trials, {} passes in {:.1}s{}; the best, trial {}: validation loss {:.6} \
             with {}",
            report.trials.len(),
            report.passes,
            report.seconds,
            if report.out_of_budget {
                " (out of budget)"
            } else {
                ""
            },
            best.id,
            best.loss,
            best.setting
        );
    }
    println!("{}", command_line(a, &best.setting));
    Ok(())
}

/// The `vf train` command line that trains `setting` on every row.
fn command_line(a: &TuneArgs, s: &Setting) -> String {
    let mut words: Vec<String> = vec!["vf".into(), "train".into()];
    words.extend(a.data.to_flags());
    words.extend(a.model.to_flags());
    let mut flag = |name: &str, value: String| words.extend([name.to_string(), value]);
    flag("--optimizer", name_of(s.opt).to_string());
    flag("-l", format!("{:.3e}", s.lr));
    flag("--passes", s.passes.to_string());
    if s.l1 != 0.0 {
        flag("--l1", format!("{:e}", s.l1));
    }
    if s.l2 != 0.0 {
        flag("--l2", format!("{:e}", s.l2));
    }
    if a.seed != 0 {
        flag("--seed", a.seed.to_string());
    }
    flag("-f", "model.vf".into());
    words.push("--holdout_off".into());
    let quoted: Vec<String> = words.iter().map(|w| shell_word(w)).collect();
    quoted.join(" ")
}

/// `w` as one shell word: as it is when plain, else in single quotes.
fn shell_word(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_word("train.vw"), "train.vw");
        assert_eq!(shell_word("origin*dest"), "'origin*dest'");
        assert_eq!(shell_word("sparse:2^20 > 16"), "'sparse:2^20 > 16'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
