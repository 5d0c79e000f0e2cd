//! Throughput and accuracy of vectorflow against hand-written loops, on LIBSVM data.
//!
//! ```text
//! cargo run --release --example bench -- --train train.svm --test test.svm \
//!     --model lr|mlp16|mlp16-small|lr-reference|lr-tuned|mlp16-reference|mlp16-tuned|mlp16-rowwise-reference|mlp16-rowwise-tuned --passes N --threads T [--lr X] \
//!     [--optimizer adagrad|rowadagrad|sgd|momentum|adam|ftrl] [--init-acc X] [--save FILE] [--load FILE] [--stream [--cache FILE]] [--dyn]
//! ```
//!
//! `--dyn` trains `lr`, `mlp16` or `mlp16-small` as a network built at run time
//! (`vectorflow::dynnet::DynNet`, from its spec, e.g. `sparse:2^20 > 16 > relu > 1`)
//! instead of the typed `network!` net: the same weights, through the same trainer.
//!
//! `--init-acc` sets AdaGrad's (and `rowadagrad`'s) initial accumulator, by default the
//! library's `INIT_ACC` (see `docs/init_accumulator.md`).
//!
//! `--optimizer` picks the library models' optimizer (AdaGrad by default, as the reference
//! loops use; `rowadagrad` is AdaGrad with one accumulator per sparse row, at AdaGrad's
//! rates; `momentum` is SGD with momentum 0.9), each with a default rate per model that
//! `--lr` overrides.
//!
//! `--stream` trains from the file through the library's streaming reader instead of
//! loading it (and streams the test file too), so memory is bounded by the chunk size
//! (the trainer's default for streams, 4,096 rows);
//! with more than one pass the first writes a binary cache (`--cache`, by default a
//! temporary file) that the later passes read instead of the text.
//!
//! Each pass's time and rows/s go to standard error, as `pass N: S s, R rows/s (FROM)`
//! with FROM `memory`, `text` or `cache`, so that cached passes compare with in-memory
//! ones pass by pass.
//!
//! `--save` writes the trained model with its training state; `--load` starts from such a
//! file and trains `--passes` more passes, resuming the state (`--passes 0` only
//! evaluates). `--passes 2 --save m.vf` then `--load m.vf --passes 1` gives the test
//! figures of `--passes 3`. A file that cannot be loaded exits with status 2.
//!
//! Ids are 1-based and below 2^20 (`models::DIM`): a larger one is an error naming its
//! file and line. `mlp16-small` folds them into its 2^16 slots, as it asks the reader to
//! (`OutOfRange::Modulo`).
//!
//! The `*-reference` models are plain loops with the same algorithm (per-row AdaGrad,
//! rows in file order) and no library machinery, and the `*-tuned` models the best
//! hand-written loops we could make of it (see `reference.rs`). Every model is built
//! before the timer starts, and only training is timed. The last line printed is a machine-readable `RESULT ...` summary.

mod reference;

#[path = "../common/models.rs"]
mod models;
#[path = "../common/rss.rs"]
mod rss;

use rss::max_rss_mb;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use vectorflow::dynnet::{DynLoss, DynNet};
use vectorflow::file::ModelError;
use vectorflow::io::{
    Labels, LibSvm, OutOfRange, SparseFormat, SparseRow, SparseRows, SparseStream,
};
use vectorflow::layers::{InputFeed, InputLayer};
use vectorflow::metrics;
use vectorflow::network::Stack;
use vectorflow::optim::Optimizer;
use vectorflow::predict::{probability, PredictError};
use vectorflow::prelude::*;
use vectorflow::train::{TrainError, TrainReport};

use models::DIM;

/// The names `--optimizer` takes.
const OPTIMIZERS: [&str; 6] = ["adagrad", "rowadagrad", "sgd", "momentum", "adam", "ftrl"];

/// The learning rate of `optimizer` on `model` (`lr` or `mlp16`) without `--lr`: AdaGrad's
/// are the reference loops' rates, the others were picked by a few runs on the
/// synthetic benchmark data.
fn default_lr(model: &str, optimizer: &str) -> f32 {
    let mlp = model.starts_with("mlp16");
    match (optimizer, mlp) {
        ("sgd", _) => 0.2,
        ("momentum", false) => 0.01,
        ("momentum", true) => 0.005,
        ("adam", false) => 0.01,
        ("adam", true) => 0.002,
        ("ftrl", false) => 0.5,
        ("ftrl", true) => 0.05,
        (_, false) => 0.5,
        (_, true) => 0.02,
    }
}

/// Runs `$body` with `$opt` bound to the optimizer `--optimizer` names (checked by
/// `parse_args`), at `--lr` or its default rate: each optimizer is a type of its own.
macro_rules! with_optimizer {
    ($args:expr, $opt:ident => $body:expr) => {{
        let args: &Args = $args;
        let lr = args
            .lr
            .unwrap_or_else(|| default_lr(&args.model, &args.optimizer));
        match args.optimizer.as_str() {
            "sgd" => {
                let $opt = Sgd::new(lr);
                $body
            }
            "momentum" => {
                let $opt = Sgd::new(lr).momentum(0.9);
                $body
            }
            "adam" => {
                let $opt = Adam::new(lr);
                $body
            }
            "ftrl" => {
                let $opt = Ftrl::new(lr);
                $body
            }
            "adagrad" => {
                let ada = AdaGrad::new(lr);
                let $opt = args.init_acc.map_or(ada, |a| ada.init_acc(a));
                $body
            }
            "rowadagrad" => {
                let ada = RowAdaGrad::new(lr);
                let $opt = args.init_acc.map_or(ada, |a| ada.init_acc(a));
                $body
            }
            other => unreachable!("--optimizer {other} was checked against OPTIMIZERS"),
        }
    }};
}

/// The names `--model` takes.
const MODELS: [&str; 9] = [
    "lr",
    "mlp16",
    "mlp16-small",
    "lr-reference",
    "lr-tuned",
    "mlp16-reference",
    "mlp16-tuned",
    "mlp16-rowwise-reference",
    "mlp16-rowwise-tuned",
];

/// Trains a hand-written MLP loop (`*-tuned` or plain) with first layer `F`: the
/// training seconds and the test predictions.
fn mlp_loop<F: reference::FirstLayer>(
    args: &Args,
    train: &SparseRows,
    test: &SparseRows,
) -> (f64, Vec<f32>) {
    let mut m = reference::MlpModel::<F>::new(DIM, 42);
    let began = Instant::now();
    let lr = args.lr.unwrap_or(0.02);
    if args.model.ends_with("-tuned") {
        m.train_tuned(train, args.passes, lr);
    } else {
        m.train(train, args.passes, lr);
    }
    (began.elapsed().as_secs_f64(), m.predict_all(test))
}

struct Args {
    train: PathBuf,
    test: PathBuf,
    model: String,
    passes: usize,
    threads: usize,
    lr: Option<f32>,
    /// `--init-acc`: AdaGrad's initial accumulator, the library's default without it.
    init_acc: Option<f32>,
    optimizer: String,
    save: Option<PathBuf>,
    load: Option<PathBuf>,
    stream: bool,
    cache: Option<PathBuf>,
    /// `--dyn`: the model as a network built at run time.
    dyn_net: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        train: PathBuf::new(),
        test: PathBuf::new(),
        model: String::new(),
        passes: 3,
        threads: 1,
        lr: None,
        init_acc: None,
        optimizer: "adagrad".into(),
        save: None,
        load: None,
        stream: false,
        cache: None,
        dyn_net: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--train" => a.train = value()?.into(),
            "--test" => a.test = value()?.into(),
            "--model" => a.model = value()?,
            "--passes" => a.passes = value()?.parse().map_err(|e| format!("--passes: {e}"))?,
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--lr" => a.lr = Some(value()?.parse().map_err(|e| format!("--lr: {e}"))?),
            "--init-acc" => {
                a.init_acc = Some(value()?.parse().map_err(|e| format!("--init-acc: {e}"))?)
            }
            "--optimizer" => a.optimizer = value()?,
            "--save" => a.save = Some(value()?.into()),
            "--load" => a.load = Some(value()?.into()),
            "--stream" => a.stream = true,
            "--cache" => a.cache = Some(value()?.into()),
            "--dyn" => a.dyn_net = true,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.train.as_os_str().is_empty() || a.test.as_os_str().is_empty() {
        return Err("--train and --test are required".into());
    }
    if a.passes == 0 && a.load.is_none() {
        return Err("--passes 0 (evaluate only) needs --load".into());
    }
    if (a.save.is_some() || a.load.is_some() || a.stream)
        && (a.model.ends_with("-reference") || a.model.ends_with("-tuned"))
    {
        return Err(
            "--save, --load and --stream apply to the library's models, not the reference loops"
                .into(),
        );
    }
    if !OPTIMIZERS.contains(&a.optimizer.as_str()) {
        return Err(format!(
            "unknown optimizer {}; expected one of {}",
            a.optimizer,
            OPTIMIZERS.join(", ")
        ));
    }
    if a.optimizer != "adagrad" && (a.model.ends_with("-reference") || a.model.ends_with("-tuned"))
    {
        return Err(
            "--optimizer applies to the library's models; the reference loops are AdaGrad".into(),
        );
    }
    if a.init_acc.is_some()
        && (!a.optimizer.ends_with("adagrad")
            || a.model.ends_with("-reference")
            || a.model.ends_with("-tuned"))
    {
        return Err(
            "--init-acc applies to the library's models with --optimizer adagrad or rowadagrad"
                .into(),
        );
    }
    if a.dyn_net && models::spec(&a.model).is_none() {
        return Err("--dyn applies to lr, mlp16 and mlp16-small".into());
    }
    if a.cache.is_some() && !a.stream {
        return Err("--cache needs --stream".into());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "bench: {e}\nusage: bench --train F --test F --model {} --passes N --threads T [--lr X] [--optimizer adagrad|rowadagrad|sgd|momentum|adam|ftrl] [--init-acc X] [--save FILE] [--load FILE] [--stream [--cache FILE]] [--dyn]",
                MODELS.join("|")
            );
            return ExitCode::from(2);
        }
    };
    let wall = Instant::now();
    if args.stream {
        let trained = match args.model.as_str() {
            m if args.dyn_net => {
                with_optimizer!(&args, opt => stream(|| models::dyn_net(m), &args, opt))
            }
            "lr" => with_optimizer!(&args, opt => stream(models::lr, &args, opt)),
            "mlp16" => with_optimizer!(&args, opt => stream(models::mlp16, &args, opt)),
            "mlp16-small" => with_optimizer!(&args, opt => stream(models::mlp16_small, &args, opt)),
            other => Err(Fail::Other(format!(
                "unknown model {other}; expected lr, mlp16 or mlp16-small with --stream"
            ))),
        };
        return match trained {
            Ok(r) => finish(&args, r, wall),
            Err(e) => e.exit(),
        };
    }
    let read = |p: &PathBuf| {
        libsvm(&args)
            .open(p)
            .and_then(|r| r.read_all())
            .map_err(|e| e.to_string())
    };
    let (train, test) = match (read(&args.train), read(&args.test)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Training on nothing would report the untrained net's figures as the model's.
    if train.is_empty() && args.passes > 0 {
        eprintln!("bench: {}: no rows to train on", args.train.display());
        return ExitCode::FAILURE;
    }
    let (train_rows, test_rows) = (train.to_rows(), test.to_rows());
    let trained = match args.model.as_str() {
        m if args.dyn_net => {
            with_optimizer!(&args, opt => fit(|| models::dyn_net(m), &args, opt, &train_rows, &test_rows))
        }
        "lr" => with_optimizer!(&args, opt => fit(models::lr, &args, opt, &train_rows, &test_rows)),
        "mlp16" => {
            with_optimizer!(&args, opt => fit(models::mlp16, &args, opt, &train_rows, &test_rows))
        }
        "mlp16-small" => {
            with_optimizer!(&args, opt => fit(models::mlp16_small, &args, opt, &train_rows, &test_rows))
        }
        "lr-reference" | "lr-tuned" => {
            let mut m = reference::LrModel::new(DIM);
            let began = Instant::now();
            let lr = args.lr.unwrap_or(0.5);
            if args.model == "lr-tuned" {
                m.train_tuned(&train, args.passes, lr);
            } else {
                m.train(&train, args.passes, lr);
            }
            Ok((began.elapsed().as_secs_f64(), m.predict_all(&test)))
        }
        "mlp16-reference" | "mlp16-tuned" => {
            Ok(mlp_loop::<reference::PerWeight>(&args, &train, &test))
        }
        "mlp16-rowwise-reference" | "mlp16-rowwise-tuned" => {
            Ok(mlp_loop::<reference::PerRow>(&args, &train, &test))
        }
        other => Err(Fail::Other(format!(
            "unknown model {other}; expected one of {}",
            MODELS.join(", ")
        ))),
    };
    match trained {
        Ok((secs, p)) => {
            let passes = args.passes as u64;
            let (rows, nnz) = (train.len() as u64 * passes, train.nnz() as u64 * passes);
            let y = test.labels().to_vec();
            finish(
                &args,
                Run {
                    secs,
                    rows,
                    nnz,
                    p,
                    y,
                },
                wall,
            )
        }
        Err(e) => e.exit(),
    }
}

/// The reader of the train and test files: 0/1 labels, ids below [`DIM`], the feature
/// space of every model but `mlp16-small`, which folds them into its smaller input.
fn libsvm(args: &Args) -> LibSvm {
    let format = LibSvm::new().labels(Labels::Binary).dim(DIM as u32);
    match args.model.as_str() {
        "mlp16-small" => format.out_of_range(OutOfRange::Modulo),
        _ => format,
    }
}

/// Why a model run failed: a model file that cannot be loaded exits with status 2.
enum Fail {
    Load(String),
    Other(String),
}

impl Fail {
    fn exit(self) -> ExitCode {
        match self {
            Fail::Load(e) => {
                eprintln!("bench: {e}");
                ExitCode::from(2)
            }
            Fail::Other(e) => {
                eprintln!("bench: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

/// A finished run: training seconds, rows and non-zeros trained, test probabilities
/// and labels.
struct Run {
    secs: f64,
    rows: u64,
    nnz: u64,
    p: Vec<f32>,
    y: Vec<f32>,
}

/// What the benchmark does with a model: a typed net's and `--dyn`'s run-time net's
/// calls, which differ only in name.
trait Model: Sized {
    fn load(path: &std::path::Path) -> Result<Self, ModelError>;
    fn save(&self, path: &std::path::Path) -> Result<(), ModelError>;
    fn fit<O: Optimizer>(
        &mut self,
        t: &Trainer<O>,
        rows: &[SparseRow<'_>],
    ) -> Result<TrainReport, TrainError>;
    fn fit_stream<O: Optimizer>(
        &mut self,
        t: &Trainer<O>,
        rows: &mut SparseStream<LibSvm>,
    ) -> Result<TrainReport, TrainError>;
    /// The probability of each row.
    fn probabilities(&self, rows: &[SparseRow<'_>]) -> Result<Vec<f32>, PredictError>;
}

impl<I, S> Model for Net<I, S>
where
    I: InputLayer + for<'a> InputFeed<SparseRow<'a>>,
    S: Stack<In = I::Out, Out = [f32; 1]>,
{
    fn load(path: &std::path::Path) -> Result<Self, ModelError> {
        Net::load(path)
    }
    fn save(&self, path: &std::path::Path) -> Result<(), ModelError> {
        Net::save(self, path)
    }
    fn fit<O: Optimizer>(
        &mut self,
        t: &Trainer<O>,
        rows: &[SparseRow<'_>],
    ) -> Result<TrainReport, TrainError> {
        t.fit(self, rows, Logistic)
    }
    fn fit_stream<O: Optimizer>(
        &mut self,
        t: &Trainer<O>,
        rows: &mut SparseStream<LibSvm>,
    ) -> Result<TrainReport, TrainError> {
        // Named: the stream type is not inferred under the generic net's bound.
        t.fit_stream::<I, S, SparseStream<LibSvm>, _, _>(self, rows, Logistic)
    }
    fn probabilities(&self, rows: &[SparseRow<'_>]) -> Result<Vec<f32>, PredictError> {
        Ok(self
            .predict_batch(rows)?
            .into_iter()
            .map(probability)
            .collect())
    }
}

impl Model for DynNet {
    fn load(path: &std::path::Path) -> Result<Self, ModelError> {
        DynNet::load(path)
    }
    fn save(&self, path: &std::path::Path) -> Result<(), ModelError> {
        DynNet::save(self, path)
    }
    fn fit<O: Optimizer>(
        &mut self,
        t: &Trainer<O>,
        rows: &[SparseRow<'_>],
    ) -> Result<TrainReport, TrainError> {
        t.fit_dyn(self, rows, DynLoss::Logistic)
    }
    fn fit_stream<O: Optimizer>(
        &mut self,
        t: &Trainer<O>,
        rows: &mut SparseStream<LibSvm>,
    ) -> Result<TrainReport, TrainError> {
        t.fit_stream_dyn(self, rows, DynLoss::Logistic)
    }
    fn probabilities(&self, rows: &[SparseRow<'_>]) -> Result<Vec<f32>, PredictError> {
        Ok(self
            .predict_batch(rows)?
            .into_iter()
            .map(|s| probability([s]))
            .collect())
    }
}

/// The net `--load` names, or a fresh one.
fn start<N: Model>(fresh: impl FnOnce() -> N, args: &Args) -> Result<N, Fail> {
    match &args.load {
        Some(path) => N::load(path).map_err(|e| Fail::Load(e.to_string())),
        None => Ok(fresh()),
    }
}

fn trainer<O: Optimizer>(args: &Args, opt: O) -> Trainer<O> {
    Trainer::new(opt)
        .passes(args.passes)
        .threads(args.threads)
        .shuffle(false)
}

/// `--stream`: trains from the file through the streaming reader (and the cache after
/// the first pass), then streams the test file through `predict_batch`.
fn stream<N: Model, O: Optimizer>(
    fresh: impl FnOnce() -> N,
    args: &Args,
    opt: O,
) -> Result<Run, Fail> {
    let mut net = start(fresh, args)?;
    let format = libsvm(args);
    let fail = |e: &dyn std::fmt::Display| Fail::Other(e.to_string());
    let mut rows = format.stream(&args.train).map_err(|e| fail(&e))?;
    let temp = std::env::temp_dir().join(format!("bench-{}.vfcache", std::process::id()));
    let cache = args.cache.clone().unwrap_or_else(|| temp.clone());
    let began = Instant::now();
    let (mut n, mut nnz) = (0, 0);
    if args.passes > 0 {
        let mut t = trainer(args, opt);
        if args.passes > 1 {
            t = t.cache(&cache);
        }
        let report = net.fit_stream(&t, &mut rows);
        let _ = std::fs::remove_file(&temp);
        let report = report.map_err(|e| fail(&e))?;
        print_passes(&report, |pass| if pass == 1 { "text" } else { "cache" });
        (n, nnz) = (report.rows(), report.nnz());
    }
    let secs = began.elapsed().as_secs_f64();
    if let Some(path) = &args.save {
        net.save(path).map_err(|e| fail(&e))?;
    }
    let (mut p, mut y) = (Vec::new(), Vec::new());
    // A chunk ahead: the next chunk is parsed while this one is scored.
    let mut test = format
        .open(&args.test)
        .and_then(|r| r.ahead())
        .map_err(|e| fail(&e))?;
    let mut chunk = SparseRows::new();
    while test.read_into(&mut chunk).map_err(|e| fail(&e))? {
        let out = net
            .probabilities(&chunk.to_rows())
            .map_err(|e| Fail::Other(format!("test {e}")))?;
        p.extend(out);
        y.extend_from_slice(chunk.labels());
    }
    Ok(Run {
        secs,
        rows: n,
        nnz,
        p,
        y,
    })
}

/// Trains a fresh net (or the one `--load` names) with `opt` (rows in file order, like
/// the reference loops), saves it if asked, and predicts the test rows: the training
/// seconds and the probabilities.
fn fit<N: Model, O: Optimizer>(
    fresh: impl FnOnce() -> N,
    args: &Args,
    opt: O,
    train: &[SparseRow<'_>],
    test: &[SparseRow<'_>],
) -> Result<(f64, Vec<f32>), Fail> {
    let mut net = start(fresh, args)?;
    let began = Instant::now();
    if args.passes > 0 {
        let report = net
            .fit(&trainer(args, opt), train)
            .map_err(|e| Fail::Other(e.to_string()))?;
        print_passes(&report, |_| "memory");
    }
    let secs = began.elapsed().as_secs_f64();
    if let Some(path) = &args.save {
        net.save(path).map_err(|e| Fail::Other(e.to_string()))?;
    }
    let p = net
        .probabilities(test)
        .map_err(|e| Fail::Other(format!("test {e}")))?;
    Ok((secs, p))
}

/// Prints each pass's time and rows/s to stderr, with where its rows came from
/// (`source(pass)`): in-memory and cached passes compare pass by pass.
fn print_passes(report: &TrainReport, source: impl Fn(usize) -> &'static str) {
    for p in &report.passes {
        eprintln!(
            "pass {}: {:.3} s, {:.0} rows/s ({})",
            p.pass,
            p.seconds,
            p.rows_per_s,
            source(p.pass)
        );
    }
}

/// Prints the `RESULT` line; `wall` started before reading any data. A test file without
/// rows is an error: it has no figures to print.
fn finish(args: &Args, run: Run, wall: Instant) -> ExitCode {
    if run.y.is_empty() {
        eprintln!("bench: {}: no rows to evaluate on", args.test.display());
        return ExitCode::FAILURE;
    }
    let m = metrics::binary(&run.p, &run.y);
    let secs = run.secs;
    // Evaluation only (`--passes 0`) trains nothing.
    let per_s = |n: u64| if n > 0 { n as f64 / secs } else { 0.0 };
    println!(
        "RESULT model={} threads={} passes={} train_s={:.3} rows_per_s={:.0} nnz_per_s={:.0} test_logloss={:.4} test_acc={:.4} test_auc={:.4} max_rss_mb={:.0} wall_s={:.3}",
        args.model,
        args.threads,
        args.passes,
        secs,
        per_s(run.rows),
        per_s(run.nnz),
        m.logloss,
        m.accuracy,
        m.auc,
        max_rss_mb(),
        wall.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
