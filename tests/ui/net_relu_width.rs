// An activation's explicit width must match the previous layer's output.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<16> => ReLU<8> => Linear<1>];

fn main() {}
