// A user layer's output width feeds the next layer's check: `Pairs` outputs 4, and
// `Linear<8, 1>` says it takes 8.
use vectorflow::layers::{Ctx, Layer};
use vectorflow::params::{Learn, Params};
use vectorflow::prelude::*;

/// Sums neighbouring units: 8 in, 4 out.
struct Pairs;

impl Layer for Pairs {
    type In = [f32; 8];
    type Out = [f32; 4];
    type Scratch = ();
    const PARAMS: usize = 0;
    fn describe(out: &mut String) {
        out.push_str("Pairs");
    }
    fn forward<P: Params + ?Sized>(
        _p: &P,
        _off: usize,
        x: &[f32; 8],
        y: &mut [f32; 4],
        _s: &mut (),
        _ctx: &mut Ctx,
    ) {
        *y = std::array::from_fn(|k| x[2 * k] + x[2 * k + 1]);
    }
    fn backward<L: Learn + ?Sized>(
        _p: &mut L,
        _off: usize,
        _x: &[f32; 8],
        _y: &[f32; 4],
        _s: &(),
        dy: &[f32; 4],
        dx: &mut [f32; 8],
    ) {
        *dx = std::array::from_fn(|j| dy[j / 2]);
    }
}

type M = network![Sparse<64> => Linear<8> => Pairs => Linear<8, 1>];

fn main() {}
