//! A fully connected layer of the dense stack.

use super::{Ctx, Layer};
use crate::init::Init;
use crate::params::{Learn, Params};
use crate::rng::Rng;

/// `y = W x + b` with `W` an `OUT × IN` row-major matrix, and `b` when `BIAS`.
pub struct Linear<const IN: usize, const OUT: usize, const BIAS: bool>;

impl<const IN: usize, const OUT: usize, const BIAS: bool> Layer for Linear<IN, OUT, BIAS> {
    type In = [f32; IN];
    type Out = [f32; OUT];
    type Scratch = ();
    const PARAMS: usize = IN * OUT + if BIAS { OUT } else { 0 };
    const WEIGHTS: usize = IN * OUT;

    fn describe(out: &mut String) {
        describe(IN, OUT, BIAS, out);
    }

    fn init(w: &mut [f32], init: &Init, rng: &mut Rng) {
        init_linear(w, IN, OUT, init, rng)
    }

    #[inline(always)]
    fn forward<P: Params + ?Sized>(
        p: &P,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32; OUT],
        _s: &mut (),
        _ctx: &mut Ctx,
    ) {
        *y = if BIAS {
            p.row::<OUT>(off + IN * OUT)
        } else {
            [0.0; OUT]
        };
        p.matvec::<IN, OUT>(off, x, y);
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        x: &[f32; IN],
        _y: &[f32; OUT],
        _s: &(),
        dy: &[f32; OUT],
        dx: &mut [f32; IN],
    ) {
        *dx = [0.0; IN];
        for (o, &g) in dy.iter().enumerate() {
            if g != 0.0 {
                let row = p.row::<IN>(off + o * IN);
                for j in 0..IN {
                    dx[j] += g * row[j];
                }
            }
        }
        for (o, &g) in dy.iter().enumerate() {
            if g != 0.0 {
                let grad: [f32; IN] = std::array::from_fn(|j| g * x[j]);
                p.step(off + o * IN, &grad);
                if BIAS {
                    p.step(off + IN * OUT + o, &[g]);
                }
            }
        }
    }
}

/// Initialises the parameters `w` of a `Linear(inp->out)`: drawn weights, zero biases.
pub(crate) fn init_linear(w: &mut [f32], inp: usize, out: usize, init: &Init, rng: &mut Rng) {
    init.fill(&mut w[..inp * out], inp, out, rng);
    w[inp * out..].fill(0.0);
}

/// Appends the description of a `Linear(inp->out)`.
pub(crate) fn describe(inp: usize, out: usize, bias: bool, s: &mut String) {
    s.push_str(&format!(
        "Linear({inp}->{out}{})",
        if bias { "" } else { ", no bias" }
    ));
}
