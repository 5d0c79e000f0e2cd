//! The fallback for widths without a const-width kernel ([`super::shape`] dispatches the
//! common ones): the same sums as the typed layers, as plain loops over run-time
//! widths through [`Params::get`]. Correct at any width, not tuned; results may differ
//! from the typed kernels' in the last bits, as their sums are ordered differently.

use crate::layers::input::RootLayout;
use crate::layers::RowInputs;
use crate::params::{Learn, Params};

/// `y += W x` for the `y.len() × x.len()` row-major matrix at `off`.
#[inline]
fn matvec<P: Params + ?Sized>(p: &P, off: usize, x: &[f32], y: &mut [f32]) {
    for (o, yo) in y.iter_mut().enumerate() {
        let row = off + o * x.len();
        *yo += x
            .iter()
            .enumerate()
            .map(|(j, xj)| p.get(row + j) * xj)
            .sum::<f32>();
    }
}

/// The input layer's output: biases, then each root's contribution.
pub(crate) fn input_forward<P: Params + ?Sized>(
    p: &P,
    roots: &[RootLayout],
    bias: Option<usize>,
    inputs: &RowInputs,
    y: &mut [f32],
) {
    let out = y.len();
    for (k, yk) in y.iter_mut().enumerate() {
        *yk = bias.map_or(0.0, |b| p.get(b + k));
    }
    let mut cursor = [0; 3];
    for r in roots {
        if r.sparse {
            let n = inputs.counts[cursor[2]];
            for &(i, v) in &inputs.sparse[cursor[0]..cursor[0] + n] {
                let row = r.offset + i as usize * out;
                for (k, yk) in y.iter_mut().enumerate() {
                    *yk += v * p.get(row + k);
                }
            }
            cursor[0] += n;
            cursor[2] += 1;
        } else {
            dense_forward(p, r.offset, r.width, inputs, &mut cursor, y);
        }
    }
}

/// A dense root of width `n` at `off`: `y += W x` over its loaded values.
pub(crate) fn dense_forward<P: Params + ?Sized>(
    p: &P,
    off: usize,
    n: usize,
    inputs: &RowInputs,
    cursor: &mut [usize; 3],
    y: &mut [f32],
) {
    matvec(p, off, &inputs.dense[cursor[1]..cursor[1] + n], y);
    cursor[1] += n;
}

/// The input layer's backward pass: each root's rows, then the biases.
pub(crate) fn input_backward<L: Learn + ?Sized>(
    l: &mut L,
    roots: &[RootLayout],
    bias: Option<usize>,
    inputs: &RowInputs,
    dy: &[f32],
) {
    let out = dy.len();
    let mut g = vec![0.0f32; out];
    let mut cursor = [0; 3];
    for r in roots {
        if r.sparse {
            let n = inputs.counts[cursor[2]];
            for &(i, v) in &inputs.sparse[cursor[0]..cursor[0] + n] {
                for (g, d) in g.iter_mut().zip(dy) {
                    *g = v * d;
                }
                l.step(r.offset + i as usize * out, &g);
            }
            cursor[0] += n;
            cursor[2] += 1;
        } else {
            dense_backward(l, r.offset, r.width, inputs, &mut cursor, dy);
        }
    }
    if let Some(b) = bias {
        l.step(b, dy);
    }
}

/// A dense root's backward pass: the gradient of each output's row of weights.
pub(crate) fn dense_backward<L: Learn + ?Sized>(
    l: &mut L,
    off: usize,
    n: usize,
    inputs: &RowInputs,
    cursor: &mut [usize; 3],
    dy: &[f32],
) {
    let x = &inputs.dense[cursor[1]..cursor[1] + n];
    cursor[1] += n;
    let mut grad = vec![0.0f32; n];
    for (o, &g) in dy.iter().enumerate() {
        if g != 0.0 {
            for (d, xj) in grad.iter_mut().zip(x) {
                *d = g * xj;
            }
            l.step(off + o * n, &grad);
        }
    }
}

/// `Linear(inp->y.len())` at `off`: `y = W x + b`.
pub(crate) fn linear_forward<P: Params + ?Sized>(
    p: &P,
    off: usize,
    inp: usize,
    bias: bool,
    x: &[f32],
    y: &mut [f32],
) {
    let b = off + inp * y.len();
    for (o, yo) in y.iter_mut().enumerate() {
        *yo = if bias { p.get(b + o) } else { 0.0 };
    }
    matvec(p, off, x, y);
}

/// `Linear`'s backward pass: `dx = Wᵀ dy` (read before any step), then the gradients
/// of each output's row and bias.
pub(crate) fn linear_backward<L: Learn + ?Sized>(
    l: &mut L,
    off: usize,
    bias: bool,
    x: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) {
    let inp = x.len();
    dx.fill(0.0);
    for (o, &g) in dy.iter().enumerate() {
        if g != 0.0 {
            for (j, d) in dx.iter_mut().enumerate() {
                *d += g * l.get(off + o * inp + j);
            }
        }
    }
    let mut grad = vec![0.0f32; inp];
    for (o, &g) in dy.iter().enumerate() {
        if g != 0.0 {
            for (d, xj) in grad.iter_mut().zip(x) {
                *d = g * xj;
            }
            l.step(off + o * inp, &grad);
            if bias {
                l.step(off + inp * dy.len() + o, &[g]);
            }
        }
    }
}
