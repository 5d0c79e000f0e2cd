// Layer names are case-sensitive: `ReLU`, not `Relu`.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<16> => Relu => Linear<1>];

fn main() {}
