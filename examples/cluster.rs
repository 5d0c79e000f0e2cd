//! Training one model across ranks, each rank on its own shard of a LIBSVM file: under
//! MPI (built with `--features mpi`, one rank per process) or as in-process ranks
//! (`--local-ranks N`, threads of this process: no MPI needed).
//!
//! ```text
//! cargo build --release --features mpi --example cluster
//! mpirun -np N target/release/examples/cluster -- --train F --test F --model lr|mlp16 \
//!     --passes P [--threads T] [--lr X] [--sync-rows K] [--checkpoint DIR] [--stream]
//! cargo run --release --example cluster -- --local-ranks N --train F --test F ...
//! ```
//!
//! Rank `r` of `N` reads the lines of `--train` that start in its 1/N of the file's bytes
//! (`vectorflow::io::Shard`), into memory or, with `--stream`, chunk by chunk (the later
//! passes from a binary cache of its shard in the temporary directory). The ranks train
//! with AdaGrad (at `--lr`, by default the bench's rates: 0.5 for `lr`, 0.02 for
//! `mlp16`), rows in file order, `--threads` threads each, exchanging their changes every
//! `--sync-rows` rows (`Trainer::ranks`), and end with the same weights. With
//! `--checkpoint DIR`, rank 0 saves the model with its training state to `DIR/model.vf`
//! after every pass, and the same command run again resumes from it.
//!
//! Rank 0 then scores the whole `--test` file and prints two lines:
//! `WEIGHTS fnv1a=...`, a checksum of the trained model file (weights and training state),
//! equal for the same data and settings whether the ranks are processes or threads; and
//! `RESULT ranks= rows_per_s= sync_s= bytes_synced= test_logloss= test_auc= max_rss_mb=`:
//! the job's training rows (every rank's, all passes) per second of rank 0's fit, the
//! seconds and bytes rank 0 spent in exchanges (`TrainReport::sync_seconds`,
//! `sync_bytes`), and rank 0's peak memory (the whole job's with `--local-ranks`).
//!
//! Without `--features mpi` and without `--local-ranks`, the job is one in-process rank.
//! An error on any rank stops every rank with a non-zero exit (under MPI, `MPI_Abort`).

#[path = "common/models.rs"]
mod models;
#[path = "common/rss.rs"]
mod rss;

use models::DIM;
use rss::max_rss_mb;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use vectorflow::cluster::{local, Collective};
use vectorflow::io::{Labels, LibSvm, Shard, SparseFormat, SparseRow, SparseStream};
use vectorflow::layers::{InputFeed, InputLayer};
use vectorflow::metrics;
use vectorflow::network::Stack;
use vectorflow::predict::probability;
use vectorflow::prelude::*;
use vectorflow::train::{Stream, DEFAULT_SYNC_ROWS};

const USAGE: &str = "usage: cluster --train F --test F --model lr|mlp16 --passes P \
     [--threads T] [--lr X] [--sync-rows K] [--checkpoint DIR] [--stream] [--local-ranks N]";

struct Args {
    train: PathBuf,
    test: PathBuf,
    model: String,
    passes: usize,
    threads: usize,
    lr: Option<f32>,
    sync_rows: usize,
    checkpoint: Option<PathBuf>,
    stream: bool,
    local_ranks: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        train: PathBuf::new(),
        test: PathBuf::new(),
        model: String::new(),
        passes: 3,
        threads: 1,
        lr: None,
        sync_rows: DEFAULT_SYNC_ROWS,
        checkpoint: None,
        stream: false,
        local_ranks: None,
    };
    // `mpirun -np N cluster -- --train F ...` passes the `--` on.
    let mut it = std::env::args().skip(1).skip_while(|a| a == "--");
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--train" => a.train = value()?.into(),
            "--test" => a.test = value()?.into(),
            "--model" => a.model = value()?,
            "--passes" => a.passes = value()?.parse().map_err(|e| format!("--passes: {e}"))?,
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--lr" => a.lr = Some(value()?.parse().map_err(|e| format!("--lr: {e}"))?),
            "--sync-rows" => {
                a.sync_rows = value()?.parse().map_err(|e| format!("--sync-rows: {e}"))?
            }
            "--checkpoint" => a.checkpoint = Some(value()?.into()),
            "--stream" => a.stream = true,
            "--local-ranks" => {
                let n = value()?
                    .parse()
                    .map_err(|e| format!("--local-ranks: {e}"))?;
                if n == 0 {
                    return Err("--local-ranks: a job needs at least 1 rank".into());
                }
                a.local_ranks = Some(n);
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.train.as_os_str().is_empty() || a.test.as_os_str().is_empty() {
        return Err("--train and --test are required".into());
    }
    if a.model != "lr" && a.model != "mlp16" {
        return Err(format!("--model: `{}`: expected lr or mlp16", a.model));
    }
    if a.passes == 0 {
        return Err("--passes: train at least 1 pass".into());
    }
    Ok(a)
}

/// What rank 0 prints.
struct Summary {
    ranks: usize,
    rows_per_s: f64,
    sync_s: f64,
    bytes_synced: u64,
    test_logloss: f64,
    test_auc: f64,
    weights: u64,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("cluster: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    #[cfg(feature = "mpi")]
    if args.local_ranks.is_none() {
        return under_mpi(&args);
    }
    in_process(args.local_ranks.unwrap_or(1), &args)
}

/// One rank per process of the MPI world.
#[cfg(feature = "mpi")]
fn under_mpi(args: &Args) -> ExitCode {
    let comm = match vectorflow::cluster::Mpi::init() {
        Ok(comm) => comm,
        Err(e) => {
            eprintln!("cluster: {e}");
            return ExitCode::FAILURE;
        }
    };
    match job(&comm, args) {
        Ok(summary) => {
            if let Some(s) = summary {
                print(&s);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            // A rank may fail before the trainer's first exchange (its shard cannot be
            // opened): aborting ends the ranks waiting for it.
            eprintln!("cluster: rank {} of {}: {e}", comm.rank(), comm.size());
            comm.abort(1)
        }
    }
}

/// `ranks` ranks as threads of this process.
fn in_process(ranks: usize, args: &Args) -> ExitCode {
    let outcomes = local::run(ranks, |comm| job(comm, args));
    let mut failed = false;
    for (rank, outcome) in outcomes.into_iter().enumerate() {
        match outcome {
            Ok(Some(s)) => print(&s),
            Ok(None) => {}
            Err(e) => {
                eprintln!("cluster: rank {rank} of {ranks}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print(s: &Summary) {
    println!("WEIGHTS fnv1a={:016x}", s.weights);
    println!(
        "RESULT ranks={} rows_per_s={:.0} sync_s={:.3} bytes_synced={} test_logloss={:.4} test_auc={:.4} max_rss_mb={:.0}",
        s.ranks,
        s.rows_per_s,
        s.sync_s,
        s.bytes_synced,
        s.test_logloss,
        s.test_auc,
        max_rss_mb()
    );
}

/// One rank's part of the job: train on its shard; rank 0 also scores the test file.
fn job(comm: &dyn Collective, args: &Args) -> Result<Option<Summary>, String> {
    let shard = Shard::new(comm.rank(), comm.size()).map_err(|e| e.to_string())?;
    match args.model.as_str() {
        "lr" => train(models::lr, comm, shard, args),
        _ => train(models::mlp16, comm, shard, args),
    }
}

fn train<I, S>(
    fresh: fn() -> Net<I, S>,
    comm: &dyn Collective,
    shard: Shard,
    args: &Args,
) -> Result<Option<Summary>, String>
where
    I: InputLayer + for<'a> InputFeed<SparseRow<'a>>,
    S: Stack<In = I::Out, Out = [f32; 1]>,
{
    let text = |e: &dyn std::fmt::Display| e.to_string();
    let format = LibSvm::new().labels(Labels::Binary).dim(DIM as u32);
    let lr = args
        .lr
        .unwrap_or(if args.model == "lr" { 0.5 } else { 0.02 });
    let mut trainer = Trainer::new(AdaGrad::new(lr))
        .passes(args.passes)
        .threads(args.threads)
        .shuffle(false);
    // Each rank's cache is this path with its rank appended (`Ranked::fit_stream`).
    let cache = std::env::temp_dir().join(format!("cluster-{}.vfcache", std::process::id()));
    if args.stream && args.passes > 1 {
        trainer = trainer.cache(&cache);
    }
    let mut ranked = trainer.ranks(comm).sync_rows(args.sync_rows);
    if let Some(dir) = &args.checkpoint {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        ranked = ranked.checkpoint(dir.join("model.vf"));
    }
    let mut net = fresh();
    let began = Instant::now();
    let report = if args.stream {
        let mut rows = format
            .stream_shard(&args.train, shard)
            .map_err(|e| text(&e))?;
        let plan = rows.shard().map(|p| format!("{:016x}", p.fingerprint()));
        let ranked = ranked.plan(plan.unwrap_or_default());
        // Named: the stream type is not inferred under the generic net's bound.
        let report =
            ranked.fit_stream::<I, S, SparseStream<LibSvm>, _, _>(&mut net, &mut rows, Logistic);
        for path in [
            cache.clone(),
            PathBuf::from(format!(
                "{}.rank{}-of-{}",
                cache.display(),
                shard.rank(),
                shard.size()
            )),
        ] {
            let _ = std::fs::remove_file(path);
        }
        report
    } else {
        let reader = format
            .open_shard(&args.train, shard)
            .map_err(|e| text(&e))?;
        let plan = reader.shard().map(|p| format!("{:016x}", p.fingerprint()));
        let data = reader.read_all().map_err(|e| text(&e))?;
        ranked
            .plan(plan.unwrap_or_default())
            .fit(&mut net, &data.to_rows(), Logistic)
    }
    .map_err(|e| text(&e))?;
    let secs = began.elapsed().as_secs_f64();
    if comm.rank() != 0 {
        return Ok(None);
    }

    let test = format
        .open(&args.test)
        .and_then(|r| r.read_all())
        .map_err(|e| text(&e))?;
    if test.is_empty() {
        return Err(format!("{}: no rows to evaluate on", args.test.display()));
    }
    let p: Vec<f32> = net
        .predict_batch(&test.to_rows())
        .map_err(|e| format!("test {e}"))?
        .into_iter()
        .map(probability)
        .collect();
    let m = metrics::binary(&p, test.labels());
    let mut file = Vec::new();
    net.to_writer(&mut file).map_err(|e| text(&e))?;
    Ok(Some(Summary {
        ranks: comm.size(),
        rows_per_s: report.rows() as f64 / secs,
        sync_s: report.sync_seconds,
        bytes_synced: report.sync_bytes,
        test_logloss: m.logloss,
        test_auc: m.auc,
        weights: fnv1a(&file),
    }))
}

/// FNV-1a, 64 bits: a checksum to compare two runs' model files by one line.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
