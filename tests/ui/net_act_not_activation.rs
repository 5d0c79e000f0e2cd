// `Act<F>` takes a type implementing `Activation`.
use vectorflow::prelude::*;

struct Leaky;

type M = network![Sparse<64> => Linear<8> => Act<Leaky> => Linear<1>];

fn main() {}
