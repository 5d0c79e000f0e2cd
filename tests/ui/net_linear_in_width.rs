// `Linear<IN, OUT>`: IN must match the previous layer's output.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<16> => ReLU => Linear<8, 4>];

fn main() {}
