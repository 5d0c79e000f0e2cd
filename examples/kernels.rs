//! Kernel throughput at every CPU level this machine supports.
//!
//! ```text
//! cargo run --release --example kernels
//! ```
//!
//! - Dense mat-vec `y += W x` (`kernels::matvec_at::<IN, OUT>`), in GFLOP/s
//!   (2 · IN · OUT flops per call).
//! - Sparse gather-accumulate (`kernels::gather_at::<OUT>`) of ~56 random rows per call
//!   from a 2^20-row table, in millions of non-zeros per second, next to a plain loop
//!   written here, so the kernel's own cost is visible.
//!
//! Each figure is the median of 5 timed batches of about 60 ms.

use std::hint::black_box;
use std::time::{Duration, Instant};
use vectorflow::kernels::{self, Level};
use vectorflow::rng::Rng;

const BATCHES: usize = 5;
const BATCH_TIME: Duration = Duration::from_millis(60);

/// Calls per second of `f`: the median of [`BATCHES`] batches, each sized to take about
/// [`BATCH_TIME`].
fn rate(mut f: impl FnMut()) -> f64 {
    // Calibrate (and warm up): double the batch until it takes a measurable time.
    let mut calls = 1usize;
    let per_call = loop {
        let t = Instant::now();
        for _ in 0..calls {
            f();
        }
        let e = t.elapsed();
        if e >= Duration::from_millis(10) {
            break e.as_secs_f64() / calls as f64;
        }
        calls *= 2;
    };
    let calls = ((BATCH_TIME.as_secs_f64() / per_call) as usize).max(1);
    let mut rates: Vec<f64> = (0..BATCHES)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..calls {
                f();
            }
            calls as f64 / t.elapsed().as_secs_f64()
        })
        .collect();
    rates.sort_by(f64::total_cmp);
    rates[BATCHES / 2]
}

/// GFLOP/s of `y += W x` for an `OUT × IN` matrix at each level.
fn dense<const IN: usize, const OUT: usize>(levels: &[Level]) -> Vec<f64> {
    let mut rng = Rng::new(1);
    let w: Vec<f32> = (0..IN * OUT).map(|_| rng.uniform() - 0.5).collect();
    let x: [f32; IN] = std::array::from_fn(|_| rng.uniform() - 0.5);
    let flops = 2.0 * (IN * OUT) as f64;
    levels
        .iter()
        .map(|&l| {
            let calls = rate(|| {
                let mut y = [0.0f32; OUT];
                kernels::matvec_at::<IN, OUT>(black_box(l), black_box(&w), black_box(&x), &mut y);
                black_box(&y);
            });
            calls * flops / 1e9
        })
        .collect()
}

/// `y += Σ v · w[i·OUT ..][..OUT]`: the gather as anyone would write it.
#[inline(never)]
fn hand_loop<const OUT: usize>(w: &[f32], pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
    for &(i, v) in pairs {
        let row = &w[i as usize * OUT..][..OUT];
        for k in 0..OUT {
            y[k] += v * row[k];
        }
    }
}

const TABLE_ROWS: usize = 1 << 20;
const NNZ: usize = 56;
/// Distinct pair lists cycled through, so rows come from all over the table.
const LISTS: usize = 4096;

/// A gather over the table: `y += Σ v · row(i)` over the pairs.
type Gather<'a, const OUT: usize> = dyn Fn(&[(u32, f32)], &mut [f32; OUT]) + 'a;

/// Millions of non-zeros per second of the gather: the hand-written loop, then each level.
fn sparse<const OUT: usize>(levels: &[Level]) -> Vec<f64> {
    let mut rng = Rng::new(2);
    let w: Vec<f32> = (0..TABLE_ROWS * OUT).map(|_| rng.uniform() - 0.5).collect();
    let lists: Vec<Vec<(u32, f32)>> = (0..LISTS)
        .map(|_| {
            (0..NNZ)
                .map(|_| (rng.below(TABLE_ROWS) as u32, rng.uniform()))
                .collect()
        })
        .collect();
    let run = |f: &Gather<OUT>| {
        let mut next = 0;
        rate(|| {
            let mut y = [0.0f32; OUT];
            f(black_box(&lists[next]), &mut y);
            black_box(&y);
            next = (next + 1) % LISTS;
        }) * NNZ as f64
            / 1e6
    };
    let mut out = vec![run(&|p, y| hand_loop::<OUT>(black_box(&w), p, y))];
    for &l in levels {
        out.push(run(&|p, y| {
            kernels::gather_at::<OUT>(black_box(l), black_box(&w), p, y)
        }));
    }
    out
}

fn main() {
    let levels = Level::available();
    let names: Vec<&str> = levels.iter().map(|l| l.name()).collect();
    let header = |first: &str, cols: &[&str]| {
        let mut s = format!("{first:<12}");
        for c in cols {
            s.push_str(&format!(" {c:>10}"));
        }
        println!("{s}");
        println!("{}", "-".repeat(s.len()));
    };
    let row = |first: &str, vals: &[f64]| {
        let mut s = format!("{first:<12}");
        for v in vals {
            s.push_str(&format!(" {v:>10.2}"));
        }
        println!("{s}");
    };

    println!("dense mat-vec y += W x, GFLOP/s (median of {BATCHES} batches)");
    header("IN x OUT", &names);
    row("16 x 1", &dense::<16, 1>(&levels));
    row("64 x 64", &dense::<64, 64>(&levels));
    row("256 x 256", &dense::<256, 256>(&levels));
    row("1024 x 256", &dense::<1024, 256>(&levels));

    println!();
    println!("sparse gather, {NNZ} random rows of a 2^20-row table per call, M non-zeros/s");
    let mut cols = vec!["hand loop"];
    cols.extend(&names);
    header("OUT", &cols);
    row("1", &sparse::<1>(&levels));
    row("16", &sparse::<16>(&levels));
    row("64", &sparse::<64>(&levels));
}
