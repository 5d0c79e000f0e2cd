//! The store Hogwild threads share: `&[AtomicF32]` views of the net's buffers,
//! `Copy`-able into every thread. Each weight and state float is loaded and stored with a
//! Relaxed atomic: two threads updating one weight at once may lose one of the two
//! updates (the race Hogwild accepts by design), but no read ever tears and there is no
//! undefined behaviour.
//!
//! Atomic rows are loaded into local arrays and stepped by the same vectorised code as
//! plain rows; the loads and stores themselves stay one float at a time (LLVM does not
//! combine atomic accesses), which makes a Hogwild row of 16 about twice as slow as a
//! plain one.

use super::{all_finite, prefetch_rows, step_local, Store};
use crate::layers::Block;
use crate::optim::{mean_square, Optimizer};
use crate::params::AtomicF32;
use std::sync::atomic::{AtomicU32, Ordering};

/// Buffers shared by Hogwild threads.
#[derive(Clone, Copy)]
pub(crate) struct Shared<'a> {
    pub w: &'a [AtomicF32],
    /// The optimizer's state planes, one per state float.
    pub s: &'a [&'a [AtomicF32]],
    pub stamps: &'a [AtomicU32],
    /// The net's weight blocks: where a row-wise optimizer finds sparse rows.
    pub blocks: &'a [Block],
}

impl Shared<'_> {
    /// One row-wise step of `grad` on weights `i..`, within one sparse row of `out`
    /// that starts at `row`, whose state is state 0 of its first weight; whether that
    /// state is finite.
    #[inline(always)]
    fn row_step<O: Optimizer>(
        &self,
        opt: O,
        row: usize,
        out: usize,
        i: usize,
        grad: &[f32],
        scale: f32,
    ) -> bool {
        let mut s = self.s[0][row].load();
        let rate = opt.row_rate(&mut s, mean_square(grad, out), scale);
        self.s[0][row].store(s);
        for (w, g) in self.w[i..i + grad.len()].iter().zip(grad) {
            w.store(w.load() - rate * g);
        }
        s.is_finite()
    }

    /// One step of `grad` on weights `off..`, each with its own state; whether the
    /// state is all finite.
    #[inline(always)]
    fn coordinates<O: Optimizer>(&self, opt: O, off: usize, grad: &[f32], scale: f32) -> bool {
        let w = &self.w[off..off + grad.len()];
        let mut finite = true;
        for (k, (w, g)) in w.iter().zip(grad).enumerate() {
            let mut s = O::State::default();
            for (j, plane) in self.s.iter().enumerate().take(O::STATE) {
                s.as_mut()[j] = plane[off + k].load();
            }
            w.store(opt.update(w.load(), &mut s, *g, scale));
            for (j, plane) in self.s.iter().enumerate().take(O::STATE) {
                plane[off + k].store(s.as_ref()[j]);
            }
            finite &= all_finite(s.as_ref());
        }
        finite
    }
}

/// [`step_local`] on a whole row, never inlined: called on local copies of atomic rows,
/// where inlined code stays scalar (LLVM does not combine the atomic loads that filled
/// them).
#[inline(never)]
fn update_local<O: Optimizer, const OUT: usize>(
    opt: O,
    w: &mut [f32; OUT],
    s: &mut [O::State; OUT],
    g: &[f32; OUT],
    scale: f32,
) -> bool {
    step_local(opt, w, s, g, OUT, scale)
}

impl Store for Shared<'_> {
    type View = [AtomicF32];

    #[inline(always)]
    fn view(&self) -> &[AtomicF32] {
        self.w
    }

    #[inline(always)]
    fn update<O: Optimizer>(&mut self, opt: &O, off: usize, grad: &[f32], scale: f32) -> bool {
        let opt = *opt;
        if O::ROW_WISE {
            // Sparse rows step row-wise, one row at a time; a mini-batch's run may
            // cross a table's ends.
            let (mut k, mut finite) = (0, true);
            while k < grad.len() {
                let i = off + k;
                let sparse = self.blocks.iter().find_map(|b| {
                    let out = b.row?;
                    (b.offset..b.offset + b.len)
                        .contains(&i)
                        .then_some((b.offset, out))
                });
                let n = match sparse {
                    Some((start, out)) => {
                        let row = i - (i - start) % out;
                        let n = (row + out - i).min(grad.len() - k);
                        finite &= self.row_step(opt, row, out, i, &grad[k..k + n], scale);
                        n
                    }
                    None => {
                        let next = self
                            .blocks
                            .iter()
                            .filter(|b| b.row.is_some() && b.offset > i);
                        let n = next
                            .map(|b| b.offset - i)
                            .min()
                            .map_or(grad.len() - k, |n| n.min(grad.len() - k));
                        finite &= self.coordinates(opt, i, &grad[k..k + n], scale);
                        n
                    }
                };
                k += n;
            }
            return finite;
        }
        self.coordinates(opt, off, grad, scale)
    }

    #[inline(always)]
    fn update_rows<O: Optimizer, const OUT: usize>(
        &mut self,
        opt: &O,
        off: usize,
        pairs: &[(u32, f32)],
        dy: &[f32; OUT],
        scale: f32,
    ) -> bool {
        let opt = *opt;
        let mut finite = true;
        if O::ROW_WISE {
            for &(i, v) in pairs {
                let o = off + i as usize * OUT;
                let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
                finite &= self.row_step(opt, o, OUT, o, &g, scale);
            }
            return finite;
        }
        for &(i, v) in pairs {
            let o = off + i as usize * OUT;
            let mut w = AtomicF32::load_row::<OUT>(&self.w[o..o + OUT]);
            let mut s = [O::State::default(); OUT];
            for (j, plane) in self.s.iter().enumerate().take(O::STATE) {
                let x = AtomicF32::load_row::<OUT>(&plane[o..o + OUT]);
                for (s, x) in s.iter_mut().zip(x) {
                    s.as_mut()[j] = x;
                }
            }
            let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
            // The vectorised step of the plain store, on local copies.
            finite &= update_local(opt, &mut w, &mut s, &g, scale);
            AtomicF32::store_row(&self.w[o..o + OUT], &w);
            for (j, plane) in self.s.iter().enumerate().take(O::STATE) {
                let x: [f32; OUT] = std::array::from_fn(|k| s[k].as_ref()[j]);
                AtomicF32::store_row(&plane[o..o + OUT], &x);
            }
        }
        finite
    }

    #[inline]
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        prefetch_rows::<O, AtomicF32, OUT>(self.w, self.s, off, pairs);
    }

    #[inline]
    fn map(&mut self, i: usize, f: impl Fn(f32) -> f32) {
        self.w[i].store(f(self.w[i].load()));
    }

    #[inline]
    fn swap_stamp(&mut self, r: usize, now: u32) -> u32 {
        // Monotone: a thread whose clock lags another's never moves a stamp back, so no
        // prior step is applied twice.
        self.stamps[r].fetch_max(now, Ordering::Relaxed)
    }
}
