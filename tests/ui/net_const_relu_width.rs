// A literal width after a layer whose width is a named const.
use vectorflow::prelude::*;

const HIDDEN: usize = 16;

type M = network![Sparse<64> => Linear<HIDDEN> => ReLU<8> => Linear<1>];

fn main() {}
