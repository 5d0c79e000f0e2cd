//! Reads a Parquet file or a Hive-partitioned directory (written by another tool: see
//! `bench/parquet_interop.py`, which writes one with pyarrow) and prints a summary: files,
//! rows, rows per partition, nulls, then trains a logistic regression from the stream.
//!
//! ```text
//! python3 bench/parquet_interop.py /tmp/vf-interop
//! cargo run --release --features parquet --example parquet_read -- /tmp/vf-interop/clicks
//! ```

use std::collections::BTreeMap;
use std::process::ExitCode;
use vectorflow::io::parquet::{ParquetData, ParquetStream};
use vectorflow::prelude::*;

/// A row of the interop dataset; `country` and `day` are partition keys (absent from
/// the single-file copy, hence `Option`).
#[derive(Features, serde::Deserialize)]
struct Click<'a> {
    #[label]
    good: bool,
    #[hash]
    shop: &'a str,
    #[tokens]
    words: &'a str,
    stars: Option<f32>,
    clicks: u32,
    #[hash]
    country: Option<&'a str>,
    day: Option<u8>,
}

type Lr = network![Sparse<{ 1 << 16 }> => Linear<1>];

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: parquet_read PATH (a .parquet file or a partitioned directory)");
        return ExitCode::FAILURE;
    };
    match run(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let start = std::time::Instant::now();
    let data = ParquetData::read_all::<Click>(path)?;
    let rows: Vec<Click> = data.rows()?;
    let read_s = start.elapsed().as_secs_f64();
    println!(
        "{path}: {} files, {} rows, read in {:.3} s",
        data.files().count(),
        rows.len(),
        read_s
    );
    let mut by_part: BTreeMap<(Option<&str>, Option<u8>), usize> = BTreeMap::new();
    for r in &rows {
        *by_part.entry((r.country, r.day)).or_default() += 1;
    }
    for ((country, day), n) in &by_part {
        println!("  country={country:?} day={day:?}: {n} rows");
    }
    let nulls = rows.iter().filter(|r| r.stars.is_none()).count();
    let stars: Vec<f32> = rows.iter().filter_map(|r| r.stars).collect();
    let mean = stars.iter().sum::<f32>() / stars.len().max(1) as f32;
    let clicks: u64 = rows.iter().map(|r| u64::from(r.clicks)).sum();
    let shops: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.shop).collect();
    println!(
        "  stars: {nulls} nulls, mean {mean:.3}; clicks: sum {clicks}; {} shops; first row: {} / {:?}",
        shops.len(),
        rows[0].shop,
        rows[0].words
    );

    let mut net = Lr::new(Init::zeros());
    let mut stream = ParquetStream::<Click<'static>>::open(path)?;
    let report = Trainer::new(AdaGrad::new(0.2))
        .passes(3)
        .progress(Progress::Silent)
        .fit_stream(&mut net, &mut stream, Logistic)?;
    let right = rows
        .iter()
        .filter(|r| (net.predict(*r).map_or(0.0, |p| p[0]) > 0.0) == r.good)
        .count();
    let last = report.passes.last().expect("3 passes");
    println!(
        "  fit_stream, 3 passes: {} rows a pass, train loss {:.4}, training accuracy {:.3}",
        last.rows,
        last.train_loss,
        right as f64 / rows.len() as f64
    );
    Ok(())
}
