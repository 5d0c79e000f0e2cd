//! Where training threads read weights and apply optimizer steps: every buffer a fit
//! trains, and the stores over them, one interface ([`Store`]):
//!
//! - [`plain::Plain`]: `&mut` slices of the net's buffers, owned by one thread;
//! - [`shared::Shared`]: `&[AtomicF32]` views of them, shared by Hogwild threads;
//! - [`packed::Packed`]: the sparse tables in the training layout (each row beside its
//!   optimizer state, on cache lines: `crate::weights`) plus a `Plain` for the rest;
//! - [`replica::Tracked`]: a `Packed` over one thread's replica that also records which
//!   units it touched, for the merges ([`merge`]).
//!
//! The backward pass hands its gradients to a [`Stepper`], which steps a store at once
//! or records a mini-batch for [`apply_batch`].

pub(crate) mod merge;
pub(crate) mod packed;
pub(crate) mod plain;
pub(crate) mod replica;
pub(crate) mod rule;
pub(crate) mod shared;

pub(crate) use merge::Master;
pub(crate) use packed::Packed;
pub(crate) use plain::Plain;
pub(crate) use replica::Replicas;
pub(crate) use shared::Shared;

use crate::kernels;
use crate::optim::Optimizer;
use crate::params::{Learn, Params};

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
        update_each_row(self, opt, off, pairs, dy, scale)
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

/// [`Store::update_rows`] as one [`Store::update`] per row: row `i` at `off + i·OUT`
/// gets `v · dy`; whether the state the steps wrote is all finite. The default, and
/// what a store falls back to for rows it does not lay out itself.
#[inline(always)]
pub(crate) fn update_each_row<S: Store + ?Sized, O: Optimizer, const OUT: usize>(
    store: &mut S,
    opt: &O,
    off: usize,
    pairs: &[(u32, f32)],
    dy: &[f32; OUT],
    scale: f32,
) -> bool {
    let mut finite = true;
    for &(i, v) in pairs {
        let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
        finite &= store.update(opt, off + i as usize * OUT, &g, scale);
    }
    finite
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

/// Whether every state float of `s` is finite: [`all_finite`] over states.
#[inline(always)]
pub(crate) fn states_finite<S: AsRef<[f32]>>(s: &[S]) -> bool {
    const EXP: u32 = 0x7f80_0000;
    let top = s.iter().fold(0u32, |top, s| {
        s.as_ref()
            .iter()
            .fold(top, |top, x| top.max(x.to_bits() & EXP))
    });
    top != EXP
}

/// Weights a store steps at once from local arrays when they are not a sparse row: a
/// run of dense weights goes in blocks of this many.
pub(crate) const BLOCK: usize = 16;

/// One optimizer step on the local copies of `n ≤ N` weights `w`, their states `s` and
/// their gradient `g`; whether the states it wrote are all finite.
///
/// Every store loads a row's weights and states into arrays of its own and steps them
/// here, whatever the optimizer's number of state floats: arrays on the stack alias
/// nothing, so LLVM vectorises the loop (sqrt and division included), and it reads
/// back the states it wrote while they are still in L1, a check of the touched floats
/// only (see `step.rs` for what it costs).
#[inline(always)]
pub(crate) fn step_local<O: Optimizer, const N: usize>(
    opt: O,
    w: &mut [f32; N],
    s: &mut [O::State; N],
    g: &[f32; N],
    n: usize,
    scale: f32,
) -> bool {
    let n = n.min(N);
    for k in 0..n {
        w[k] = opt.update(w[k], &mut s[k], g[k], scale);
    }
    states_finite(&s[..n])
}

/// One optimizer step on a row of `OUT` weights `w` whose states follow it in `planes`,
/// state `j` of weight `k` at `OUT·j + k` (the packed layout), with gradient `g`;
/// whether the states it wrote are all finite.
///
/// In place: the states are read and written at offsets LLVM sees apart, in one slice
/// apart from `w`, so the loop vectorises for any number of state floats (a local copy
/// as an array of states, `[O::State; OUT]`, made Adam's rows 1.26× slower).
#[inline(always)]
pub(crate) fn step_planes<O: Optimizer, const OUT: usize>(
    opt: O,
    w: &mut [f32; OUT],
    planes: &mut [f32],
    g: &[f32; OUT],
    scale: f32,
) -> bool {
    let planes = &mut planes[..OUT * O::STATE];
    for k in 0..OUT {
        let mut s = O::State::default();
        for j in 0..O::STATE {
            s.as_mut()[j] = planes[OUT * j + k];
        }
        w[k] = opt.update(w[k], &mut s, g[k], scale);
        for j in 0..O::STATE {
            planes[OUT * j + k] = s.as_ref()[j];
        }
    }
    all_finite(planes)
}

/// Prefetches the rows of `pairs` in `w` and in the state planes `s`.
#[inline(always)]
pub(crate) fn prefetch_rows<O: Optimizer, T, const OUT: usize>(
    w: &[T],
    s: &[impl AsRef<[T]>],
    off: usize,
    pairs: &[(u32, f32)],
) {
    for &(i, _) in pairs {
        let o = off + i as usize * OUT;
        kernels::prefetch_at(w, o, OUT);
        for plane in s.iter().take(O::STATE) {
            kernels::prefetch_at(plane.as_ref(), o, OUT);
        }
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
    fn gather_dyn(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        self.store.view().gather_dyn(off, pairs, y)
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
