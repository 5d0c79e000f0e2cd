// Inputs come first: `Dense` is not a layer.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<8> => Dense<4> => Linear<1>];

fn main() {}
