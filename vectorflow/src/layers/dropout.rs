//! Inverted dropout: while training each unit is zeroed with probability `rate` and the
//! survivors are scaled by `1 / (1 - rate)`; at prediction it is the identity.

use super::{Ctx, Layer};
use crate::params::{Learn, Params};

/// Dropout on a vector of width `N` with rate `PPM / 1_000_000` (the macro takes the rate
/// as a float: `Dropout<0.3>`).
pub struct Dropout<const N: usize, const PPM: u32>;

impl<const N: usize, const PPM: u32> Dropout<N, PPM> {
    /// The drop probability.
    pub const RATE: f32 = PPM as f32 / 1_000_000.0;
}

impl<const N: usize, const PPM: u32> Layer for Dropout<N, PPM> {
    type In = [f32; N];
    type Out = [f32; N];
    /// The mask: 0 for a dropped unit, `1 / (1 - rate)` for a kept one.
    type Scratch = [f32; N];
    const PARAMS: usize = 0;

    fn describe(out: &mut String) {
        out.push_str(&format!("Dropout({})", Self::RATE));
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
        if ctx.train {
            let keep = 1.0 / (1.0 - Self::RATE);
            for m in mask.iter_mut() {
                *m = if ctx.rng.uniform() < Self::RATE {
                    0.0
                } else {
                    keep
                };
            }
        } else {
            *mask = [1.0; N];
        }
        for k in 0..N {
            y[k] = x[k] * mask[k];
        }
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
        for k in 0..N {
            dx[k] = dy[k] * mask[k];
        }
    }
}
