//! 100M rows on one machine: synthetic sparse rows generated on the fly (a seeded
//! generator with a known hidden model, `examples/common/synth.rs`) are streamed through
//! training into the binary cache in the first pass; later passes read the cache.
//! Memory stays bounded by the chunk size, whatever the number of rows.
//!
//! ```text
//! cargo run --release --example scale -- --rows N --passes P [--model lr|mlp16] \
//!     [--dir D] [--nnz K] [--threads T]
//! ```
//!
//! The last line is `RESULT rows=.. passes=.. wall_s=.. rows_per_s=.. max_rss_mb=..
//! cache_mb=.. test_logloss=..`; `rows_per_s` is per pass, over all passes.

#[path = "common/synth.rs"]
#[allow(dead_code)]
mod synth;

#[path = "common/rss.rs"]
mod rss;

use rss::max_rss_mb;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use synth::{Generator, Row, Spec, SplitMix64};
use vectorflow::features::{group_id, AuxFields, FeatureError, SparseGroup};
use vectorflow::layers::{InputFeed, InputLayer};
use vectorflow::metrics;
use vectorflow::network::Stack;
use vectorflow::predict::probability;
use vectorflow::prelude::*;
use vectorflow::train::{Stream, StreamError};

const DIM: usize = 1 << 20;

/// A generated row as the net reads it.
struct Synthetic<'a>(&'a Row);

impl Features for Synthetic<'_> {}

/// A generated row carries nothing but its label to the loss.
impl AuxFields for Synthetic<'_> {
    type Aux = ();
    fn aux(&self) {}
}

impl Labeled for Synthetic<'_> {
    const LABEL_FIELD: &'static str = "label";
    fn label(&self) -> f32 {
        (self.0.label > 0) as u8 as f32
    }
}

impl SparseGroup<{ group_id("") }> for Synthetic<'_> {
    #[inline]
    fn visit<F: FnMut(u32, f32)>(&self, mut f: F) -> Result<(), FeatureError> {
        for (&id, v) in self.0.ids.iter().zip(self.0.values()) {
            f(id, v as f32);
        }
        Ok(())
    }
}

/// Rows `0..rows` of seed `seed`, generated as they are read.
struct Generated<'g> {
    gen: &'g Generator,
    seed: u64,
    rows: u64,
    at: u64,
    row: Row,
}

impl Stream for Generated<'_> {
    type Row<'a> = Synthetic<'a>;

    fn read<F: FnMut(&Synthetic<'_>)>(
        &mut self,
        max: usize,
        mut f: F,
    ) -> Result<usize, StreamError> {
        let end = (self.at + max as u64).min(self.rows);
        for i in self.at..end {
            self.gen
                .draw(&mut SplitMix64::for_row(self.seed, i), &mut self.row);
            f(&Synthetic(&self.row));
        }
        let n = (end - self.at) as usize;
        self.at = end;
        Ok(n)
    }

    fn rewind(&mut self) -> Result<(), StreamError> {
        self.at = 0;
        Ok(())
    }

    fn source(&self) -> String {
        let s = self.gen.spec();
        format!(
            "synthetic rows={} seed={} dim={} tokens={:?} model_seed={}",
            self.rows, self.seed, s.dim, s.tokens, s.model_seed
        )
    }
}

struct Args {
    rows: u64,
    passes: usize,
    model: String,
    dir: PathBuf,
    nnz: f64,
    threads: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rows: 1_000_000,
        passes: 2,
        model: "lr".into(),
        dir: std::env::temp_dir(),
        nnz: 20.0,
        threads: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--rows" => a.rows = value()?.parse().map_err(|e| format!("--rows: {e}"))?,
            "--passes" => a.passes = value()?.parse().map_err(|e| format!("--passes: {e}"))?,
            "--model" => a.model = value()?,
            "--dir" => a.dir = value()?.into(),
            "--nnz" => a.nnz = value()?.parse().map_err(|e| format!("--nnz: {e}"))?,
            "--threads" => a.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("scale: {e}\nusage: scale --rows N --passes P [--model lr|mlp16] [--dir D] [--nnz K] [--threads T]");
            return ExitCode::from(2);
        }
    };
    let gen = match Spec::default()
        .with_mean_nnz(args.nnz)
        .and_then(Generator::new)
    {
        Ok(g) => g,
        Err(e) => {
            eprintln!("scale: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.model.as_str() {
        "lr" => {
            type Lr = network![Sparse<DIM> => Linear<1>];
            run(Lr::new(Init::zeros()), &args, &gen, 0.5)
        }
        "mlp16" => {
            type Mlp = network![Sparse<DIM> => Linear<16> => ReLU => Linear<1>];
            run(Mlp::new(Init::uniform(0.1).seed(42)), &args, &gen, 0.02)
        }
        other => Err(format!("unknown model {other}; expected lr or mlp16")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scale: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run<'g, I, S>(mut net: Net<I, S>, args: &Args, gen: &'g Generator, lr: f32) -> Result<(), String>
where
    I: InputLayer + for<'a> InputFeed<Synthetic<'a>>,
    S: Stack<In = I::Out, Out = [f32; 1]>,
{
    let cache = args.dir.join(format!(
        "scale-{}-{}.vfcache",
        args.rows,
        std::process::id()
    ));
    let mut train = Generated {
        gen,
        seed: 1,
        rows: args.rows,
        at: 0,
        row: Row::default(),
    };
    let start = Instant::now();
    let report = Trainer::new(AdaGrad::new(lr))
        .passes(args.passes)
        .threads(args.threads)
        .cache(&cache)
        .fit_stream::<I, S, Generated<'g>, _, _>(&mut net, &mut train, Logistic)
        .map_err(|e| e.to_string())?;
    let wall = start.elapsed().as_secs_f64();
    let cache_mb = std::fs::metadata(&cache).map_or(0.0, |m| m.len() as f64 / 1e6);
    for p in &report.passes {
        eprintln!(
            "pass {}: {:.1} s, {:.0} rows/s, train loss {:.4}",
            p.pass, p.seconds, p.rows_per_s, p.train_loss
        );
    }
    let _ = std::fs::remove_file(&cache);

    // 200k test rows of another seed, from the same hidden model.
    let (mut p, mut y) = (Vec::new(), Vec::new());
    let mut row = Row::default();
    for i in 0..200_000u64.min(args.rows) {
        gen.draw(&mut SplitMix64::for_row(2, i), &mut row);
        let r = Synthetic(&row);
        p.push(probability(net.predict(&r).map_err(|e| e.to_string())?));
        y.push(r.label());
    }
    let m = metrics::binary(&p, &y);
    println!(
        "RESULT rows={} passes={} wall_s={:.2} rows_per_s={:.0} max_rss_mb={:.0} cache_mb={:.0} test_logloss={:.4}",
        args.rows,
        report.passes.len(),
        wall,
        (args.rows * report.passes.len() as u64) as f64 / wall,
        max_rss_mb(),
        cache_mb,
        m.logloss
    );
    Ok(())
}
