//! Compute kernels on const widths, compiled for several CPU levels and chosen once at
//! run time.
//!
//! Each kernel body is one generic `#[inline(always)]` function written with lane-array
//! accumulators so LLVM vectorises it; `dispatch` compiles it with `#[target_feature]`
//! for AVX2+FMA and AVX-512 on x86-64 (the trainer's per-row loop too). [`level`]
//! detects the best level once; the `*_at` functions run a given level (for benchmarks
//! and tests).

mod dense;
mod dispatch;
mod sparse;

pub(crate) use dispatch::{dispatch, dispatch_at, PerLevel, Supported};

use std::sync::atomic::{AtomicU8, Ordering};

/// A CPU feature level the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The build target's baseline (SSE2 on x86-64, NEON on ARM64): always available.
    Baseline,
    /// AVX2 with fused multiply-add.
    Avx2Fma,
    /// AVX-512 (F) with fused multiply-add.
    Avx512,
}

impl Level {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Avx2Fma => "avx2+fma",
            Level::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run kernels of this level.
    pub fn supported(self) -> bool {
        match self {
            Level::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2Fma => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// All levels this CPU supports, lowest first.
    pub fn available() -> Vec<Level> {
        [Level::Baseline, Level::Avx2Fma, Level::Avx512]
            .into_iter()
            .filter(|l| l.supported())
            .collect()
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(u8::MAX);

/// The best level this CPU supports, detected on first use.
#[inline]
pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Baseline,
        1 => Level::Avx2Fma,
        2 => Level::Avx512,
        _ => {
            let best = *Level::available().last().unwrap_or(&Level::Baseline);
            LEVEL.store(best as u8, Ordering::Relaxed);
            best
        }
    }
}

/// Makes every kernel, and the trainer's per-row loop, run at `level` from now on: the
/// weights a seed trains are bit-identical only at one level (fused multiply-adds and
/// vector widths round differently), so tests that pin trained weights run each level
/// in turn. A level this CPU lacks is refused.
#[doc(hidden)]
pub fn set_level(level: Level) -> Result<(), String> {
    if !level.supported() {
        return Err(format!("this CPU cannot run {} kernels", level.name()));
    }
    LEVEL.store(level as u8, Ordering::Relaxed);
    Ok(())
}

pub use dense::{matvec, matvec_at};
pub use sparse::{gather, gather_at, gather_strided};

/// Asks the CPU to bring the cache lines of `data[at..at + len]` into its caches: a
/// hint, which never faults and has no effect on memory (a no-op off x86-64), so a range
/// outside `data` is harmless.
///
/// Training calls it for the weight and optimizer-state rows of a row's features before
/// it computes anything, so their cache misses overlap instead of stalling one by one.
#[inline(always)]
pub fn prefetch_at<T>(data: &[T], at: usize, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = len * std::mem::size_of::<T>();
        // Address arithmetic only: no reference to the range is made.
        let start = data.as_ptr().wrapping_add(at).cast::<i8>();
        // SAFETY (all three): a prefetch only hints the cache; it never faults and neither
        // reads nor writes memory in the language's model, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(start) };
        // An aligned item of at most 4 bytes never straddles a line: one instruction.
        if bytes > 4 {
            let mut k = 64;
            while k < bytes {
                unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(k)) };
                k += 64;
            }
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(bytes - 1)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, at, len);
}

/// `a * b + c`, fused when the level has FMA (a plain multiply-add otherwise, since a
/// software `fma` call would be far slower).
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}
