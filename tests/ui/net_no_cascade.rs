// One mistake in `network!` gives one error: the stand-in type it expands to keeps
// `new`, `predict` and `fit` on the model from adding more.
use vectorflow::prelude::*;

#[derive(Features)]
struct Row {
    #[label]
    y: u8,
    #[hash]
    word: &'static str,
}

type Model = network![Sparse<64> => Linear<8> => Relu => Linear<3>];

fn main() {
    let rows = [Row { y: 2, word: "a" }];
    let mut net = Model::new(Init::zeros());
    let _ = net.predict(&rows[0]).unwrap()[2];
    let _ = Trainer::new(Sgd::new(0.1)).fit(&mut net, &rows, Multinomial::<3>);
}
