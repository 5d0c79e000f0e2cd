//! Autotune: the tuner (`vectorflow::tune`) picks the optimizer, learning rate, passes,
//! L1/L2 and mini-batch size on a validation split of the training rows, then the best
//! setting is trained on all of them and scored on the test rows.
//!
//! ```text
//! cargo run --release --example autotune -- --train F.svm --test F.svm --model lr|mlp16 \
//!     --budget-s S [--trials N] [--threads T] [--seed N] [--grid] [--init-acc A,B,..]
//! cargo run --release --example autotune -- --flights --model lr|mlp16 --budget-s S ...
//! ```
//!
//! `--flights` tunes on the quickstart's flights (`data/flights_sample.csv`, its 80/20
//! split) instead of LIBSVM files. `--grid` runs the exhaustive grid of the same space
//! instead (every optimizer × 7 learning rates × L1 × L2 × batch, each up to the most
//! passes with early stopping, no budget): the baseline the tuner is measured against.
//! `--init-acc` lists the initial accumulators AdaGrad tries (by default the library's
//! `INIT_ACC` alone), a dimension of the space like L1 and L2.
//! One line per trial goes to stderr; the last line printed is
//! `RESULT model=.. trials=.. wall_s=.. best_lr=.. best_passes=.. test_logloss=.. test_acc=..
//! test_auc=..` followed by the rest of the best setting and the search's own seconds.

#[path = "common/flights.rs"]
mod flights;
#[path = "common/models.rs"]
mod models;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use vectorflow::io::{CsvReader, Labels, LibSvm, SparseFormat};
use vectorflow::layers::InputFeed;
use vectorflow::metrics;
use vectorflow::network::Stack;
use vectorflow::predict::probability;
use vectorflow::prelude::*;
use vectorflow::tune::{Opt, Space, Tuner};

const USAGE: &str = "usage: autotune (--train F.svm --test F.svm | --flights) --model lr|mlp16 \
                     --budget-s S [--trials N] [--threads T] [--seed N] [--grid] \
                     [--init-acc A,B,..]";

struct Args {
    train: Option<PathBuf>,
    test: Option<PathBuf>,
    flights: bool,
    model: String,
    budget_s: f64,
    trials: usize,
    threads: usize,
    seed: u64,
    grid: bool,
    init_acc: Vec<f32>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        train: None,
        test: None,
        flights: false,
        model: String::new(),
        budget_s: 60.0,
        trials: 27,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        seed: 0,
        grid: false,
        init_acc: vec![vectorflow::optim::INIT_ACC],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--train" => a.train = Some(value()?.into()),
            "--test" => a.test = Some(value()?.into()),
            "--flights" => a.flights = true,
            "--model" => a.model = value()?,
            "--budget-s" => {
                a.budget_s = value()?.parse().map_err(|e| format!("--budget-s: {e}"))?
            }
            "--trials" => a.trials = value()?.parse().map_err(|e| format!("--trials: {e}"))?,
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--seed" => a.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--grid" => a.grid = true,
            "--init-acc" => {
                a.init_acc = value()?
                    .split(',')
                    .map(|v| {
                        v.trim()
                            .parse()
                            .map_err(|e| format!("--init-acc {v:?}: {e}"))
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.flights == (a.train.is_some() || a.test.is_some()) {
        return Err("give either --train and --test, or --flights".into());
    }
    if !a.flights && (a.train.is_none() || a.test.is_none()) {
        return Err("--train and --test go together".into());
    }
    if !(a.budget_s.is_finite() && a.budget_s >= 0.0) {
        return Err(format!(
            "--budget-s must be a number of seconds ≥ 0, not {}",
            a.budget_s
        ));
    }
    if a.model != "lr" && a.model != "mlp16" {
        return Err(format!("unknown model {:?}; expected lr or mlp16", a.model));
    }
    Ok(a)
}

/// The space searched for each model: AdaGrad (with each of `init_acc`) and Adam over
/// three decades of rate each, no prior or a light one, per-row updates or batches of 8,
/// up to 9 passes.
fn space(model: &str, init_acc: &[f32]) -> Space {
    let space = match model {
        "lr" => Space::new(Opt::AdaGrad, 0.003, 3.0).or(Opt::Adam, 1e-4, 0.1),
        _ => Space::new(Opt::AdaGrad, 0.001, 1.0).or(Opt::Adam, 3e-5, 0.03),
    };
    space
        .l1(&[0.0, 1e-6])
        .l2(&[0.0, 1e-6])
        .batch(&[1, 8])
        .init_acc(init_acc)
        .max_passes(9)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("autotune: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("autotune: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let wall = Instant::now();
    let fail = |e: &dyn std::fmt::Display| e.to_string();
    if args.flights {
        let mut reader = CsvReader::open(flights::path()).map_err(|e| fail(&e))?;
        let rows: Vec<flights::Flight> = reader.read_all().map_err(|e| fail(&e))?;
        let (train, test) = flights::split(rows);
        return match args.model.as_str() {
            "lr" => tune(models::lr, args, &train, &test, wall),
            _ => tune(models::mlp16, args, &train, &test, wall),
        };
    }
    let read = |p: &PathBuf| {
        LibSvm::new()
            .labels(Labels::Binary)
            .open(p)
            .and_then(|r| r.read_all())
            .map_err(|e| fail(&e))
    };
    let (train, test) = match (&args.train, &args.test) {
        (Some(a), Some(b)) => (read(a)?, read(b)?),
        _ => unreachable!("checked by parse_args"),
    };
    let (train, test) = (train.to_rows(), test.to_rows());
    match args.model.as_str() {
        "lr" => tune(models::lr, args, &train, &test, wall),
        _ => tune(models::mlp16, args, &train, &test, wall),
    }
}

/// Tunes (or runs the grid), trains the best setting on all of `train` and prints the
/// `RESULT` line.
fn tune<I, S, R>(
    fresh: fn() -> Net<I, S>,
    args: &Args,
    train: &[R],
    test: &[R],
    wall: Instant,
) -> Result<(), String>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out, Out = [f32; 1]>,
    R: Features + Labeled + Sync,
{
    let tuner = Tuner::new(space(&args.model, &args.init_acc))
        .trials(args.trials)
        .threads(args.threads)
        .seed(args.seed)
        .progress(Progress::Lines);
    let report = if args.grid {
        tuner.grid(fresh, train, Logistic)
    } else {
        tuner
            .budget(Duration::from_secs_f64(args.budget_s))
            .tune(fresh, train, Logistic)
    }
    .map_err(|e| e.to_string())?;
    eprint!("{report}");
    let best = report.best_setting();
    let mut net = fresh();
    let began = Instant::now();
    best.fit(&mut net, train, Logistic, 1, args.seed)
        .map_err(|e| e.to_string())?;
    let retrain_s = began.elapsed().as_secs_f64();
    let p: Vec<f32> = net
        .predict_batch(test)
        .map_err(|e| format!("test {e}"))?
        .into_iter()
        .map(probability)
        .collect();
    let y: Vec<f32> = test.iter().map(|r| r.label()).collect();
    let m = metrics::binary(&p, &y);
    println!(
        "RESULT model={} trials={} wall_s={:.3} best_lr={:.4e} best_passes={} test_logloss={:.4} test_acc={:.4} test_auc={:.4} best_opt={} best_init_acc={:e} best_l1={} best_l2={} best_batch={} val_logloss={:.4} search_s={:.3} search_passes={} retrain_s={:.3} mode={}",
        args.model,
        report.trials.len(),
        wall.elapsed().as_secs_f64(),
        best.lr,
        best.passes,
        m.logloss,
        m.accuracy,
        m.auc,
        best.opt.name(),
        best.init_acc,
        best.l1,
        best.l2,
        best.batch,
        report.best_trial().loss,
        report.seconds,
        report.passes,
        retrain_s,
        if args.grid { "grid" } else { "tune" },
    );
    Ok(())
}
