// Each input reads its own feature group.
use vectorflow::prelude::*;

type M = network![user: Sparse<64>, user: Sparse<32> => Linear<1>];

fn main() {}
