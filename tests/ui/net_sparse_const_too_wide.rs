// A named const width beyond the id range is caught too, at the width.
use vectorflow::prelude::*;

const DIM: usize = (1 << 32) + 1;
type M = network![Sparse<DIM> => Linear<1>];

fn main() {
    let _ = M::new(Init::zeros());
}
