//! A fully connected layer of the dense stack.

use super::dim::{Const, Dim};
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
        forward(p, off, Const::<IN>, Const::<OUT>, BIAS, x, y)
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
        backward(p, off, Const::<IN>, Const::<OUT>, BIAS, x, dy, dx)
    }
}

/// `Linear(inp->out)`'s forward pass at `off`, for any kind of width: `y = W x + b`.
#[inline(always)]
pub(crate) fn forward<P: Params + ?Sized, I: Dim, O: Dim>(
    p: &P,
    off: usize,
    inp: I,
    out: O,
    bias: bool,
    x: &[f32],
    y: &mut [f32],
) {
    if bias {
        out.read(p, off + inp.size() * out.size(), y);
    } else {
        y[..out.size()].fill(0.0);
    }
    inp.matvec(out, p, off, x, y);
}

/// `Linear(inp->out)`'s backward pass: `dx = Wᵀ dy` (read before any step), then the
/// gradients of each output's row and bias.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn backward<L: Learn + ?Sized, I: Dim, O: Dim>(
    p: &mut L,
    off: usize,
    inp: I,
    out: O,
    bias: bool,
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) {
    let (n, x, dy, dx) = (
        inp.size(),
        &x[..inp.size()],
        &dy[..out.size()],
        &mut dx[..inp.size()],
    );
    dx.fill(0.0);
    // One scratch row of `inp` floats: each weight row read, then each row's gradient.
    let mut buf = inp.zeros();
    for (o, &g) in dy.iter().enumerate() {
        if g != 0.0 {
            inp.read(p, off + o * n, buf.as_mut());
            for (d, r) in dx.iter_mut().zip(buf.as_ref()) {
                *d += g * r;
            }
        }
    }
    for (o, &g) in dy.iter().enumerate() {
        if g != 0.0 {
            for (d, xj) in buf.as_mut().iter_mut().zip(x) {
                *d = g * xj;
            }
            p.step(off + o * n, buf.as_ref());
            if bias {
                p.step(off + n * dy.len() + o, &[g]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Accumulate;

    /// The layer's one implementation at const, run-time and mixed widths: the same
    /// outputs (to the rounding of the SIMD kernel's sums), and the same input and
    /// parameter gradients, bit for bit (both kinds read rows and step alike).
    #[test]
    fn const_and_run_time_widths_run_the_same_layer() {
        const I: usize = 19;
        const O: usize = 3;
        let w: Vec<f32> = (0..I * O + O)
            .map(|k| ((k * 37) % 17) as f32 / 17.0 - 0.5)
            .collect();
        let x: [f32; I] = std::array::from_fn(|j| (j as f32 * 0.7).sin());
        let dy = [0.5, 0.0, -1.25];
        let mut want = [0.0f32; O];
        forward(w.as_slice(), 0, Const::<I>, Const::<O>, true, &x, &mut want);
        let mut want_dx = [0.0f32; I];
        let mut want_grad = Accumulate::new(&w);
        backward(
            &mut want_grad,
            0,
            Const::<I>,
            Const::<O>,
            true,
            &x,
            &dy,
            &mut want_dx,
        );
        fn run<I: Dim, O: Dim>(i: I, o: O, w: &[f32], x: &[f32], dy: &[f32]) -> [Vec<f32>; 3] {
            let mut y = vec![9.0; o.size()];
            forward(w, 0, i, o, true, x, &mut y);
            let mut dx = vec![9.0; i.size()];
            let mut acc = Accumulate::new(w);
            backward(&mut acc, 0, i, o, true, x, dy, &mut dx);
            [y, dx, acc.grad]
        }
        for [y, dx, grad] in [
            run(I, O, &w, &x, &dy),
            run(Const::<I>, O, &w, &x, &dy),
            run(I, Const::<O>, &w, &x, &dy),
        ] {
            for (a, b) in y.iter().zip(&want) {
                assert!((a - b).abs() < 1e-6, "{y:?} vs {want:?}");
            }
            assert_eq!(dx, want_dx);
            assert_eq!(grad, want_grad.grad);
        }
        // The bias row is read only with a bias.
        let mut y = [9.0f32; O];
        forward(w.as_slice(), 0, I, O, false, &x, &mut y);
        assert!((y[0] - (want[0] - w[I * O])).abs() < 1e-6);
    }
}
