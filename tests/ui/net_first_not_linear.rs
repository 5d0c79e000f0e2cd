// The layer after the inputs maps them to a width: it must be `Linear`.
use vectorflow::prelude::*;

type M = network![Sparse<64> => ReLU => Linear<1>];

fn main() {}
