// `bias` is a bool.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<4, bias = maybe> => Linear<1>];

fn main() {}
