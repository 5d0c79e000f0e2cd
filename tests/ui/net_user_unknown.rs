// A user layer's path must name a type.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<8> => my::Residual<8> => Linear<1>];

fn main() {}
