//! The store Hogwild threads share: `&[AtomicF32]` views of the net's buffers (its
//! sparse tables' rows, each beside its state, included),
//! `Copy`-able into every thread. Each weight and state float is loaded and stored with a
//! Relaxed atomic: two threads updating one weight at once may lose one of the two
//! updates (the race Hogwild accepts by design), but no read ever tears and there is no
//! undefined behaviour.
//!
//! Atomic rows are loaded into local arrays and stepped by the same vectorised code as
//! plain rows; the loads and stores themselves stay one float at a time (LLVM does not
//! combine atomic accesses), which makes a Hogwild row of 16 about twice as slow as a
//! plain one.

use super::packed::prefetch_table;
use super::{all_finite, prefetch_rows, step_local, Store};
use crate::optim::{mean_square, Optimizer};
use crate::params::AtomicF32;
use crate::weights::{holding, starting, AtomicTable, View};
use std::sync::atomic::{AtomicU32, Ordering};

/// Buffers shared by Hogwild threads: the net's weights (the flat rest and the sparse
/// tables, each row beside its state) as atomics.
#[derive(Clone, Copy)]
pub(crate) struct Shared<'a> {
    pub view: View<'a, AtomicTable<'a>>,
    /// The rest's state planes, one per state float.
    pub s: &'a [&'a [AtomicF32]],
    pub stamps: &'a [AtomicU32],
}

/// One row-wise step of `grad` on the weights `w`, part or all of a sparse row of `out`
/// whose state is `s`; whether that state is finite.
#[inline(always)]
fn row_step<O: Optimizer>(
    opt: O,
    s: &AtomicF32,
    w: &[AtomicF32],
    grad: &[f32],
    out: usize,
    scale: f32,
) -> bool {
    let mut st = s.load();
    let rate = opt.row_rate(&mut st, mean_square(grad, out), scale);
    s.store(st);
    for (w, g) in w.iter().zip(grad) {
        w.store(w.load() - rate * g);
    }
    st.is_finite()
}

/// One step of `grad` on the weights `w`, state `j` of weight `k` being `s(j)[k]`;
/// whether the state is all finite.
#[inline(always)]
fn coordinates<'s, O: Optimizer>(
    opt: O,
    w: &[AtomicF32],
    s: impl Fn(usize) -> &'s [AtomicF32],
    grad: &[f32],
    scale: f32,
) -> bool {
    let mut finite = true;
    for (k, (w, g)) in w.iter().zip(grad).enumerate() {
        let mut st = O::State::default();
        for (j, x) in st.as_mut().iter_mut().enumerate() {
            *x = s(j)[k].load();
        }
        w.store(opt.update(w.load(), &mut st, *g, scale));
        for (j, x) in st.as_ref().iter().enumerate() {
            s(j)[k].store(*x);
        }
        finite &= all_finite(st.as_ref());
    }
    finite
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

impl<'a> Store for Shared<'a> {
    type View = View<'a, AtomicTable<'a>>;

    #[inline(always)]
    fn view(&self) -> &Self::View {
        &self.view
    }

    #[inline(always)]
    fn update<O: Optimizer>(&mut self, opt: &O, off: usize, grad: &[f32], scale: f32) -> bool {
        let opt = *opt;
        // Dense weights, or pieces of a sparse row; a mini-batch's run may cross a
        // table's ends: one piece at a time, up to the next table or a table's row.
        let (mut k, mut finite) = (0, true);
        let tables = self.view.tables;
        while k < grad.len() {
            let i = off + k;
            let Some((t, p)) = holding(tables, i) else {
                let next = tables.iter().map(|t| t.shape.offset()).filter(|&o| o > i);
                let n = next
                    .min()
                    .map_or(grad.len() - k, |o| (o - i).min(grad.len() - k));
                let planes = self.s;
                let s = |j: usize| &planes[j][i..i + n];
                finite &= coordinates(opt, &self.view.rest[i..i + n], s, &grad[k..k + n], scale);
                k += n;
                continue;
            };
            let t = &tables[t];
            let (out, stride) = (t.shape.out(), t.shape.stride());
            let n = (out - p % stride).min(grad.len() - k);
            let g = &grad[k..k + n];
            if O::ROW_WISE {
                let a = t
                    .shape
                    .row_state(p / stride)
                    .expect("a row-wise table has row states");
                finite &= row_step(opt, &t.data[a], &t.data[p..p + n], g, out, scale);
            } else {
                let data = t.data;
                let s = |j: usize| &data[p + out * (j + 1)..p + out * (j + 1) + n];
                finite &= coordinates(opt, &data[p..p + n], s, g, scale);
            }
            k += n;
        }
        finite
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
        let Some(t) = starting(self.view.tables, off) else {
            // Sparse rows are all in tables.
            return super::update_each_row(self, opt, off, pairs, dy, scale);
        };
        let opt = *opt;
        let (data, stride) = (t.data, t.shape.stride());
        let mut finite = true;
        if O::ROW_WISE {
            for &(i, v) in pairs {
                let o = i as usize * stride;
                let a = t
                    .shape
                    .row_state(i as usize)
                    .expect("a row-wise table has row states");
                let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
                finite &= row_step(opt, &data[a], &data[o..o + OUT], &g, OUT, scale);
            }
            return finite;
        }
        for &(i, v) in pairs {
            let o = i as usize * stride;
            let mut w = AtomicF32::load_row::<OUT>(&data[o..o + OUT]);
            let mut s = [O::State::default(); OUT];
            for j in 0..O::STATE {
                let at = o + OUT * (j + 1);
                let x = AtomicF32::load_row::<OUT>(&data[at..at + OUT]);
                for (s, x) in s.iter_mut().zip(x) {
                    s.as_mut()[j] = x;
                }
            }
            let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
            // The vectorised step of the plain store, on local copies.
            finite &= update_local(opt, &mut w, &mut s, &g, scale);
            AtomicF32::store_row(&data[o..o + OUT], &w);
            for j in 0..O::STATE {
                let at = o + OUT * (j + 1);
                let x: [f32; OUT] = std::array::from_fn(|k| s[k].as_ref()[j]);
                AtomicF32::store_row(&data[at..at + OUT], &x);
            }
        }
        finite
    }

    #[inline]
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        match starting(self.view.tables, off) {
            Some(t) => prefetch_table(&t.shape, t.data, pairs),
            None => prefetch_rows::<O, AtomicF32, OUT>(self.view.rest, self.s, off, pairs),
        }
    }

    #[inline]
    fn map(&mut self, i: usize, f: impl Fn(f32) -> f32) {
        let x = match holding(self.view.tables, i) {
            Some((t, p)) => &self.view.tables[t].data[p],
            None => &self.view.rest[i],
        };
        x.store(f(x.load()));
    }

    #[inline]
    fn swap_stamp(&mut self, r: usize, now: u32) -> u32 {
        // Monotone: a thread whose clock lags another's never moves a stamp back, so no
        // prior step is applied twice.
        self.stamps[r].fetch_max(now, Ordering::Relaxed)
    }
}
