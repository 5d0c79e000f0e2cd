// Any path other than a built-in is a user type, which must implement `Layer`.
use vectorflow::prelude::*;

struct Scale;

type M = network![Sparse<64> => Linear<8> => Scale => Linear<1>];

fn main() {}
