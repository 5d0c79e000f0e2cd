//! LIBSVM parsing speed: the library's reader (one thread and all threads) beside a plain
//! `BufRead::lines` + `str::parse` loop, in MB/s, medians of several runs.
//!
//! ```text
//! cargo run --release --example parse_speed -- [--file F] [--mb N] [--runs R] [--vw F]
//! ```
//!
//! "whole file" collects every row in memory, as the plain loop does (fresh memory has
//! to be paged in): `LibSvm::new().open(path)?.read_all()` with all threads, one stream with one thread.
//! "streaming" reuses one chunk of rows (`read_into`), as a training source would.
//! `--vw F` also times the Vowpal Wabbit reader on F. The last two lines are the binary
//! cache: a 2-pass fit of a 16-weight logistic regression, its first pass over the text
//! (parsing and writing the cache) and its second from the cache, in MB/s of the text.
//!
//! Without `--file` it writes a synthetic file of about N MB (default 200) to the temp
//! directory: binary labels, 40 features a row with ids below 2^20, values like `0.4521`.
//! The file is read once before timing, so every run reads from the page cache.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use vectorflow::io::{Labels, LibSvm, SparseFormat, SparseRows, Vw};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (mut file, mut mb, mut runs, mut vw) = (None, 200usize, 5usize, None);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--file" => file = Some(PathBuf::from(value)),
            "--mb" => mb = value.parse()?,
            "--runs" => runs = value.parse::<usize>()?.max(1),
            "--vw" => vw = Some(PathBuf::from(value)),
            other => {
                return Err(
                    format!("unknown flag {other}; expected --file, --mb, --runs or --vw").into(),
                )
            }
        }
    }
    let path = match file {
        Some(p) => p,
        None => {
            let p = std::env::temp_dir().join(format!("parse_speed_{mb}mb.svm"));
            if std::fs::metadata(&p).map_or(true, |m| m.len() < (mb as u64) << 20) {
                write_synthetic(&p, mb << 20)?;
            }
            p
        }
    };
    let bytes = std::fs::read(&path)?.len() as f64;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{}: {:.0} MB, median of {runs} runs",
        path.display(),
        bytes / 1e6
    );

    let speed = |secs: f64| bytes / 1e6 / secs;
    println!("{:<52} {:>8}", "reader", "MB/s");
    let plain = median(runs, || plain_loop(&path).map(|n| n as u64))?;
    println!(
        "{:<52} {:>8.0}",
        "BufRead::lines + str::parse, whole file (1 thread)",
        speed(plain)
    );
    for t in [1, threads] {
        // All threads: `read_all` of a file, one range per thread; one thread: one stream.
        let whole = match t {
            1 => median(runs, || library(&LibSvm::new(), &path, 1))?,
            _ => median(runs, || {
                Ok(LibSvm::new().open(&path)?.read_all()?.nnz() as u64)
            })?,
        };
        let label = format!("vectorflow::io::LibSvm, whole file ({t} threads)");
        println!("{label:<52} {:>8.0}", speed(whole));
        let stream = median(runs, || streaming(&LibSvm::new(), &path, t))?;
        let label = format!("vectorflow::io::LibSvm, streaming ({t} threads)");
        println!("{label:<52} {:>8.0}", speed(stream));
    }
    let (text, cache) = cache_passes(&path, runs)?;
    println!(
        "{:<52} {:>8.0}",
        "training pass over the text, writing the cache",
        speed(text)
    );
    println!(
        "{:<52} {:>8.0}",
        "training pass from the cache (MB/s of the text)",
        speed(cache)
    );
    if let Some(vw) = vw {
        let bytes = std::fs::read(&vw)?.len() as f64;
        println!("{}: {:.0} MB", vw.display(), bytes / 1e6);
        for t in [1, threads] {
            let stream = median(runs, || streaming(&Vw::new(), &vw, t))?;
            let label = format!("vectorflow::io::Vw, streaming ({t} threads)");
            println!("{label:<52} {:>8.0}", bytes / 1e6 / stream);
        }
    }
    Ok(())
}

/// The median seconds of `runs` calls of `f`, which returns a checksum (printed once so
/// the work cannot be optimised away, and compared so all readers agree).
fn median(
    runs: usize,
    mut f: impl FnMut() -> Result<u64, Box<dyn std::error::Error>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let nnz = f()?;
        times.push(start.elapsed().as_secs_f64());
        std::hint::black_box(nnz);
    }
    Ok(middle(times))
}

/// The median of `v`.
fn middle(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn library(
    format: &impl SparseFormat,
    path: &Path,
    threads: usize,
) -> Result<u64, Box<dyn std::error::Error>> {
    let rows = format.open(path)?.threads(threads).read_all()?;
    Ok(rows.nnz() as u64)
}

fn streaming(
    format: &impl SparseFormat,
    path: &Path,
    threads: usize,
) -> Result<u64, Box<dyn std::error::Error>> {
    let mut reader = format.open(path)?.threads(threads);
    let mut rows = SparseRows::new();
    let mut nnz = 0;
    while reader.read_into(&mut rows)? {
        nnz += rows.nnz() as u64;
    }
    Ok(nnz)
}

/// What one writes without a library: lines, split on whitespace, `str::parse`.
fn plain_loop(path: &Path) -> Result<usize, Box<dyn std::error::Error>> {
    let (mut labels, mut ends, mut ids, mut vals) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for line in BufReader::new(std::fs::File::open(path)?).lines() {
        let line = line?;
        let mut tokens = line.split_ascii_whitespace();
        let Some(label) = tokens.next() else { continue };
        labels.push(label.parse::<f32>()?);
        for t in tokens {
            let (id, v) = t.split_once(':').ok_or("expected id:value")?;
            ids.push(id.parse::<u32>()? - 1);
            vals.push(v.parse::<f32>()?);
        }
        ends.push(ids.len());
    }
    std::hint::black_box((&labels, &ends, &vals));
    Ok(ids.len())
}

fn write_synthetic(path: &Path, bytes: usize) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut rng = Rng::new(7);
    let mut written = 0;
    let mut line = String::new();
    while written < bytes {
        line.clear();
        line.push_str(if rng.below(2) == 1 { "1" } else { "-1" });
        for _ in 0..40 {
            let id = rng.below(1 << 20) + 1;
            let v = rng.uniform();
            line.push_str(&format!(" {id}:{v:.4}"));
        }
        line.push('\n');
        out.write_all(line.as_bytes())?;
        written += line.len();
    }
    out.flush()
}

/// The binary cache: median seconds of the first pass of a 2-pass fit (parsing the text
/// and writing the cache) and of the second (reading the cache), over `runs` fits. The
/// net is a logistic regression over 16 weights, which trains several million rows a
/// second, so the figures are the reading's (a lower bound: training is in them).
fn cache_passes(path: &Path, runs: usize) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    type Tiny = network![Sparse<16> => Linear<1>];
    let cache = std::env::temp_dir().join(format!("parse_speed_{}.vfcache", std::process::id()));
    let (mut text, mut read) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let _ = std::fs::remove_file(&cache);
        let mut net = Tiny::new(Init::zeros());
        let mut rows = LibSvm::new().labels(Labels::Binary).stream(path)?;
        let report = Trainer::new(AdaGrad::new(0.1))
            .passes(2)
            .progress(Progress::Silent)
            .cache(&cache)
            .fit_stream(&mut net, &mut rows, Logistic)?;
        text.push(report.passes[0].seconds);
        read.push(report.passes[1].seconds);
    }
    let _ = std::fs::remove_file(&cache);
    Ok((middle(text), middle(read)))
}
