//! The store over buffers one thread owns: `&mut` slices of the net's weights and state
//! planes. It serves the weights that are not packed (dense layers, biases) inside
//! [`super::packed::Packed`], which trains one thread and each replica; sparse rows are
//! always packed, so it steps them only through the trait's default `update_rows`.

use super::{prefetch_rows, update_row, Store};
use crate::optim::{Optimizer, MAX_STATE};

/// Buffers owned by one thread.
pub(crate) struct Plain<'a> {
    pub w: &'a mut [f32],
    pub s: [&'a mut [f32]; MAX_STATE],
    pub stamps: &'a mut [u32],
}

impl Store for Plain<'_> {
    type View = [f32];

    #[inline(always)]
    fn view(&self) -> &[f32] {
        self.w
    }

    #[inline(always)]
    fn update<O: Optimizer>(&mut self, opt: &O, off: usize, grad: &[f32], scale: f32) -> bool {
        let n = grad.len();
        let [s0, s1, s2] = &mut self.s;
        // Planes an optimizer does not use are empty.
        let plane = |used: bool| if used { (off, off + n) } else { (0, 0) };
        let (a0, b0) = plane(O::STATE > 0);
        let (a1, b1) = plane(O::STATE > 1);
        let (a2, b2) = plane(O::STATE > 2);
        update_row(
            *opt,
            &mut self.w[off..off + n],
            &mut s0[a0..b0],
            &mut s1[a1..b1],
            &mut s2[a2..b2],
            grad,
            scale,
        )
    }

    #[inline]
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        prefetch_rows::<O, f32, OUT>(self.w, &self.s, off, pairs);
    }

    #[inline]
    fn map(&mut self, i: usize, f: impl Fn(f32) -> f32) {
        self.w[i] = f(self.w[i]);
    }

    #[inline]
    fn swap_stamp(&mut self, r: usize, now: u32) -> u32 {
        let old = self.stamps[r];
        self.stamps[r] = old.max(now);
        old
    }
}
