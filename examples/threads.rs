//! How training scales with threads, measured side by side in one process.
//!
//! ```text
//! cargo run --release --example threads -- --train train.svm --test test.svm \
//!     --model lr|mlp16 [--passes N] [--runs R] [--optimizer adagrad|rowadagrad]
//! ```
//!
//! The data is read once. Each run then trains fresh nets, in turn:
//! - on 1 thread;
//! - on 2 threads with [`Sharing::Replicas`] (the default) and with [`Sharing::Hogwild`];
//! - the machine's ceiling: two 1-thread fits at once, each on its own net and half of
//!   the rows, sharing nothing. No scheme of sharing weights can beat it, so it tells
//!   how much of a shortfall is the scheme's and how much the machine's (memory
//!   bandwidth, cores that are hyperthreads of one host core).
//!
//! Rows are in file order and training rows/s is timed around `fit` only. It prints
//! each run, then medians, and last a `RESULT` line with the ratios to 1 thread.

use std::path::PathBuf;
use std::time::Instant;
use vectorflow::io::{Labels, LibSvm, SparseFormat, SparseRow};
use vectorflow::layers::{InputFeed, InputLayer};
use vectorflow::metrics;
use vectorflow::network::Stack;
use vectorflow::optim::Optimizer;
use vectorflow::predict::probability;
use vectorflow::prelude::*;
use vectorflow::train::Sharing;

#[path = "common/models.rs"]
mod models;

struct Args {
    train: PathBuf,
    test: PathBuf,
    model: String,
    passes: usize,
    runs: usize,
    optimizer: String,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        train: PathBuf::new(),
        test: PathBuf::new(),
        model: "lr".into(),
        passes: 1,
        runs: 5,
        optimizer: "adagrad".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--train" => a.train = value()?.into(),
            "--test" => a.test = value()?.into(),
            "--model" => a.model = value()?,
            "--passes" => a.passes = value()?.parse().map_err(|e| format!("--passes: {e}"))?,
            "--runs" => a.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--optimizer" => a.optimizer = value()?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.train.as_os_str().is_empty() || a.test.as_os_str().is_empty() {
        return Err("--train and --test are required".into());
    }
    if !["adagrad", "rowadagrad"].contains(&a.optimizer.as_str()) {
        return Err(format!(
            "unknown optimizer {}; expected adagrad or rowadagrad",
            a.optimizer
        ));
    }
    Ok(a)
}

/// One setting's rows/s and test logloss over the runs.
#[derive(Default)]
struct Series {
    rows_per_s: Vec<f64>,
    logloss: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("threads: {e}\nusage: threads --train F --test F --model lr|mlp16 [--passes N] [--runs R] [--optimizer adagrad|rowadagrad]");
            std::process::exit(2);
        }
    };
    let read = |p: &PathBuf| {
        LibSvm::new()
            .labels(Labels::Binary)
            .open(p)
            .and_then(|r| r.read_all())
            .unwrap_or_else(|e| {
                eprintln!("threads: {e}");
                std::process::exit(1)
            })
    };
    let (train, test) = (read(&args.train), read(&args.test));
    let y = test.labels().to_vec();
    let (train, test) = (train.to_rows(), test.to_rows());
    let lr = match args.model.as_str() {
        "lr" => 0.5,
        "mlp16" => 0.02,
        other => {
            eprintln!("threads: unknown model {other}; expected lr or mlp16");
            std::process::exit(2);
        }
    };
    let data = (&train[..], (&test[..], &y[..]));
    match (args.model.as_str(), args.optimizer.as_str()) {
        ("lr", "adagrad") => compare(models::lr, AdaGrad::new(lr), &args, data),
        ("lr", _) => compare(models::lr, RowAdaGrad::new(lr), &args, data),
        (_, "adagrad") => compare(models::mlp16, AdaGrad::new(lr), &args, data),
        _ => compare(models::mlp16, RowAdaGrad::new(lr), &args, data),
    }
}

fn compare<I, S, O: Optimizer>(
    fresh: impl Fn() -> Net<I, S> + Sync,
    opt: O,
    args: &Args,
    (train, (test, y)): (&[SparseRow<'_>], (&[SparseRow<'_>], &[f32])),
) where
    I: InputLayer + for<'a> InputFeed<SparseRow<'a>>,
    S: Stack<In = I::Out, Out = [f32; 1]>,
{
    let trainer = |threads: usize, sharing: Sharing| {
        Trainer::new(opt)
            .passes(args.passes)
            .threads(threads)
            .sharing(sharing)
            .shuffle(false)
            .progress(Progress::Silent)
    };
    let score = |net: &Net<I, S>| {
        let p: Vec<f32> = net
            .predict_batch(test)
            .expect("test rows")
            .into_iter()
            .map(probability)
            .collect();
        metrics::binary(&p, y).logloss as f64
    };
    let rows = (train.len() * args.passes) as f64;
    let names = ["1 thread", "2 replicas", "2 hogwild", "ceiling"];
    let mut series: Vec<Series> = names.iter().map(|_| Series::default()).collect();
    for run in 1..=args.runs {
        for (k, name) in names.iter().enumerate() {
            let (secs, logloss) = if k == 3 {
                // Two independent halves at once: the most two threads can do here.
                let half = train.len() / 2;
                let (a, b) = train.split_at(half);
                let (mut na, mut nb) = (fresh(), fresh());
                let t = Instant::now();
                std::thread::scope(|s| {
                    s.spawn(|| trainer(1, Sharing::Auto).fit(&mut na, a, Logistic));
                    s.spawn(|| trainer(1, Sharing::Auto).fit(&mut nb, b, Logistic));
                });
                (t.elapsed().as_secs_f64(), score(&na))
            } else {
                let (threads, sharing) = match k {
                    0 => (1, Sharing::Auto),
                    1 => (2, Sharing::Replicas),
                    _ => (2, Sharing::Hogwild),
                };
                let mut net = fresh();
                let t = Instant::now();
                trainer(threads, sharing)
                    .fit(&mut net, train, Logistic)
                    .expect("training");
                (t.elapsed().as_secs_f64(), score(&net))
            };
            let s = &mut series[k];
            s.rows_per_s.push(rows / secs);
            s.logloss.push(logloss);
            println!(
                "run {run} {name:<10} {:>9.0} rows/s  test logloss {logloss:.4}",
                rows / secs
            );
        }
    }
    let one = median(&series[0].rows_per_s);
    for (name, s) in names.iter().zip(&series) {
        let r = median(&s.rows_per_s);
        println!(
            "median {name:<10} {r:>9.0} rows/s  {:.2}x  test logloss {:.4}",
            r / one,
            median(&s.logloss)
        );
    }
    let ratio = |k: usize| median(&series[k].rows_per_s) / one;
    println!(
        "RESULT model={} optimizer={} passes={} runs={} rows_per_s_1={:.0} speedup_replicas={:.2} speedup_hogwild={:.2} speedup_ceiling={:.2} logloss_1={:.4} logloss_replicas={:.4} logloss_hogwild={:.4}",
        args.model,
        args.optimizer,
        args.passes,
        args.runs,
        one,
        ratio(1),
        ratio(2),
        ratio(3),
        median(&series[0].logloss),
        median(&series[1].logloss),
        median(&series[2].logloss),
    );
}
