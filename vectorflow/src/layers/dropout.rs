//! Inverted dropout: while training each unit is zeroed with probability `rate` and the
//! survivors are scaled by `1 / (1 - rate)`; at prediction it is the identity.

use super::{Ctx, Layer};
use crate::params::{Learn, Params};

/// Dropout on a vector of width `N` with rate `PPM / 1_000_000` (the macro takes the rate
/// as a float: `Dropout<0.3>`).
pub struct Dropout<const N: usize, const PPM: u32>;

impl<const N: usize, const PPM: u32> Dropout<N, PPM> {
    /// The drop probability.
    pub const RATE: f32 = rate(PPM);
}

/// The drop probability of `ppm` parts per million.
pub(crate) const fn rate(ppm: u32) -> f32 {
    ppm as f32 / 1_000_000.0
}

/// Appends the description of a dropout of `ppm` parts per million.
pub(crate) fn describe(ppm: u32, out: &mut String) {
    out.push_str(&format!("Dropout({})", rate(ppm)));
}

/// [`Dropout`]'s forward pass on any width: draws the mask (while training) and applies
/// it.
#[inline(always)]
pub(crate) fn forward(rate: f32, x: &[f32], y: &mut [f32], mask: &mut [f32], ctx: &mut Ctx) {
    if ctx.train {
        let keep = 1.0 / (1.0 - rate);
        for m in mask.iter_mut() {
            *m = if ctx.rng.uniform() < rate { 0.0 } else { keep };
        }
    } else {
        mask.fill(1.0);
    }
    for ((y, x), m) in y.iter_mut().zip(x).zip(mask.iter()) {
        *y = x * m;
    }
}

/// [`Dropout`]'s backward pass on any width.
#[inline(always)]
pub(crate) fn backward(mask: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((dx, dy), m) in dx.iter_mut().zip(dy).zip(mask) {
        *dx = dy * m;
    }
}

impl<const N: usize, const PPM: u32> Layer for Dropout<N, PPM> {
    type In = [f32; N];
    type Out = [f32; N];
    /// The mask: 0 for a dropped unit, `1 / (1 - rate)` for a kept one.
    type Scratch = [f32; N];
    const PARAMS: usize = 0;

    fn describe(out: &mut String) {
        describe(PPM, out);
    }

    #[inline(always)]
    fn forward<P: Params + ?Sized>(
        _p: &P,
        _off: usize,
        x: &[f32; N],
        y: &mut [f32; N],
        mask: &mut [f32; N],
        ctx: &mut Ctx,
    ) {
        forward(Self::RATE, x, y, mask, ctx);
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        _p: &mut L,
        _off: usize,
        _x: &[f32; N],
        _y: &[f32; N],
        mask: &[f32; N],
        dy: &[f32; N],
        dx: &mut [f32; N],
    ) {
        backward(mask, dy, dx);
    }
}
