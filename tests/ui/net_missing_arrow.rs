// Layers are separated by `=>`.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<16> ReLU => Linear<1>];

fn main() {}
