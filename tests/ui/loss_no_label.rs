// `Logistic` reads the row's label; this row has none.
use vectorflow::prelude::*;

#[derive(Features)]
struct Row {
    #[hash]
    word: &'static str,
}

type M = network![Sparse<64> => Linear<1>];

fn main() {
    let rows = [Row { word: "a" }];
    let mut net = M::new(Init::zeros());
    let _ = Trainer::new(Sgd::new(0.1)).fit(&mut net, &rows, Logistic);
}
