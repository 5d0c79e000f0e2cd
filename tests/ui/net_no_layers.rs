// Inputs alone are not a network.
use vectorflow::prelude::*;

type M = network![Sparse<64>];

fn main() {}
