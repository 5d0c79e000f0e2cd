//! Does `Init::default()` train a sparse MLP as well as a hand-picked `uniform(0.1)`?
//!
//! ```text
//! cargo run --release --example init_sparse -- --train train.svm --test test.svm \
//!     [--passes 2] [--seeds 3] [--lr 0.02] [--sparse-scale S,S,...] [--uniform S,S,...]
//! ```
//!
//! `--sparse-scale` adds `Init::default().sparse_scale(S)` for each S to the
//! comparison, and `--uniform` adds `Init::uniform(S)` for each S.
//!
//! Trains `Sparse<2^20> => Linear<16> => ReLU => Linear<1>` with per-row AdaGrad (rows in
//! file order, one thread, as `examples/bench --model mlp16`) from each initialisation
//! and each seed, and prints every run's test log loss and the medians.

use std::path::PathBuf;
use std::process::ExitCode;
use vectorflow::io::{Labels, LibSvm, SparseFormat};
use vectorflow::metrics;
use vectorflow::predict::probability;
use vectorflow::prelude::*;

const DIM: usize = 1 << 20;
type Mlp = network![Sparse<DIM> => Linear<16> => ReLU => Linear<1>];

fn main() -> ExitCode {
    let (mut train, mut test) = (PathBuf::new(), PathBuf::new());
    let (mut passes, mut seeds, mut lr) = (2usize, 3u64, 0.02f32);
    let mut sparse: Vec<f32> = Vec::new();
    let mut uniform: Vec<f32> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        let ok = match flag.as_str() {
            "--train" => {
                train = PathBuf::from(&value);
                true
            }
            "--test" => {
                test = PathBuf::from(&value);
                true
            }
            "--passes" => value.parse().map(|v| passes = v).is_ok(),
            "--seeds" => value.parse().map(|v| seeds = v).is_ok(),
            "--lr" => value.parse().map(|v| lr = v).is_ok(),
            "--sparse-scale" => value
                .split(',')
                .map(|k| k.parse().map(|k| sparse.push(k)))
                .all(|r| r.is_ok()),
            "--uniform" => value
                .split(',')
                .map(|k| k.parse().map(|k| uniform.push(k)))
                .all(|r| r.is_ok()),
            _ => false,
        };
        if !ok || seeds == 0 {
            eprintln!("init_sparse: bad flag {flag} {value}\nusage: init_sparse --train F --test F [--passes N] [--seeds N>0] [--lr X] [--sparse-scale S,S,...] [--uniform S,S,...]");
            return ExitCode::from(2);
        }
    }
    let read = |p: &PathBuf| {
        LibSvm::new()
            .labels(Labels::Binary)
            .open(p)
            .and_then(|r| r.read_all())
    };
    let (train, test) = match (read(&train), read(&test)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("init_sparse: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (rows, test_rows) = (train.to_rows(), test.to_rows());
    let mut inits = vec![
        ("default".to_string(), Init::default()),
        ("uniform(0.1)".to_string(), Init::uniform(0.1)),
    ];
    for s in uniform {
        inits.push((format!("uniform({s})"), Init::uniform(s)));
    }
    for s in sparse {
        inits.push((
            format!("default.sparse_scale({s})"),
            Init::default().sparse_scale(s),
        ));
    }
    let mut losses = vec![Vec::new(); inits.len()];
    // Interleaved, so that a noisy neighbour slows both alike.
    for seed in 1..=seeds {
        for (i, (name, init)) in inits.iter().enumerate() {
            let mut net = Mlp::new(init.seed(seed));
            let fitted = Trainer::new(AdaGrad::new(lr))
                .passes(passes)
                .threads(1)
                .shuffle(false)
                .progress(Progress::Silent)
                .fit(&mut net, &rows, Logistic);
            if let Err(e) = fitted {
                eprintln!("init_sparse: {e}");
                return ExitCode::FAILURE;
            }
            let p: Vec<f32> = match net.predict_batch(&test_rows) {
                Ok(out) => out.into_iter().map(probability).collect(),
                Err(e) => {
                    eprintln!("init_sparse: test {e}");
                    return ExitCode::FAILURE;
                }
            };
            let m = metrics::binary(&p, test.labels());
            println!(
                "init={name} seed={seed} test_logloss={:.4} test_auc={:.4}",
                m.logloss, m.auc
            );
            losses[i].push(m.logloss);
        }
    }
    for ((name, _), l) in inits.iter().zip(&mut losses) {
        l.sort_by(f64::total_cmp);
        println!(
            "MEDIAN init={name} passes={passes} runs={} test_logloss={:.4}",
            l.len(),
            l[l.len() / 2]
        );
    }
    ExitCode::SUCCESS
}
