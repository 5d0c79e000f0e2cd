//! Parameter access: how kernels read weights and hand back gradients.
//!
//! A net keeps all its parameters in one flat `Vec<f32>` with per-layer offsets. Kernels
//! never index it directly; they go through [`Params`] (reads) and [`Learn`] (gradients),
//! so the same layer code runs
//! - on a plain `[f32]`, exclusively owned: SIMD kernels, used for prediction and
//!   single-thread training;
//! - on a shared `[AtomicF32]`: Hogwild threads load and store each weight with Relaxed
//!   atomics, which compile to plain moves on x86-64 and ARM64 but are free of data
//!   races, so lock-free updates are sound (no aliased `&mut`, no undefined behaviour).

use crate::kernels;
use std::sync::atomic::{AtomicU32, Ordering};

/// An `f32` stored as its bits in an [`AtomicU32`].
#[repr(transparent)]
#[derive(Debug, Default)]
pub struct AtomicF32(AtomicU32);

impl AtomicF32 {
    /// A new atomic float.
    pub fn new(v: f32) -> AtomicF32 {
        AtomicF32(AtomicU32::new(v.to_bits()))
    }
    /// Relaxed load.
    #[inline(always)]
    pub fn load(&self) -> f32 {
        f32::from_bits(self.0.load(Ordering::Relaxed))
    }
    /// Relaxed store.
    #[inline(always)]
    pub fn store(&self, v: f32) {
        self.0.store(v.to_bits(), Ordering::Relaxed)
    }
}

const _: () = assert!(
    std::mem::size_of::<AtomicF32>() == std::mem::size_of::<f32>()
        && std::mem::align_of::<AtomicF32>() == std::mem::align_of::<f32>()
);

/// Views an exclusively borrowed float slice as shared atomics, for Hogwild threads.
///
/// ```
/// let mut w = vec![1.0f32, 2.0];
/// let shared = vectorflow::params::as_atomic(&mut w);
/// shared[0].store(3.0);
/// assert_eq!(shared[0].load(), 3.0);
/// assert_eq!(w, [3.0, 2.0]);
/// ```
pub fn as_atomic(w: &mut [f32]) -> &[AtomicF32] {
    // SAFETY: AtomicF32 is a transparent AtomicU32, which has the same size and bit
    // validity as u32 (hence f32), and the same alignment as f32 (checked at compile time
    // above). The exclusive borrow guarantees no non-atomic access to these floats while
    // the returned shared borrow lives, so every access in that time is atomic.
    unsafe { std::slice::from_raw_parts(w.as_mut_ptr().cast::<AtomicF32>(), w.len()) }
}

const _: () =
    assert!(std::mem::align_of::<std::sync::atomic::AtomicU32>() == std::mem::align_of::<u32>());

/// Views an exclusively borrowed `u32` slice as shared atomics.
pub fn as_atomic_u32(v: &mut [u32]) -> &[std::sync::atomic::AtomicU32] {
    // SAFETY: AtomicU32 has the same size and bit validity as u32 (documented in std) and,
    // on this target, the same alignment (checked at compile time above); the exclusive borrow guarantees every access while the shared borrow
    // lives goes through the atomics.
    unsafe { std::slice::from_raw_parts(v.as_mut_ptr().cast(), v.len()) }
}

/// Read access to a net's flat parameter buffer.
pub trait Params {
    /// The parameter at `i`.
    fn get(&self, i: usize) -> f32;

    /// `N` consecutive parameters from `off`.
    #[inline(always)]
    fn row<const N: usize>(&self, off: usize) -> [f32; N] {
        let mut r = [0.0; N];
        loops::read(self, off, &mut r);
        r
    }

    /// `y += W x`, where `W` is the `OUT × IN` row-major matrix at `off`.
    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        loops::matvec(self, off, x, y)
    }

    /// A hint that the rows `W[i]` of `pairs` (see [`Params::gather`]) are about to be
    /// read and updated; nothing by default.
    #[inline(always)]
    fn prefetch_rows<const OUT: usize>(&self, _off: usize, _pairs: &[(u32, f32)]) {}

    /// `y += Σ v · W[i]` over `(i, v)` in `pairs`, where `W[i]` is the row of `OUT`
    /// parameters at `off + i * OUT`.
    #[inline]
    fn gather<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        loops::gather(self, off, pairs, y)
    }

    /// [`Params::prefetch_rows`] for rows of `out` parameters, a width known at run
    /// time; nothing by default.
    #[inline(always)]
    fn prefetch_rows_dyn(&self, _off: usize, _out: usize, _pairs: &[(u32, f32)]) {}

    /// [`Params::gather`] for rows of `y.len()` parameters, a width known at run time:
    /// by default through [`Params::get`], one parameter at a time.
    #[inline]
    fn gather_dyn(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        loops::gather(self, off, pairs, y)
    }
}

/// `y += Σ v · row i` over `(i, v)` in `pairs`, row `i` being `y.len()` floats at `i ·
/// by` of `w`, read by `load`.
#[inline(always)]
pub(crate) fn gather_rows<T>(
    w: &[T],
    by: usize,
    pairs: &[(u32, f32)],
    y: &mut [f32],
    load: impl Fn(&T) -> f32,
) {
    let n = y.len();
    for &(i, v) in pairs {
        let at = i as usize * by;
        for (y, x) in y.iter_mut().zip(&w[at..at + n]) {
            *y += v * load(x);
        }
    }
}

impl Params for [f32] {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self[i]
    }
    #[inline(always)]
    fn row<const N: usize>(&self, off: usize) -> [f32; N] {
        let r: &[f32; N] = self[off..off + N].try_into().expect("row in bounds");
        *r
    }
    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        kernels::matvec::<IN, OUT>(&self[off..off + IN * OUT], x, y)
    }
    #[inline]
    fn gather<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        kernels::gather::<OUT>(&self[off..], pairs, y)
    }
    #[inline]
    fn gather_dyn(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        gather_rows(&self[off..], y.len(), pairs, y, |x| *x)
    }
}

impl AtomicF32 {
    /// Relaxed loads of a row of `N` floats, into an array the arithmetic can vectorise
    /// (one bounds check for the row, not one per float).
    #[inline(always)]
    pub(crate) fn load_row<const N: usize>(row: &[AtomicF32]) -> [f32; N] {
        let row: &[AtomicF32; N] = row.try_into().expect("row in bounds");
        let mut out = [0.0f32; N];
        for k in 0..N {
            out[k] = row[k].load();
        }
        out
    }

    /// Relaxed stores of a row of `N` floats.
    #[inline(always)]
    pub(crate) fn store_row<const N: usize>(row: &[AtomicF32], x: &[f32; N]) {
        let row: &[AtomicF32; N] = row.try_into().expect("row in bounds");
        for k in 0..N {
            row[k].store(x[k]);
        }
    }
}

impl Params for [AtomicF32] {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self[i].load()
    }
    #[inline(always)]
    fn row<const N: usize>(&self, off: usize) -> [f32; N] {
        AtomicF32::load_row(&self[off..off + N])
    }
    #[inline]
    fn gather<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        // Two accumulators, so consecutive rows' multiply-adds do not wait on each other.
        let mut acc = [*y, [0.0f32; OUT]];
        for (k, &(i, v)) in pairs.iter().enumerate() {
            let r = self.row::<OUT>(off + i as usize * OUT);
            let a = &mut acc[k & 1];
            for o in 0..OUT {
                a[o] += v * r[o];
            }
        }
        for o in 0..OUT {
            y[o] = acc[0][o] + acc[1][o];
        }
    }
    #[inline]
    fn gather_dyn(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        gather_rows(&self[off..], y.len(), pairs, y, AtomicF32::load)
    }
}

/// Receives gradients from a backward pass.
///
/// A layer computes everything it needs from its weights (the gradient of its input)
/// before it hands over the gradient of its weights, so an implementation may apply an
/// optimizer step at once: that is how per-row SGD runs without a gradient buffer.
pub trait Learn: Params {
    /// The gradient of the loss with respect to the parameters `off..off + grad.len()`.
    fn step(&mut self, off: usize, grad: &[f32]);

    /// The gradient of a sparse input's rows: for each `(i, v)` in `pairs`, the row of
    /// `OUT` parameters at `off + i·OUT` gets `v · dy`. One call per row of data, so a
    /// trainer can run the whole update in one tight loop.
    #[inline]
    fn step_rows<const OUT: usize>(&mut self, off: usize, pairs: &[(u32, f32)], dy: &[f32; OUT]) {
        loops::step_rows(self, off, pairs, dy, &mut [0.0; OUT])
    }
}

/// A [`Learn`] that sums gradients into a dense buffer: for gradient checks and
/// mini-batches over small nets.
///
/// ```
/// use vectorflow::params::{Accumulate, Learn, Params};
/// let w = [1.0f32, 2.0, 3.0];
/// let mut acc = Accumulate::new(&w);
/// acc.step(1, &[0.5, 0.25]);
/// acc.step(1, &[0.5, 0.0]);
/// assert_eq!(acc.grad, [0.0, 1.0, 0.25]);
/// assert_eq!(acc.get(2), 3.0);
/// ```
#[derive(Clone, Debug)]
pub struct Accumulate<'a> {
    /// The weights read by the forward and backward passes.
    pub weights: &'a [f32],
    /// The summed gradient, one entry per weight.
    pub grad: Vec<f32>,
}

impl<'a> Accumulate<'a> {
    /// A zero gradient for `weights`.
    pub fn new(weights: &'a [f32]) -> Accumulate<'a> {
        Accumulate {
            weights,
            grad: vec![0.0; weights.len()],
        }
    }
}

impl Params for Accumulate<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self.weights[i]
    }
    #[inline]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        self.weights.matvec(off, x, y)
    }
    #[inline]
    fn gather<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        self.weights.gather(off, pairs, y)
    }
}

impl Learn for Accumulate<'_> {
    fn step(&mut self, off: usize, grad: &[f32]) {
        for (g, d) in self.grad[off..off + grad.len()].iter_mut().zip(grad) {
            *g += d;
        }
    }
}

/// The plain loops: any width, through [`Params::get`] and [`Learn::step`]. They are the
/// defaults of [`Params`] and [`Learn`] for stores without a kernel of their own, and the
/// kernels of the layers at run-time widths (`layers::dim`).
pub(crate) mod loops {
    use super::{Learn, Params};

    /// `out = p[off..off + out.len()]`.
    #[inline(always)]
    pub fn read<P: Params + ?Sized>(p: &P, off: usize, out: &mut [f32]) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = p.get(off + k);
        }
    }

    /// `y += W x` for the `y.len() × x.len()` row-major matrix at `off`.
    #[inline(always)]
    pub fn matvec<P: Params + ?Sized>(p: &P, off: usize, x: &[f32], y: &mut [f32]) {
        for (o, yo) in y.iter_mut().enumerate() {
            let row = off + o * x.len();
            *yo += x
                .iter()
                .enumerate()
                .map(|(j, xj)| p.get(row + j) * xj)
                .sum::<f32>();
        }
    }

    /// `y += Σ v · W[i]`, `W[i]` the `y.len()` parameters at `off + i · y.len()`.
    #[inline(always)]
    pub fn gather<P: Params + ?Sized>(p: &P, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        let n = y.len();
        for &(i, v) in pairs {
            let row = off + i as usize * n;
            for (k, yk) in y.iter_mut().enumerate() {
                *yk += v * p.get(row + k);
            }
        }
    }

    /// For each `(i, v)` in `pairs`, the gradient `v · dy` of the row at `off + i ·
    /// dy.len()`, through `grad` (of `dy`'s length).
    #[inline(always)]
    pub fn step_rows<L: Learn + ?Sized>(
        l: &mut L,
        off: usize,
        pairs: &[(u32, f32)],
        dy: &[f32],
        grad: &mut [f32],
    ) {
        for &(i, v) in pairs {
            for (g, d) in grad.iter_mut().zip(dy) {
                *g = v * d;
            }
            l.step(off + i as usize * dy.len(), grad);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_a_run_time_width_gather_as_the_plain_loop_does() {
        for n in [3, 24, 300] {
            let mut w: Vec<f32> = (0..10 * n + 7)
                .map(|i| (i % 13) as f32 * 0.25 - 1.0)
                .collect();
            let pairs = [(0u32, 0.5f32), (9, -2.0), (4, 1.5), (9, 0.25)];
            let (off, start) = (7, vec![0.125f32; n]);
            let mut want = start.clone();
            loops::gather(&w[..], off, &pairs, &mut want);
            let mut plain = start.clone();
            w[..].gather_dyn(off, &pairs, &mut plain);
            let mut atomic = start.clone();
            as_atomic(&mut w).gather_dyn(off, &pairs, &mut atomic);
            assert_eq!(plain, want, "width {n}");
            assert_eq!(atomic, want, "width {n}");
        }
    }

    #[test]
    fn atomic_view_reads_and_writes_through() {
        let mut w = vec![0.5f32; 8];
        {
            let a = as_atomic(&mut w);
            assert_eq!(Params::get(a, 3), 0.5);
            a[3].store(-2.0);
            let r: [f32; 4] = a.row(2);
            assert_eq!(r, [0.5, -2.0, 0.5, 0.5]);
        }
        assert_eq!(w[3], -2.0);
    }

    #[test]
    fn atomic_and_plain_kernels_agree() {
        let mut w: Vec<f32> = (0..48).map(|i| (i as f32 * 0.37).sin()).collect();
        let x: [f32; 6] = std::array::from_fn(|i| i as f32 - 2.5);
        let pairs = [(0u32, 0.5f32), (5, -1.0), (2, 2.0)];
        let (mut y1, mut y2) = ([0.0f32; 8], [0.0f32; 8]);
        w.as_slice().matvec::<6, 8>(0, &x, &mut y1);
        w.as_slice().gather::<8>(0, &pairs, &mut y1);
        let a = as_atomic(&mut w);
        a.matvec::<6, 8>(0, &x, &mut y2);
        a.gather::<8>(0, &pairs, &mut y2);
        for (p, q) in y1.iter().zip(&y2) {
            assert!((p - q).abs() < 1e-5, "{p} vs {q}");
        }
    }
}
