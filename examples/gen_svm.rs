//! Writes the synthetic sparse benchmark data (see `examples/common/synth.rs`).
//!
//! ```text
//! cargo run --release --example gen_svm -- --rows N --seed S --out FILE \
//!     [--dim D] [--nnz K] [--model-seed M] [--format svm|vw] [--threads T]
//! ```
//!
//! Train and test files share the hidden model (`--model-seed`, default 12345) and differ
//! by `--seed`, e.g. `--rows 1000000 --seed 1` and `--rows 200000 --seed 2`. The file is
//! written to `FILE.partial` and renamed when complete, so a reader never sees half a
//! file. The totals go to stderr, like `gen_svm.py`'s.

#[allow(dead_code)]
#[path = "common/synth.rs"]
mod synth;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use synth::{Format, Generator, Spec};

struct Args {
    rows: u64,
    seed: u64,
    out: PathBuf,
    dim: u32,
    nnz: Option<f64>,
    model_seed: u64,
    format: Format,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rows: 0,
        seed: 1,
        out: PathBuf::new(),
        dim: 1 << 20,
        nnz: None,
        model_seed: Spec::default().model_seed,
        format: Format::Svm,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut rows = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |what: &str| format!("{flag} {value}: expected {what}");
        match flag.as_str() {
            "--rows" => rows = Some(value.parse().map_err(|_| num("a row count"))?),
            "--seed" => a.seed = value.parse().map_err(|_| num("an integer seed"))?,
            "--out" => a.out = value.into(),
            "--dim" => {
                a.dim = value
                    .parse()
                    .ok()
                    .filter(|&d| d > 0)
                    .ok_or_else(|| num("a feature count in 1..2^32"))?
            }
            "--nnz" => a.nnz = Some(value.parse().map_err(|_| num("a number"))?),
            "--model-seed" => a.model_seed = value.parse().map_err(|_| num("an integer seed"))?,
            "--format" => {
                a.format = match value.as_str() {
                    "svm" => Format::Svm,
                    "vw" => Format::Vw,
                    _ => return Err(num("svm or vw")),
                }
            }
            "--threads" => {
                a.threads = value
                    .parse()
                    .ok()
                    .filter(|&t| t > 0)
                    .ok_or_else(|| num("a positive thread count"))?
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    a.rows = rows.ok_or("--rows is required")?;
    if a.out.as_os_str().is_empty() {
        return Err("--out is required".into());
    }
    Ok(a)
}

fn run(a: &Args) -> Result<(), String> {
    let mut spec = Spec {
        dim: a.dim,
        model_seed: a.model_seed,
        ..Spec::default()
    };
    if let Some(k) = a.nnz {
        spec = spec.with_mean_nnz(k)?;
    }
    let t0 = Instant::now();
    let generator = Generator::new(spec)?;
    let setup = t0.elapsed().as_secs_f64();
    let mut partial = a.out.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let io_err = |p: &PathBuf, e: std::io::Error| format!("{}: {e}", p.display());
    let file = File::create(&partial).map_err(|e| io_err(&partial, e))?;
    let mut out = BufWriter::with_capacity(1 << 22, file);
    let t1 = Instant::now();
    let stats = generator
        .write(a.seed, a.rows, a.format, a.threads, &mut out)
        .and_then(|s| out.flush().map(|()| s))
        .map_err(|e| io_err(&partial, e))?;
    drop(out);
    std::fs::rename(&partial, &a.out).map_err(|e| io_err(&a.out, e))?;
    let secs = t1.elapsed().as_secs_f64();
    let bytes = std::fs::metadata(&a.out)
        .map_err(|e| io_err(&a.out, e))?
        .len();
    eprintln!(
        "{}: {} dim={} tokens={:?} bias={:.4}",
        a.out.display(),
        stats.summary(),
        a.dim,
        generator.spec().tokens,
        generator.bias()
    );
    eprintln!(
        "setup {setup:.2} s; wrote {:.1} MB in {secs:.2} s on {} threads: {:.2}M rows/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        a.threads,
        a.rows as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "gen_svm: {e}\nusage: gen_svm --rows N --seed S --out FILE [--dim D] [--nnz K] \
                 [--model-seed M] [--format svm|vw] [--threads T]"
            );
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_svm: {e}");
            ExitCode::FAILURE
        }
    }
}
