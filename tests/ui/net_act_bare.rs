// `Act` needs the activation it applies.
use vectorflow::prelude::*;

type M = network![Sparse<64> => Linear<8> => Act => Linear<1>];

fn main() {}
