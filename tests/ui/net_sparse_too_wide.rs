// Feature ids are u32: a `Sparse` input of more than 2^32 slots would hold weights no id
// reaches.
use vectorflow::prelude::*;

type M = network![Sparse<{ 1 << 33 }> => Linear<1>];

fn main() {}
