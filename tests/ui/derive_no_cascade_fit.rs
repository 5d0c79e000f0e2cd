// One mistake in the derive gives one error, even when the row is then used with a
// network: the stand-in impls cover the label and the feature groups.
use vectorflow::prelude::*;

#[derive(Features)]
struct Row {
    #[label]
    y: bool,
    #[hash(nmespace = "x")]
    word: &'static str,
    #[dense(root = "ctx")]
    ctx: [f32; 2],
}

type M = network![Sparse<64>, ctx: Dense<2> => Linear<1>];

fn main() {
    let rows = [Row {
        y: true,
        word: "a",
        ctx: [0.0; 2],
    }];
    let mut net = M::new(Init::zeros());
    let _ = net.predict(&rows[0]).unwrap()[0];
    let _ = Trainer::new(Sgd::new(0.1)).fit(&mut net, &rows, Logistic);
}
