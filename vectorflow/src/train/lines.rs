//! The buffer of a packed table: rows that start on cache lines, on huge pages.
//!
//! A `Vec<f32>` from the system allocator starts 16 bytes past a page (the allocator's
//! header), so a packed row of 32 floats (16 weights, 16 AdaGrad accumulators) spans
//! three cache lines instead of two. [`Lines`] starts its floats on a 64-byte boundary.
//!
//! Training reads rows of a table of tens of megabytes at random: with 4 KiB pages
//! nearly every row also misses the TLB, and making a replica's copy of the table
//! faults in every page one by one. On Linux, a buffer of at least [`HUGE`] bytes asks
//! the kernel for transparent huge pages (`madvise(MADV_HUGEPAGE)`, a hint that never
//! changes the contents; where the kernel has them off, nothing changes).

use std::ops::{Deref, DerefMut};

/// A cache line, in bytes.
const LINE: usize = 64;

/// The size of a huge page (x86-64 and most arm64 kernels), below which asking is moot.
pub(crate) const HUGE: usize = 2 << 20;

/// A zeroed buffer of floats whose first float starts a cache line.
pub(crate) struct Lines {
    /// The allocation: `start` floats of padding, then the floats.
    buf: Vec<f32>,
    /// Where the floats begin in `buf`.
    start: usize,
}

impl Lines {
    /// `len` zeros.
    pub fn zeros(len: usize) -> Lines {
        // Room for the padding up to the first line, so the resize never reallocates.
        let mut buf = Vec::with_capacity(len + LINE / 4 - 1);
        advise_huge(&mut buf);
        let addr = buf.as_ptr().addr();
        // `addr` is a multiple of 4 (an f32's alignment), so the padding is whole floats.
        let start = (addr.next_multiple_of(LINE) - addr) / 4;
        buf.resize(start + len, 0.0);
        Lines { buf, start }
    }

    /// A copy of `data`, itself aligned.
    pub fn copy_of(data: &[f32]) -> Lines {
        let mut l = Lines::zeros(data.len());
        l.copy_from_slice(data);
        l
    }
}

impl Deref for Lines {
    type Target = [f32];

    #[inline(always)]
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..]
    }
}

impl DerefMut for Lines {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[self.start..]
    }
}

impl Clone for Lines {
    /// An aligned copy (the padding of the copy's own allocation may differ).
    fn clone(&self) -> Lines {
        Lines::copy_of(self)
    }
}

impl PartialEq for Lines {
    fn eq(&self, other: &Lines) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for Lines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

/// Asks for huge pages over the whole pages of `buf`'s capacity, if it spans at least
/// [`HUGE`] bytes, before anything is written there (pages already touched stay small).
/// Whether the kernel took the advice; callers need not care, as it is a hint.
fn advise_huge(buf: &mut Vec<f32>) -> bool {
    let bytes = buf.capacity() * 4;
    if bytes < HUGE {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let ptr = buf.as_mut_ptr().cast::<u8>();
        let addr = ptr.addr();
        let (first, end) = (addr.next_multiple_of(PAGE), (addr + bytes) & !(PAGE - 1));
        // SAFETY: `first..end` lies inside the allocation `buf` owns (`ptr` plus its
        // capacity in bytes) and is page-aligned, as madvise requires. MADV_HUGEPAGE
        // only changes how the kernel backs those pages, never their contents or whether
        // they are mapped, and no Rust reference into them exists yet. A kernel without
        // transparent huge pages refuses, leaving the pages as they were.
        end > first
            && unsafe {
                libc::madvise(
                    ptr.wrapping_add(first - addr).cast(),
                    end - first,
                    libc::MADV_HUGEPAGE,
                )
            } == 0
    }
    #[cfg(not(target_os = "linux"))]
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_start_on_cache_lines_and_copies_are_exact() {
        // Small (no advice) and large (advised) buffers, several times each so some
        // allocation lands off a line.
        for len in [1, 15, 17, 1000, HUGE / 4 + 3, 3 * HUGE / 4] {
            let mut a = Lines::zeros(len);
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

    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernel_takes_the_advice_where_it_has_huge_pages() {
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
        let on = thp.is_ok_and(|s| !s.contains("[never]"));
        let mut big: Vec<f32> = Vec::with_capacity(HUGE);
        assert_eq!(
            advise_huge(&mut big),
            on,
            "{}",
            std::io::Error::last_os_error()
        );
        let mut small: Vec<f32> = Vec::with_capacity(1000);
        assert!(
            !advise_huge(&mut small),
            "a small buffer is not worth a huge page"
        );
    }
}
