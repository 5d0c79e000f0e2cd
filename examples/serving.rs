//! Model files and prediction speed: save and load a ~100 MB model, the files of a net
//! trained on two rows (sparse tables, with and without optimizer state), and
//! `predict_batch` against a `predict` loop, side by side (medians of 5 runs).
//!
//! ```text
//! cargo run --release --example serving [-- --dir D]
//! ```

use std::path::PathBuf;
use std::time::Instant;
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

/// 2^20 rows of 24 weights: 100.7 MB of parameters.
type Wide = network![Sparse<{ 1 << 20 }> => Linear<24> => ReLU => Linear<1>];

#[derive(Features)]
struct Row {
    #[sparse]
    ids: Vec<(u32, f32)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut dir = std::env::temp_dir();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dir" => dir = PathBuf::from(args.next().ok_or("--dir needs a value")?),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    let path = dir.join(format!("serving-{}.vf", std::process::id()));
    let net = Wide::new(Init::uniform(0.05).seed(1));
    let mb = (4 * Wide::PARAMS) as f64 / 1e6;

    // Weights of unknown initialisation are stored dense, as a table trained on most
    // of its rows would be.
    let dense = Wide::from_params(net.params().to_vec()).ok_or("params")?;
    let save = time(5, || dense.save(&path).unwrap());
    let load = time(5, || drop(Wide::load_weights(&path).unwrap()));
    println!(
        "model of {mb:.1} MB: save {:.3} s ({:.0} MB/s), load {:.3} s ({:.0} MB/s)",
        save,
        mb / save,
        load,
        mb / load
    );
    std::fs::remove_file(&path)?;
    sparse_files(&path)?;

    let mut rng = Rng::new(2);
    let rows: Vec<Row> = (0..200_000)
        .map(|_| Row {
            ids: (0..40).map(|_| (rng.below(1 << 20) as u32, 1.0)).collect(),
        })
        .collect();
    let per_row = time(5, || {
        let s: f32 = rows.iter().map(|r| net.predict(r).unwrap()[0]).sum();
        std::hint::black_box(s);
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut line = format!("predict loop: {:.0} rows/s", rows.len() as f64 / per_row);
    for t in [1, threads] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build()?;
        let batch = time(5, || {
            let out = pool.install(|| net.predict_batch(&rows).unwrap());
            std::hint::black_box(out);
        });
        line += &format!(
            "; predict_batch on {t} thread(s): {:.0} rows/s ({:.2}x)",
            rows.len() as f64 / batch,
            per_row / batch
        );
    }
    println!("{line}");
    Ok(())
}

/// The file sizes of a 2^20 × 16 net after a fit on two rows with row-wise AdaGrad: its
/// dense size, then `save` and `save_for_predict`, which store the table as its changed
/// rows.
fn sparse_files(path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    type Mlp16 = network![Sparse<{ 1 << 20 }> => Linear<16> => ReLU => Linear<1>];
    #[derive(Features)]
    struct Labelled {
        #[label]
        y: bool,
        #[hash]
        site: &'static str,
        #[hash]
        app: &'static str,
    }
    let rows = [
        Labelled {
            y: true,
            site: "a.com",
            app: "x",
        },
        Labelled {
            y: false,
            site: "b.com",
            app: "y",
        },
    ];
    let mut net = Mlp16::new(Init::default());
    Trainer::new(RowAdaGrad::new(0.05))
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut net, &rows, Logistic)?;
    let planes = net.train_state().map_or(0, |s| s.plane_count());
    let dense = 4 * Mlp16::PARAMS * (1 + planes);
    net.save(path)?;
    let full = std::fs::metadata(path)?.len();
    let resumed = Mlp16::load(path)?;
    assert_eq!(resumed.params(), net.params());
    net.save_for_predict(path)?;
    let weights = std::fs::metadata(path)?.len();
    let load = time(5, || drop(Mlp16::load_weights(path).unwrap()));
    println!(
        "2^20 x 16 net fit on 2 rows: dense {dense} bytes, save {full} bytes, \
         save_for_predict {weights} bytes (load_weights {load:.3} s)"
    );
    std::fs::remove_file(path)?;
    Ok(())
}
