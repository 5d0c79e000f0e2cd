//! A width known at compile time ([`Const`]) or only at run time (`usize`), as dfdx's
//! `Dim` lets a tensor's shape be either: each layer's forward and backward passes are
//! written once over [`Dim`]s, and serve both the `network!` nets (const widths) and the
//! nets built at run time (a common width turned into a const, any other a `usize`).
//!
//! What a width changes is only the kernels below a layer: a const width runs the
//! const-width kernels of [`Params`] and [`Learn`] (SIMD, unrolled, the trainers' fast
//! paths), a run-time width the plain loops of [`crate::params::loops`], over the same
//! sums in the same order.

use crate::params::{loops, Learn, Params};

/// A width: a [`Const`] or a `usize`.
pub(crate) trait Dim: Copy {
    /// Scratch of this width: an array on the stack, or a vector.
    type Buf: AsRef<[f32]> + AsMut<[f32]>;

    /// The width.
    fn size(self) -> usize;

    /// `self` zeros.
    fn zeros(self) -> Self::Buf;

    /// `out = p[off..off + self]`.
    fn read<P: Params + ?Sized>(self, p: &P, off: usize, out: &mut [f32]);

    /// `y += W x` for the `o × self` row-major matrix `W` at `off`.
    fn matvec<O: Dim, P: Params + ?Sized>(self, o: O, p: &P, off: usize, x: &[f32], y: &mut [f32]);

    /// [`Dim::matvec`] for an input width already made a const: `self` is the output's.
    fn matvec_from<const IN: usize, P: Params + ?Sized>(
        self,
        p: &P,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32],
    );

    /// A hint that the rows of `self` parameters that `pairs` name are about to be used.
    fn prefetch_rows<P: Params + ?Sized>(self, p: &P, off: usize, pairs: &[(u32, f32)]);

    /// `y += Σ v · W[i]` over `(i, v)` in `pairs`, `W[i]` the `self` parameters at
    /// `off + i · self`.
    fn gather<P: Params + ?Sized>(self, p: &P, off: usize, pairs: &[(u32, f32)], y: &mut [f32]);

    /// For each `(i, v)` in `pairs`, the gradient `v · dy` of the row `W[i]`.
    fn step_rows<L: Learn + ?Sized>(self, l: &mut L, off: usize, pairs: &[(u32, f32)], dy: &[f32]);
}

/// A width known at compile time.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Const<const N: usize>;

/// `v` as an array of the width it was built with.
#[inline(always)]
pub(crate) fn arr<const N: usize>(v: &[f32]) -> &[f32; N] {
    v.try_into().expect("widths checked when the net was built")
}

/// `v` as a mutable array of the width it was built with.
#[inline(always)]
pub(crate) fn arr_mut<const N: usize>(v: &mut [f32]) -> &mut [f32; N] {
    v.try_into().expect("widths checked when the net was built")
}

impl<const N: usize> Dim for Const<N> {
    type Buf = [f32; N];

    #[inline(always)]
    fn size(self) -> usize {
        N
    }

    #[inline(always)]
    fn zeros(self) -> [f32; N] {
        [0.0; N]
    }

    #[inline(always)]
    fn read<P: Params + ?Sized>(self, p: &P, off: usize, out: &mut [f32]) {
        *arr_mut::<N>(out) = p.row::<N>(off);
    }

    #[inline(always)]
    fn matvec<O: Dim, P: Params + ?Sized>(self, o: O, p: &P, off: usize, x: &[f32], y: &mut [f32]) {
        o.matvec_from::<N, P>(p, off, arr(x), y)
    }

    #[inline(always)]
    fn matvec_from<const IN: usize, P: Params + ?Sized>(
        self,
        p: &P,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32],
    ) {
        p.matvec::<IN, N>(off, x, arr_mut(y))
    }

    #[inline(always)]
    fn prefetch_rows<P: Params + ?Sized>(self, p: &P, off: usize, pairs: &[(u32, f32)]) {
        p.prefetch_rows::<N>(off, pairs)
    }

    #[inline(always)]
    fn gather<P: Params + ?Sized>(self, p: &P, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        p.gather::<N>(off, pairs, arr_mut(y))
    }

    #[inline(always)]
    fn step_rows<L: Learn + ?Sized>(self, l: &mut L, off: usize, pairs: &[(u32, f32)], dy: &[f32]) {
        l.step_rows::<N>(off, pairs, arr(dy))
    }
}

/// The widest scratch a run-time width keeps on the stack: wider than any hidden layer
/// or output of a shallow net in practice.
const INLINE: usize = 256;

/// Scratch of a run-time width: on the stack up to [`INLINE`] floats, else on the heap.
/// A layer's backward pass takes one per row, and an allocation per row cost nets of
/// widths off the dispatch list ([`Const`]) time.
// The large stack variant is the point: it lives on the stack for one call.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Scratch {
    Stack([f32; INLINE], usize),
    Heap(Vec<f32>),
}

impl Scratch {
    /// `n` zeros.
    #[inline(always)]
    fn zeros(n: usize) -> Scratch {
        if n <= INLINE {
            Scratch::Stack([0.0; INLINE], n)
        } else {
            Scratch::Heap(vec![0.0; n])
        }
    }
}

impl AsRef<[f32]> for Scratch {
    #[inline(always)]
    fn as_ref(&self) -> &[f32] {
        match self {
            Scratch::Stack(a, n) => &a[..*n],
            Scratch::Heap(v) => v,
        }
    }
}

impl AsMut<[f32]> for Scratch {
    #[inline(always)]
    fn as_mut(&mut self) -> &mut [f32] {
        match self {
            Scratch::Stack(a, n) => &mut a[..*n],
            Scratch::Heap(v) => v,
        }
    }
}

impl Dim for usize {
    type Buf = Scratch;

    #[inline(always)]
    fn size(self) -> usize {
        self
    }

    #[inline(always)]
    fn zeros(self) -> Scratch {
        Scratch::zeros(self)
    }

    #[inline]
    fn read<P: Params + ?Sized>(self, p: &P, off: usize, out: &mut [f32]) {
        loops::read(p, off, &mut out[..self])
    }

    #[inline]
    fn matvec<O: Dim, P: Params + ?Sized>(self, o: O, p: &P, off: usize, x: &[f32], y: &mut [f32]) {
        loops::matvec(p, off, &x[..self], &mut y[..o.size()])
    }

    #[inline]
    fn matvec_from<const IN: usize, P: Params + ?Sized>(
        self,
        p: &P,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32],
    ) {
        loops::matvec(p, off, x, &mut y[..self])
    }

    #[inline(always)]
    fn prefetch_rows<P: Params + ?Sized>(self, p: &P, off: usize, pairs: &[(u32, f32)]) {
        p.prefetch_rows_dyn(off, self, pairs)
    }

    #[inline]
    fn gather<P: Params + ?Sized>(self, p: &P, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        p.gather_dyn(off, pairs, &mut y[..self])
    }

    #[inline]
    fn step_rows<L: Learn + ?Sized>(self, l: &mut L, off: usize, pairs: &[(u32, f32)], dy: &[f32]) {
        loops::step_rows(l, off, pairs, &dy[..self], self.zeros().as_mut())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_time_scratch_is_zeros_of_its_width_on_the_stack_or_the_heap() {
        for n in [1, 24, INLINE, INLINE + 1, 1000] {
            let mut s = n.zeros();
            assert!(
                matches!(s, Scratch::Stack(..)) == (n <= INLINE),
                "width {n}"
            );
            assert_eq!(s.as_ref(), vec![0.0; n], "width {n}");
            s.as_mut()[n - 1] = 1.0;
            assert_eq!(s.as_ref()[n - 1], 1.0);
        }
    }
}
