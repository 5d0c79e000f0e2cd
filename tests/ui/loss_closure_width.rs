// A closure loss over two outputs on a net with one output.
use vectorflow::prelude::*;

#[derive(Features)]
struct Row {
    #[label]
    y: bool,
    #[hash]
    word: &'static str,
}

type M = network![Sparse<64> => Linear<1>];

fn main() {
    let rows = [Row { y: true, word: "a" }];
    let mut net = M::new(Init::zeros());
    let loss = |out: &[f32; 2], _row: &Row, grad: &mut [f32; 2]| -> f32 {
        grad[0] = out[0];
        0.0
    };
    let _ = Trainer::new(Sgd::new(0.1)).fit(&mut net, &rows, loss);
}
