//! `vf train`: reads rows as the flags (or the model resumed from) say, trains a run-time
//! net with the library's trainer, prints each pass and saves the model with its read
//! recipe.

use crate::args::{DataArgs, NetArgs, TrainArgs};
use crate::data::{default_cache, Reading};
use crate::error::{model, train, usage, CliError};
use crate::optimizers::{default_rate, optimizer_of_state, with_optimizer};
use crate::rate;
use crate::rows::RowStream;
use std::time::Instant;
use vectorflow::dynnet::Recipe;
use vectorflow::dynnet::{DynLoss, DynNet};
use vectorflow::optim::Optimizer;
use vectorflow::prelude::*;
use vectorflow::train::TrainReport;

/// Bits of the hashed feature table without `-b`: 2^20 rows (VW has 18; see docs/cli.md).
const DEFAULT_BITS: u32 = 20;

/// Runs `vf train`.
pub fn run(a: &TrainArgs) -> Result<(), CliError> {
    if a.final_model.is_none() && a.save_weights.is_none() && !a.quiet {
        eprintln!("note: no -f or --save-weights: the model is not saved");
    }
    let (mut net, reading, spec_text) = match &a.initial_model {
        Some(path) => resume(a, path)?,
        None => fresh(&a.data, &a.model, a.seed)?,
    };
    let loss = net_loss(a.model.loss.as_deref(), &net)?;
    let name = match (&a.optimizer, net.train_state()) {
        (Some(o), _) => o.to_ascii_lowercase(),
        (None, Some(s)) => optimizer_of_state(s.optimizer())?.to_string(),
        (None, None) => "adagrad".to_string(),
    };
    let t0 = Instant::now();
    let in_memory;
    let (mut input, cache) = match &a.cache {
        Some(c) => {
            let path = c.clone().unwrap_or_else(|| default_cache(&a.data.data));
            (reading.stream(&a.data.data)?, Some(path))
        }
        None => {
            in_memory = reading.read_all(&a.data.data, false)?;
            if !a.quiet {
                eprintln!(
                    "read {} rows from {} in {:.2}s",
                    in_memory.len(),
                    a.data.data.display(),
                    t0.elapsed().as_secs_f64()
                );
            }
            let name = a.data.data.display().to_string();
            (RowStream::memory(&in_memory, name), None)
        }
    };
    let lr = match a.learning_rate {
        Some(lr) => lr,
        // A stream: the probe reads its first rows into memory once, not once a trial.
        None if cache.is_some() => {
            let first = reading.read_first(&a.data.data, rate::PROBE_ROWS)?;
            let data = a.data.data.display().to_string();
            measured_rate(a, &name, &net, &mut RowStream::memory(&first, data), loss)?
        }
        None => measured_rate(a, &name, &net, &mut input, loss)?,
    };
    let report =
        with_optimizer!(name.as_str(), lr, opt => fit(a, opt, &mut net, &mut input, cache, loss))?;
    if !a.quiet {
        summary(&report, &net, &name, lr);
    }
    let mut recipe = Recipe::new(reading.format, spec_text, loss).with_interactions(reading.pairs);
    recipe.columns = reading.columns;
    net.set_recipe(Some(recipe));
    if let Some(f) = &a.final_model {
        net.save(f).map_err(model)?;
        if !a.quiet {
            eprintln!("saved the model to {}", f.display());
        }
    }
    if let Some(f) = &a.save_weights {
        net.save_for_predict(f).map_err(model)?;
        if !a.quiet {
            eprintln!("saved the weights (for prediction only) to {}", f.display());
        }
    }
    Ok(())
}

/// The rate of the probe on the first rows (`rate.rs`), or the optimizer's default
/// when the data has too few rows to tell.
fn measured_rate(
    a: &TrainArgs,
    name: &str,
    net: &DynNet,
    input: &mut RowStream,
    loss: DynLoss,
) -> Result<f32, CliError> {
    let base = default_rate(name, !net.spec().layers.is_empty());
    let t0 = Instant::now();
    let Some(p) = rate::probe(a, name, base, net, input, loss)? else {
        if !a.quiet {
            eprintln!("too few rows to measure the learning rate: {name} at {base}");
        }
        return Ok(base);
    };
    let lr = p.best().unwrap_or(base);
    if !a.quiet {
        let tried: Vec<String> = (p.scores.iter())
            .map(|(r, s)| match s {
                Some(s) => format!("{r:.3e} {s:.4}"),
                None => format!("{r:.3e} diverged"),
            })
            .collect();
        eprintln!(
            "learning rate {lr:.3e}: the best of one pass over {} rows, scored on the next {} \
             ({:.1}s; give -l to choose): {}",
            p.trained,
            p.scored,
            t0.elapsed().as_secs_f64(),
            tried.join(", ")
        );
    }
    Ok(lr)
}

/// A new net: the spec of `--net`, or a linear model (`--nn N`: one hidden ReLU layer)
/// over `2^b` slots for each of the rows' feature groups; its hidden layers' initial
/// weights drawn with `seed`.
pub fn fresh(d: &DataArgs, n: &NetArgs, seed: u64) -> Result<(DynNet, Reading, String), CliError> {
    let reading = Reading::from_flags(d)?;
    let spec = match &n.net {
        Some(s) => s.clone(),
        None => {
            let bits = n.bits.unwrap_or(DEFAULT_BITS);
            if !(1..=31).contains(&bits) {
                return Err(usage(format!("-b {bits}: give 1 to 31 bits")));
            }
            let roots: Vec<String> = (reading.roots().iter())
                .map(|r| match r.as_str() {
                    "" => format!("sparse:2^{bits}"),
                    name => format!("{name}:sparse:2^{bits}"),
                })
                .collect();
            let k = classes(n.loss.as_deref().unwrap_or("logistic"))?;
            match n.nn {
                Some(0) => return Err(usage("--nn 0: give a hidden width of 1 or more")),
                Some(w) => format!("{} > {w} > relu > {k}", roots.join(" + ")),
                None => format!("{} > {k}", roots.join(" + ")),
            }
        }
    };
    let linear = n.nn.is_none() && n.net.is_none();
    // A linear model starts at zero, as VW's; a hidden layer needs random weights.
    let init = if linear {
        Init::zeros()
    } else {
        Init::uniform(0.1).seed(seed)
    };
    let net = DynNet::new(&spec, init).map_err(|e| usage(format!("--net {spec:?}: {e}")))?;
    Ok((net, reading, spec))
}

/// The net and its state from `-i`, and how to read rows: its recipe (reading flags and
/// shape flags are then refused), or the flags for a file without one.
fn resume(a: &TrainArgs, path: &std::path::Path) -> Result<(DynNet, Reading, String), CliError> {
    let net = DynNet::load(path).map_err(model)?;
    let shape_flag = [
        (a.model.net.is_some(), "--net"),
        (a.model.nn.is_some(), "--nn"),
        (a.model.bits.is_some(), "-b"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag));
    if let Some(flag) = shape_flag {
        return Err(usage(format!(
            "{flag}: the net of -i {} is resumed as it is",
            path.display()
        )));
    }
    match net.recipe() {
        Some(r) => {
            if let Some(flag) = a.data.any_read_flag() {
                return Err(usage(format!(
                    "{flag}: -i {} records how its rows are read ({r}); drop the flag",
                    path.display()
                )));
            }
            let (reading, spec) = (Reading::from_recipe(r), r.net.clone());
            Ok((net, reading, spec))
        }
        None => {
            let spec = net.topology();
            Ok((net, Reading::from_flags(&a.data)?, spec))
        }
    }
}

/// The number of outputs `--loss` needs: K of `multinomial:K`, else 1.
fn classes(loss: &str) -> Result<usize, CliError> {
    let low = loss.trim().to_ascii_lowercase();
    match low.split_once(':') {
        Some(("multinomial", k)) => k
            .trim()
            .parse()
            .map_err(|_| usage(format!("--loss {loss}: `{k}` is not a number of classes"))),
        None if low == "multinomial" => Err(usage(
            "--loss multinomial needs its number of classes: multinomial:K (or a --net of K outputs)",
        )),
        _ => Ok(1),
    }
}

/// The loss of `--loss` for the net (a resumed net's recipe's, unless given).
pub fn net_loss(loss: Option<&str>, net: &DynNet) -> Result<DynLoss, CliError> {
    let name = match (loss, net.recipe()) {
        (Some(l), _) => l,
        (None, Some(r)) => return Ok(r.loss),
        (None, None) => "logistic",
    };
    DynLoss::parse(name, net.outputs()).map_err(|e| usage(format!("--loss: {e}")))
}

/// Trains `net` with optimizer `opt` and the flags' settings.
// Never inlined into the caller's match over the optimizers: one function per trainer,
// not one function holding all six, on which LLVM spent twice the build's time
// (docs/cli.md, compile time).
#[inline(never)]
fn fit<O: Optimizer>(
    a: &TrainArgs,
    opt: O,
    net: &mut DynNet,
    input: &mut RowStream,
    cache: Option<std::path::PathBuf>,
    loss: DynLoss,
) -> Result<TrainReport, CliError> {
    let holdout = match (a.holdout, a.holdout_off) {
        (Some(f), _) if !(f > 0.0 && f < 1.0) => {
            return Err(usage(format!(
                "--holdout {f}: give a fraction between 0 and 1"
            )))
        }
        (Some(f), _) => Holdout::Fraction(f),
        (None, true) => Holdout::None,
        // VW's default: every 10th row, with more than one pass.
        (None, false) if a.passes > 1 => Holdout::EveryKth(10),
        (None, false) => Holdout::None,
    };
    let mut t = Trainer::new(opt)
        .passes(a.passes)
        .threads(a.threads)
        .seed(a.seed)
        .holdout(holdout)
        .progress(if a.quiet {
            Progress::Silent
        } else {
            Progress::Auto
        });
    match (a.early_stop, holdout) {
        (Some(_), Holdout::None) => {
            return Err(usage("--early-stop needs a holdout: drop --holdout_off"));
        }
        (Some(n), _) => t = t.early_stopping(n),
        (None, Holdout::None) => {}
        // VW's default patience of 3 passes.
        (None, _) => t = t.early_stopping(3),
    }
    if let Some(p) = prior(a) {
        t = t.prior(p);
    }
    if let Some(c) = cache {
        t = t.cache(c);
    }
    t.fit_stream_dyn(net, input, loss).map_err(train)
}

/// The prior of `--l1` and `--l2`.
pub fn prior(a: &TrainArgs) -> Option<Prior> {
    match (a.l1, a.l2) {
        (None, None) => None,
        (l1, l2) => Some(Prior::l1(l1.unwrap_or(0.0)).and_l2(l2.unwrap_or(0.0))),
    }
}

/// The passes' figures and the outcome, on stderr.
fn summary(report: &TrainReport, net: &DynNet, optimizer: &str, lr: f32) {
    eprintln!(
        "\n{:>4}  {:>10}  {:>12}  {:>10}  {:>8}",
        "pass", "train loss", "holdout loss", "rows", "seconds"
    );
    for p in &report.passes {
        let held = p
            .holdout_loss
            .map_or("-".to_string(), |h| format!("{h:.6}"));
        eprintln!(
            "{:>4}  {:>10.6}  {:>12}  {:>10}  {:>8.2}",
            p.pass, p.train_loss, held, p.rows, p.seconds
        );
    }
    let stopped = if report.stopped_early {
        format!(", stopped early: kept pass {}", report.best_pass)
    } else {
        String::new()
    };
    eprintln!(
        "{} on {} rows, {} passes, {optimizer} at rate {lr}, {:.2}s{stopped}",
        net.topology(),
        report.rows(),
        report.passes.len(),
        report.seconds()
    );
}
