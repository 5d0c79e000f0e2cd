//! Writes the seed corpus of the `model_file` target: real model files of its two net
//! types, with and without training state, dense, with sparse tables, and saved for
//! prediction.
//!
//! ```text
//! cargo +nightly run --bin model_file_corpus -- corpus/model_file
//! ```

use vectorflow::network;
use vectorflow::prelude::*;

type Lr = network![Sparse<64> => Linear<1>];
type Mlp = network![Sparse<16> => Linear<4> => ReLU => Linear<1>];

#[derive(Features)]
struct Row {
    #[label]
    y: bool,
    #[hash]
    a: u8,
}

fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("a directory"));
    std::fs::create_dir_all(&dir).unwrap();
    let rows: Vec<Row> = (0..40).map(|i| Row { y: i % 3 == 0, a: i % 5 }).collect();
    let quiet = |t: Trainer<_>| t.threads(1).progress(Progress::Silent);
    let mut lr = Lr::new(Init::uniform(0.1).seed(1));
    lr.save(dir.join("lr-weights.vf")).unwrap();
    quiet(Trainer::new(AdaGrad::new(0.1)))
        .fit(&mut lr, &rows, Logistic)
        .unwrap();
    lr.save(dir.join("lr-adagrad.vf")).unwrap();
    lr.save_for_predict(dir.join("lr-predict.vf")).unwrap();
    // Weights of unknown initialisation, stored dense.
    Lr::from_params(lr.params().to_vec())
        .unwrap()
        .save(dir.join("lr-dense.vf"))
        .unwrap();
    let mut mlp = Mlp::new(Init::uniform(0.1).seed(2));
    Trainer::new(Adam::new(0.01))
        .threads(1)
        .progress(Progress::Silent)
        .fit(&mut mlp, &rows, Logistic)
        .unwrap();
    mlp.save(dir.join("mlp-adam.vf")).unwrap();
    mlp.save_for_predict(dir.join("mlp-predict.vf")).unwrap();
}
