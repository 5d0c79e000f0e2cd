//! Writes model files of each layout into a directory, for
//! `bench/model_files_interop.py`, which reads them with Python's `safetensors`.
//!
//! ```text
//! cargo run --example model_files -- DIR
//! ```
//!
//! `lin-sparse.vf`: a linear model over 2^12 features started at zeros and trained with
//! AdaGrad, its table stored as the rows training changed, with its state;
//! `lin-predict.vf`: the same net saved for prediction; `lin-params.f32`: its whole
//! parameter buffer as raw little-endian floats; `mlp-sparse.vf`: a hidden layer of 8
//! under the default initialisation, its table listed against the seeded draws;
//! `mlp-dense.vf`: the same weights with their initialisation unknown, so dense.

use std::path::PathBuf;
use vectorflow::prelude::*;

type Lin = network![Sparse<{ 1 << 12 }> => Linear<4>];
type Mlp = network![Sparse<{ 1 << 12 }> => Linear<8> => ReLU => Linear<4>];

#[derive(Features)]
struct Row {
    #[label]
    y: u32,
    #[hash]
    a: u32,
    #[hash]
    b: u32,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: model_files DIR")?);
    std::fs::create_dir_all(&dir)?;
    let rows: Vec<Row> = (0..200)
        .map(|i| Row {
            y: i % 4,
            a: i % 17,
            b: i % 5,
        })
        .collect();
    let quiet = |t: Trainer<AdaGrad>| t.threads(1).progress(Progress::Silent);
    let mut lin = Lin::new(Init::zeros());
    quiet(Trainer::new(AdaGrad::new(0.1))).fit(&mut lin, &rows, Multinomial::<4>)?;
    lin.save(dir.join("lin-sparse.vf"))?;
    lin.save_for_predict(dir.join("lin-predict.vf"))?;
    let raw: Vec<u8> = lin.params().iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(dir.join("lin-params.f32"), raw)?;
    let mut mlp = Mlp::new(Init::default().seed(1));
    quiet(Trainer::new(AdaGrad::new(0.1))).fit(&mut mlp, &rows, Multinomial::<4>)?;
    mlp.save(dir.join("mlp-sparse.vf"))?;
    let dense = Mlp::from_params(mlp.params().to_vec()).ok_or("params")?;
    dense.save(dir.join("mlp-dense.vf"))?;
    println!("wrote 5 files to {}", dir.display());
    Ok(())
}
