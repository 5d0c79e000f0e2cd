//! The store over buffers one thread owns: `&mut` slices of the net's weights and state
//! planes. It serves the weights that are not packed (dense layers, biases) inside
//! [`super::packed::Packed`], which trains one thread and each replica; sparse rows are
//! always packed, so it steps them only through the trait's default `update_rows`.

use super::{prefetch_rows, step_local, Store, BLOCK};
use crate::optim::Optimizer;

/// Buffers owned by one thread.
pub(crate) struct Plain<'a> {
    pub w: &'a mut [f32],
    /// The optimizer's state planes, one per state float.
    pub s: &'a mut [Vec<f32>],
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
        let opt = *opt;
        let mut finite = true;
        for (b, grad) in grad.chunks(BLOCK).enumerate() {
            let (at, n) = (off + b * BLOCK, grad.len());
            let (mut w, mut g) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
            w[..n].copy_from_slice(&self.w[at..at + n]);
            g[..n].copy_from_slice(grad);
            let mut s = [O::State::default(); BLOCK];
            for (j, plane) in self.s.iter().enumerate().take(O::STATE) {
                for (s, &x) in s.iter_mut().zip(&plane[at..at + n]) {
                    s.as_mut()[j] = x;
                }
            }
            finite &= step_local(opt, &mut w, &mut s, &g, n, scale);
            self.w[at..at + n].copy_from_slice(&w[..n]);
            for (j, plane) in self.s.iter_mut().enumerate().take(O::STATE) {
                for (s, x) in s.iter().zip(&mut plane[at..at + n]) {
                    *x = s.as_ref()[j];
                }
            }
        }
        finite
    }

    #[inline]
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        prefetch_rows::<O, f32, OUT>(self.w, self.s, off, pairs);
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
