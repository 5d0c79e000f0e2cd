// A dropout rate is a probability below 1.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<16> => Dropout<1.5> => Linear<1>];

fn main() {}
