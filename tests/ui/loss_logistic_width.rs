// `Logistic` needs one output; this net has 3.
use vectorflow::prelude::*;

#[derive(Features)]
struct Row {
    #[label]
    y: bool,
    #[hash]
    word: &'static str,
}

type M = network![Sparse<64> => Linear<3>];

fn main() {
    let rows = [Row { y: true, word: "a" }];
    let mut net = M::new(Init::zeros());
    let _ = Trainer::new(Sgd::new(0.1)).fit(&mut net, &rows, Logistic);
}
