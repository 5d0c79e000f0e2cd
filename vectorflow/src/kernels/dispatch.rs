//! The one place that picks the instruction set: a body written once is compiled per
//! CPU level and the level asked for runs (the kernels and the trainer's per-row loop).

use super::{level, Level};

/// A level this CPU supports, as [`PerLevel::run`] receives it. Only this module makes
/// one, after checking, so a body may run instructions of the level it names.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Supported(Level);

impl Supported {
    /// The level.
    #[inline(always)]
    pub fn level(self) -> Level {
        self.0
    }
}

/// A computation compiled once per CPU level by [`dispatch_at`]: its `run` is
/// `#[inline(always)]`, so that each level's `#[target_feature]` function gets its own
/// copy, vectorised to that level's width.
pub(crate) trait PerLevel {
    /// What it computes.
    type Output;
    /// Runs it at `at`, the level being compiled for (a constant once inlined), for a
    /// body that differs by level.
    fn run(self, at: Supported) -> Self::Output;
}

/// Runs `k` compiled for [`level`].
#[inline(always)]
pub(crate) fn dispatch<K: PerLevel>(k: K) -> K::Output {
    dispatch_at(level(), k)
}

/// Runs `k` compiled for `level`; a level this CPU lacks runs the baseline.
#[inline(always)]
pub(crate) fn dispatch_at<K: PerLevel>(level: Level, k: K) -> K::Output {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `avx512` enables AVX-512F, AVX2 and FMA, which `supported` detected.
        Level::Avx512 if level.supported() => unsafe { avx512(k) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `avx2` enables AVX2 and FMA, which `supported` detected.
        Level::Avx2Fma if level.supported() => unsafe { avx2(k) },
        _ => k.run(Supported(Level::Baseline)),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2<K: PerLevel>(k: K) -> K::Output {
    k.run(Supported(Level::Avx2Fma))
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn avx512<K: PerLevel>(k: K) -> K::Output {
    k.run(Supported(Level::Avx512))
}
