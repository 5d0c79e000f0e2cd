// Named consts the macro cannot evaluate are checked by the type system.
use vectorflow::prelude::*;

const HIDDEN: usize = 16;
const SMALL: usize = 8;

type M = network![Sparse<64> => Linear<HIDDEN> => ReLU => Linear<SMALL, 1>];

fn main() {}
