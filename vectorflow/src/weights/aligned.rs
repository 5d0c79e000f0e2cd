//! The buffer of a packed table: rows that start on cache lines, and the unit of a
//! cache line that merges count in.
//!
//! A `Vec<f32>` from the system allocator starts 16 bytes past a page (the allocator's
//! header), so a packed row of 32 floats (16 weights, 16 AdaGrad accumulators) spans
//! three cache lines instead of two, and a row of 16 two instead of one. [`Aligned`]
//! starts its floats on a 64-byte boundary (measured: the 16-unit net trains 1.5×
//! faster on one thread).
//!
//! Transparent huge pages (`madvise(MADV_HUGEPAGE)` on these buffers) were measured
//! too and left out: one thread trained no faster beyond noise, and on this virtual
//! machine the kernel's zeroing of fresh huge pages made a two-thread fit of 2,000 rows
//! (its time is packing and the replicas' copies) take 0.2 to 1.3 s instead of 0.3 s.

use std::ops::{Deref, DerefMut};

/// A cache line, in bytes.
const LINE: usize = 64;

/// Floats per cache line: the unit in which replicas mark what they touched and merge
/// (see `crate::train`'s replica store), and to which a row-wise table's row states are
/// aligned.
pub(crate) const UNIT: usize = LINE / 4;

/// A zeroed buffer of floats whose first float starts a cache line.
pub(crate) struct Aligned {
    /// The allocation: `start` floats of padding, then the floats.
    buf: Vec<f32>,
    /// Where the floats begin in `buf`.
    start: usize,
}

impl Aligned {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Aligned {
        let mut l = Aligned::padded(len);
        l.buf.resize(l.start + len, 0.0);
        l
    }

    /// Makes it `len` floats long: the first `min(len, self.len())` are kept, the rest
    /// are zeros. The allocation grows or shrinks where it is when it can (a large block
    /// is remapped, not copied); if the allocator moves it to an address of another
    /// alignment, the floats are moved to the new first line.
    pub fn resize(&mut self, len: usize) {
        let keep = len.min(self.len());
        // Room for the padding, so that realigning never reallocates.
        let room = len + LINE / 4 - 1;
        if room > self.buf.capacity() {
            self.buf.reserve_exact(room - self.buf.len());
        } else {
            self.buf.truncate(self.start + keep);
            self.buf.shrink_to(room.max(self.buf.len()));
        }
        let addr = self.buf.as_ptr().addr();
        let start = (addr.next_multiple_of(LINE) - addr) / 4;
        if start != self.start {
            let need = start.max(self.start) + keep;
            if self.buf.len() < need {
                self.buf.resize(need, 0.0);
            }
            self.buf.copy_within(self.start..self.start + keep, start);
            self.start = start;
        }
        self.buf.truncate(self.start + keep);
        self.buf.resize(self.start + len, 0.0);
    }

    /// Room for `len` floats after the padding, which is all `buf` holds yet.
    fn padded(len: usize) -> Aligned {
        // Room for the padding up to the first line, so filling never reallocates.
        let mut buf: Vec<f32> = Vec::with_capacity(len + LINE / 4 - 1);
        let addr = buf.as_ptr().addr();
        // `addr` is a multiple of 4 (an f32's alignment), so the padding is whole floats.
        let start = (addr.next_multiple_of(LINE) - addr) / 4;
        buf.resize(start, 0.0);
        Aligned { buf, start }
    }
}

impl Deref for Aligned {
    type Target = [f32];

    #[inline(always)]
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..]
    }
}

impl DerefMut for Aligned {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..]
    }
}

impl Clone for Aligned {
    /// An aligned copy (the padding of the copy's own allocation may differ), written
    /// once: a replica's copy of a 128 MB table is not zeroed first.
    fn clone(&self) -> Aligned {
        let mut l = Aligned::padded(self.len());
        l.buf.extend_from_slice(self);
        l
    }
}

impl PartialEq for Aligned {
    fn eq(&self, other: &Aligned) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Aligned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_start_on_cache_lines_and_copies_are_exact() {
        // Small buffers (from the allocator's pools) and large ones (their own pages,
        // 16 bytes past a page boundary).
        for len in [1, 15, 17, 1000, 1 << 20, 3 << 20] {
            let mut a = Aligned::zeros(len);
            assert_eq!(a.len(), len);
            assert_eq!(a.as_ptr().addr() % LINE, 0, "len {len}");
            assert!(a.iter().all(|&x| x == 0.0));
            for (i, x) in a.iter_mut().enumerate() {
                *x = i as f32;
            }
            let b = a.clone();
            assert_eq!(b.as_ptr().addr() % LINE, 0);
            assert_eq!(b, a);
            assert_eq!(b[len - 1], (len - 1) as f32);
        }
    }

    #[test]
    fn resizing_keeps_the_floats_on_a_line() {
        for (from, to) in [(5, 3000), (3000, 7), (1 << 20, 3 << 20), (3 << 20, 1 << 19)] {
            let mut a = Aligned::zeros(from);
            for (i, x) in a.iter_mut().enumerate() {
                *x = i as f32 + 1.0;
            }
            a.resize(to);
            assert_eq!(a.len(), to);
            assert_eq!(a.as_ptr().addr() % LINE, 0, "{from} -> {to}");
            for (i, &x) in a.iter().enumerate() {
                let want = if i < from { i as f32 + 1.0 } else { 0.0 };
                assert_eq!(x, want, "float {i} of {from} -> {to}");
            }
        }
    }
}
