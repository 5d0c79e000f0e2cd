//! How training across ranks behaves at many ranks, simulated by in-process ranks
//! (`vectorflow::cluster::local`) on one machine: each rank trains a contiguous 1/N of
//! the training rows, and the job's model is scored on the test rows.
//!
//! ```text
//! cargo run --release --example ranks_sim -- --train train.svm --test test.svm \
//!     --model lr|mlp16 --passes P --ranks 1,2,4,8,16 [--sync-rows 4096,16384] [--lr X]
//! ```
//!
//! Prints one line per rank count and `--sync-rows` value:
//! `RESULT model= ranks= sync_rows= passes= test_logloss= test_auc= bytes_per_rank= sync_s= wall_s=`
//! (`bytes_per_rank` and `sync_s`: rank 0's `TrainReport::sync_bytes` and
//! `sync_seconds`; on one machine the ranks share its cores, so the times say little
//! about a cluster's, the figures of statistical efficiency and traffic do).

#[path = "common/models.rs"]
mod models;

use models::DIM;
use std::process::ExitCode;
use std::time::Instant;
use vectorflow::cluster::{local, Collective};
use vectorflow::io::{Labels, LibSvm, SparseFormat, SparseRow};
use vectorflow::prelude::*;
use vectorflow::train::TrainReport;

struct Args {
    train: String,
    test: String,
    model: String,
    passes: usize,
    ranks: Vec<usize>,
    sync_rows: Vec<usize>,
    lr: Option<f32>,
}

fn list(v: &str, flag: &str) -> Result<Vec<usize>, String> {
    v.split(',')
        .map(|x| x.parse().map_err(|e| format!("{flag}: `{x}`: {e}")))
        .collect()
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        train: String::new(),
        test: String::new(),
        model: "lr".into(),
        passes: 1,
        ranks: vec![1, 2, 4],
        sync_rows: vec![vectorflow::train::DEFAULT_SYNC_ROWS],
        lr: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--train" => a.train = value()?,
            "--test" => a.test = value()?,
            "--model" => a.model = value()?,
            "--passes" => a.passes = value()?.parse().map_err(|e| format!("--passes: {e}"))?,
            "--ranks" => a.ranks = list(&value()?, "--ranks")?,
            "--sync-rows" => a.sync_rows = list(&value()?, "--sync-rows")?,
            "--lr" => a.lr = Some(value()?.parse().map_err(|e| format!("--lr: {e}"))?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.train.is_empty() || a.test.is_empty() {
        return Err("--train and --test are required".into());
    }
    Ok(a)
}

/// Trains `make()`'s net across `ranks` in-process ranks on `rows`, each rank on its
/// contiguous share, and scores rank 0's net on `test`: test logloss and AUC, rank 0's
/// report.
fn run<I, S>(
    make: fn() -> Net<I, S>,
    t: &Trainer<AdaGrad>,
    (ranks, sync_rows): (usize, usize),
    rows: &[SparseRow<'_>],
    test: &[SparseRow<'_>],
    labels: &[f32],
) -> Result<(f64, f64, TrainReport), String>
where
    I: for<'a> vectorflow::layers::InputFeed<SparseRow<'a>>,
    S: vectorflow::network::Stack<In = I::Out, Out = [f32; 1]>,
    Net<I, S>: Send,
{
    let mut out = local::run(ranks, |comm| {
        let r = comm.rank();
        let mine = &rows[rows.len() * r / ranks..rows.len() * (r + 1) / ranks];
        let mut net = make();
        let report = t
            .clone()
            .ranks(comm)
            .sync_rows(sync_rows)
            .fit(&mut net, mine, Logistic);
        report.map(|rep| (net, rep)).map_err(|e| e.to_string())
    });
    let (net, report) = out.swap_remove(0)?;
    let p: Vec<f32> = net
        .predict_batch(test)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(vectorflow::predict::probability)
        .collect();
    let m = vectorflow::metrics::binary(&p, labels);
    Ok((m.logloss, m.auc, report))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ranks_sim: {e}");
            return ExitCode::from(2);
        }
    };
    let format = LibSvm::new().labels(Labels::Binary).dim(DIM as u32);
    let read = |p: &str| {
        format
            .open(p)
            .and_then(|r| r.read_all())
            .map_err(|e| e.to_string())
    };
    let (train, test) = match (read(&args.train), read(&args.test)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("ranks_sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (rows, test_rows) = (train.to_rows(), test.to_rows());
    for &ranks in &args.ranks {
        for &k in &args.sync_rows {
            let lr = args
                .lr
                .unwrap_or(if args.model == "lr" { 0.5 } else { 0.02 });
            let t = Trainer::new(AdaGrad::new(lr))
                .passes(args.passes)
                .progress(Progress::Silent);
            let began = Instant::now();
            let at = (ranks, k);
            let done = match args.model.as_str() {
                "lr" => run(models::lr, &t, at, &rows, &test_rows, test.labels()),
                "mlp16" => run(models::mlp16, &t, at, &rows, &test_rows, test.labels()),
                other => Err(format!("unknown model {other}; expected lr or mlp16")),
            };
            match done {
                Ok((logloss, auc, report)) => println!(
                    "RESULT model={} ranks={ranks} sync_rows={k} passes={} test_logloss={logloss:.4} \
                     test_auc={auc:.4} bytes_per_rank={} sync_s={:.3} wall_s={:.3}",
                    args.model,
                    args.passes,
                    report.sync_bytes,
                    report.sync_seconds,
                    began.elapsed().as_secs_f64()
                ),
                Err(e) => {
                    eprintln!("ranks_sim: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}
