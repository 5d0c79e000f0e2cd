// An empty network.
use vectorflow::prelude::*;

type M = network![];

fn main() {}
