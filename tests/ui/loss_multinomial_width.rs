// `Multinomial<10>` on a net with 5 outputs.
use vectorflow::prelude::*;

#[derive(Features)]
struct Row {
    #[label]
    class: u8,
    #[hash]
    word: &'static str,
}

type M = network![Sparse<64> => Linear<5>];

fn main() {
    let rows = [Row {
        class: 3,
        word: "a",
    }];
    let mut net = M::new(Init::zeros());
    let _ = Trainer::new(Sgd::new(0.1)).fit(&mut net, &rows, Multinomial::<10>);
}
