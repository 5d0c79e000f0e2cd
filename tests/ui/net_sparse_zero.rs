// An input needs at least one slot.
use vectorflow::prelude::*;

type M = network![Sparse<0> => Linear<1>];

fn main() {}
