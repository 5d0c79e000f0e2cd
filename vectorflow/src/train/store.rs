//! Where training threads read weights and apply optimizer steps.
//!
//! Stores, one interface ([`Store`]):
//! - [`Plain`] owns `&mut` slices of the net's buffers. It serves the weights that are
//!   not packed (dense layers, biases) inside `packed::Packed`, which trains one thread
//!   and each replica; sparse rows are always packed, so it steps them only through the
//!   trait's default `update_rows`.
//! - [`Shared`] holds `&[AtomicF32]` views of the same buffers, `Copy`-able into every
//!   Hogwild thread. Each weight and state float is loaded and stored with a Relaxed
//!   atomic: two threads updating one weight at once may lose one of the two updates
//!   (the race Hogwild accepts by design), but no read ever tears and there is no
//!   undefined behaviour.
//!
//! - `packed::Packed`: the packed sparse tables plus a `Plain` for the rest.
//! - `replica::Tracked`: a `Packed` over one thread's replica that also records which
//!   units it touched, for the merges (see the `train` module docs).
//!
//! Atomic rows are loaded into local arrays and stepped by the same vectorised code as
//! plain rows; the loads and stores themselves stay one float at a time (LLVM does not
//! combine atomic accesses), which makes a Hogwild row of 16 about twice as slow as a
//! plain one.

use super::packed::mean_square;
use crate::kernels;
use crate::layers::Block;
use crate::optim::{Optimizer, MAX_STATE};
use crate::params::{AtomicF32, Learn, Params};
use std::sync::atomic::{AtomicU32, Ordering};

/// A place to read weights from and apply optimizer steps to.
pub(crate) trait Store {
    /// The weights, for the forward and backward passes.
    type View: Params + ?Sized;
    /// The weights.
    fn view(&self) -> &Self::View;
    /// One optimizer step on the weights `off..off + grad.len()`; whether the state it
    /// wrote is all finite (an overflowing accumulator would silently freeze weights).
    fn update<O: Optimizer>(&mut self, opt: &O, off: usize, grad: &[f32], scale: f32) -> bool;
    /// One optimizer step on each sparse row: row `i` at `off + i·OUT` gets `v · dy`;
    /// whether the state it wrote is all finite.
    #[inline(always)]
    fn update_rows<O: Optimizer, const OUT: usize>(
        &mut self,
        opt: &O,
        off: usize,
        pairs: &[(u32, f32)],
        dy: &[f32; OUT],
        scale: f32,
    ) -> bool {
        let mut finite = true;
        for &(i, v) in pairs {
            let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
            finite &= self.update(opt, off + i as usize * OUT, &g, scale);
        }
        finite
    }
    /// Prefetches the weight rows of `pairs` (rows of `OUT` at `off + i·OUT`) and their
    /// state rows for optimizer `O`.
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]);
    /// Applies `f` to the weight at `i` (priors).
    fn map(&mut self, i: usize, f: impl Fn(f32) -> f32);
    /// Raises the stamp of sparse row `r` (the number of prior steps applied to it) to
    /// `now` if it is lower, returning the old one.
    fn swap_stamp(&mut self, r: usize, now: u32) -> u32;
}

/// Buffers owned by one thread.
pub(crate) struct Plain<'a> {
    pub w: &'a mut [f32],
    pub s: [&'a mut [f32]; MAX_STATE],
    pub stamps: &'a mut [u32],
}

/// Whether every float of `s` is finite.
///
/// The largest exponent field is all ones only for an infinity or a NaN: an integer max
/// reduction, which vectorises. (A fold of `is_finite` bools stayed scalar and made the
/// 16-unit net's AdaGrad steps 1.8× slower.)
#[inline(always)]
pub(crate) fn all_finite(s: &[f32]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    s.iter().fold(0u32, |top, x| top.max(x.to_bits() & EXP)) != EXP
}

/// One optimizer step on a row of weights and its state planes (empty when unused);
/// whether the state it wrote is all finite.
///
/// A function of its own so the slices arrive as distinct `&mut` arguments: LLVM then
/// knows they do not overlap and vectorises the loop (sqrt and division included).
#[inline(always)]
pub(crate) fn update_row<O: Optimizer>(
    opt: O,
    w: &mut [f32],
    s0: &mut [f32],
    s1: &mut [f32],
    s2: &mut [f32],
    grad: &[f32],
    scale: f32,
) -> bool {
    let n = w.len();
    let grad = &grad[..n];
    // Each arm reads back the state it wrote while it is still in L1: a check of the
    // touched floats only (see `Job::rows` for what it costs).
    match O::STATE {
        0 => {
            for k in 0..n {
                w[k] = opt.update(w[k], &mut [0.0; MAX_STATE], grad[k], scale);
            }
            true
        }
        1 => {
            let s0 = &mut s0[..n];
            for k in 0..n {
                let mut s = [s0[k], 0.0, 0.0];
                w[k] = opt.update(w[k], &mut s, grad[k], scale);
                s0[k] = s[0];
            }
            all_finite(s0)
        }
        2 => {
            let (s0, s1) = (&mut s0[..n], &mut s1[..n]);
            for k in 0..n {
                let mut s = [s0[k], s1[k], 0.0];
                w[k] = opt.update(w[k], &mut s, grad[k], scale);
                s0[k] = s[0];
                s1[k] = s[1];
            }
            all_finite(s0) & all_finite(s1)
        }
        _ => {
            let (s0, s1, s2) = (&mut s0[..n], &mut s1[..n], &mut s2[..n]);
            for k in 0..n {
                let mut s = [s0[k], s1[k], s2[k]];
                w[k] = opt.update(w[k], &mut s, grad[k], scale);
                s0[k] = s[0];
                s1[k] = s[1];
                s2[k] = s[2];
            }
            all_finite(s0) & all_finite(s1) & all_finite(s2)
        }
    }
}

/// [`update_row`], never inlined: called on local copies of atomic rows, where inlined
/// code stays scalar (LLVM does not combine the atomic loads that filled them).
#[inline(never)]
fn update_local<O: Optimizer>(
    opt: O,
    w: &mut [f32],
    s0: &mut [f32],
    s1: &mut [f32],
    s2: &mut [f32],
    grad: &[f32],
    scale: f32,
) -> bool {
    update_row(opt, w, s0, s1, s2, grad, scale)
}

/// Prefetches the rows of `pairs` in `w` and in the state planes `O` uses.
#[inline(always)]
fn prefetch_rows<O: Optimizer, T, const OUT: usize>(
    w: &[T],
    s: &[impl AsRef<[T]>; MAX_STATE],
    off: usize,
    pairs: &[(u32, f32)],
) {
    for &(i, _) in pairs {
        let o = off + i as usize * OUT;
        kernels::prefetch_at(w, o, OUT);
        if O::STATE > 0 {
            kernels::prefetch_at(s[0].as_ref(), o, OUT);
        }
        if O::STATE > 1 {
            kernels::prefetch_at(s[1].as_ref(), o, OUT);
        }
        if O::STATE > 2 {
            kernels::prefetch_at(s[2].as_ref(), o, OUT);
        }
    }
}

/// Buffers shared by Hogwild threads.
#[derive(Clone, Copy)]
pub(crate) struct Shared<'a> {
    pub w: &'a [AtomicF32],
    pub s: [&'a [AtomicF32]; MAX_STATE],
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
            let mut s = [0.0; MAX_STATE];
            for (j, plane) in self.s.iter().enumerate().take(O::STATE) {
                s[j] = plane[off + k].load();
            }
            w.store(opt.update(w.load(), &mut s, *g, scale));
            for (j, plane) in self.s.iter().enumerate().take(O::STATE) {
                plane[off + k].store(s[j]);
            }
            finite &= all_finite(&s[..O::STATE]);
        }
        finite
    }
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
        let load = |plane: &[AtomicF32], o: usize, used: bool| {
            if used {
                AtomicF32::load_row::<OUT>(&plane[o..o + OUT])
            } else {
                [0.0; OUT]
            }
        };
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
            let [p0, p1, p2] = self.s;
            let mut s0 = load(p0, o, O::STATE > 0);
            let mut s1 = load(p1, o, O::STATE > 1);
            let mut s2 = load(p2, o, O::STATE > 2);
            let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
            // The vectorised step of the plain store, on local copies.
            let n = |used: bool| if used { OUT } else { 0 };
            finite &= update_local(
                opt,
                &mut w,
                &mut s0[..n(O::STATE > 0)],
                &mut s1[..n(O::STATE > 1)],
                &mut s2[..n(O::STATE > 2)],
                &g,
                scale,
            );
            AtomicF32::store_row(&self.w[o..o + OUT], &w);
            for (used, plane, x) in [
                (O::STATE > 0, p0, &s0),
                (O::STATE > 1, p1, &s1),
                (O::STATE > 2, p2, &s2),
            ] {
                if used {
                    AtomicF32::store_row(&plane[o..o + OUT], x);
                }
            }
        }
        finite
    }

    #[inline]
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        prefetch_rows::<O, AtomicF32, OUT>(self.w, &self.s, off, pairs);
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

/// The [`Learn`] the backward pass hands gradients to: an optimizer step on a store,
/// at once (per-row SGD) — the layers compute their input gradients first — or, with a
/// mini-batch, records it for [`apply_batch`], reads then seeing the weights as they were
/// when the batch began.
pub(crate) struct Stepper<'a, O, S> {
    pub opt: &'a O,
    pub store: &'a mut S,
    pub scale: f32,
    pub batch: Option<&'a mut Batch>,
    /// Whether the forward pass prefetches rows of under 8 floats (not when they were
    /// prefetched with the row before). Wider rows are prefetched again in any case:
    /// the CPU drops prefetches it has no miss buffer for, and a row's worth of wide
    /// rows asked for ahead outruns its buffers (measured: Sparse→16 trains 1.15×
    /// faster with the second prefetch, logistic regression 1.2× faster without).
    pub prefetch: bool,
    /// Whether every optimizer state the steps wrote so far is finite.
    pub finite: bool,
}

impl<O: Optimizer, S: Store> Params for Stepper<'_, O, S> {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self.store.view().get(i)
    }
    #[inline(always)]
    fn row<const N: usize>(&self, off: usize) -> [f32; N] {
        self.store.view().row(off)
    }
    #[inline(always)]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        self.store.view().matvec(off, x, y)
    }
    #[inline(always)]
    fn gather<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        self.store.view().gather(off, pairs, y)
    }
    #[inline(always)]
    fn prefetch_rows<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        if self.prefetch || OUT >= 8 {
            self.store.prefetch_rows::<O, OUT>(off, pairs);
        }
    }
}

impl<O: Optimizer, S: Store> Learn for Stepper<'_, O, S> {
    #[inline(always)]
    fn step(&mut self, off: usize, grad: &[f32]) {
        match &mut self.batch {
            None => self.finite &= self.store.update(self.opt, off, grad, self.scale),
            Some(b) => {
                b.spans.push((off, b.values.len(), grad.len()));
                b.values.extend_from_slice(grad);
            }
        }
    }
    #[inline(always)]
    fn step_rows<const OUT: usize>(&mut self, off: usize, pairs: &[(u32, f32)], dy: &[f32; OUT]) {
        match &mut self.batch {
            None => self.finite &= self.store.update_rows(self.opt, off, pairs, dy, self.scale),
            Some(_) => {
                for &(i, v) in pairs {
                    let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
                    self.step(off + i as usize * OUT, &g);
                }
            }
        }
    }
}

/// Applies a mini-batch's recorded gradients as one averaged step: the gradients of each
/// weight are summed, whatever spans recorded them, divided by the batch size, and each
/// run of consecutive weights takes one optimizer step. Returns whether the state the
/// steps wrote is all finite.
pub(crate) fn apply_batch<O: Optimizer, S: Store>(
    opt: &O,
    store: &mut S,
    batch: &mut Batch,
    size: usize,
    scale: f32,
) -> bool {
    let Batch {
        spans,
        values,
        items,
        run,
    } = batch;
    items.clear();
    for &(off, start, len) in spans.iter() {
        items.extend((0..len).map(|k| (off + k, values[start + k])));
    }
    items.sort_unstable_by_key(|&(i, _)| i);
    let inv = 1.0 / size as f32;
    let (mut i, mut finite) = (0, true);
    while i < items.len() {
        let first = items[i].0;
        run.clear();
        while let Some(&(idx, g)) = items.get(i) {
            if idx == first + run.len() {
                run.push(g * inv);
            } else if idx + 1 == first + run.len() {
                *run.last_mut().expect("a run has an entry") += g * inv;
            } else {
                break;
            }
            i += 1;
        }
        finite &= store.update(opt, first, run, scale);
    }
    spans.clear();
    values.clear();
    finite
}

/// A thread's mini-batch buffers, reused from batch to batch.
#[derive(Default)]
pub(crate) struct Batch {
    /// `(offset, start in values, len)` of each recorded gradient.
    spans: Vec<(usize, usize, usize)>,
    values: Vec<f32>,
    items: Vec<(usize, f32)>,
    run: Vec<f32>,
}
