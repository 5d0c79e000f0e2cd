//! Dense matrix-vector product on const widths.

use super::{level, madd, Level};

/// Lanes per accumulator: two AVX2 registers or one AVX-512 register.
const LANES: usize = 16;

/// Pairwise reduction of the lanes: a fixed order, so results are reproducible (the AVX2
/// kernel reduces its registers in this same order).
#[inline(always)]
fn reduce(mut acc: [f32; LANES]) -> f32 {
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            acc[l] += acc[l + width];
        }
        width /= 2;
    }
    acc[0]
}

/// The portable kernel: one output at a time, `LANES` accumulators, a scalar tail.
#[inline(always)]
fn body<const IN: usize, const OUT: usize, const FMA: bool>(
    w: &[f32],
    x: &[f32; IN],
    y: &mut [f32; OUT],
) {
    if IN == 0 {
        return;
    }
    let (rows, _) = w[..IN * OUT].as_chunks::<IN>();
    let (xc, xt) = x.as_chunks::<LANES>();
    for (row, yo) in rows.iter().zip(y.iter_mut()) {
        let (rc, rt) = row.as_chunks::<LANES>();
        let mut acc = [0.0f32; LANES];
        for (r, xs) in rc.iter().zip(xc) {
            for l in 0..LANES {
                acc[l] = madd::<FMA>(r[l], xs[l], acc[l]);
            }
        }
        *yo += reduce(acc) + tail::<FMA>(rt, xt);
    }
}

/// `Σ r·x` over the last `IN % LANES` columns.
#[inline(always)]
fn tail<const FMA: bool>(r: &[f32], x: &[f32]) -> f32 {
    let mut t = 0.0f32;
    for (r, xs) in r.iter().zip(x) {
        t = madd::<FMA>(*r, *xs, t);
    }
    t
}

/// The AVX2+FMA kernel, written with intrinsics: left to itself, LLVM's SLP vectoriser
/// packed a multi-row block across rows (shuffles, 128-bit registers) instead of lanes.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{tail, LANES};
    use std::arch::x86_64::*;

    /// Outputs computed together: 4 × 2 ymm independent accumulator chains hide the FMA
    /// latency (one row's 2 chains cannot), and each chunk of `x` is loaded once for all.
    const ROWS: usize = 4;

    /// The 16 lanes of `v` as two registers.
    #[inline]
    #[target_feature(enable = "avx")]
    fn load(v: &[f32; LANES]) -> [__m256; 2] {
        // SAFETY: `v` is 16 readable floats; unaligned loads of [0..8] and [8..16].
        unsafe {
            [
                _mm256_loadu_ps(v.as_ptr()),
                _mm256_loadu_ps(v.as_ptr().add(8)),
            ]
        }
    }

    /// [`super::reduce`] of the 16 lanes `a[0] ++ a[1]`, in the same order.
    #[inline]
    #[target_feature(enable = "avx")]
    fn reduce16(a: [__m256; 2]) -> f32 {
        let s8 = _mm256_add_ps(a[0], a[1]);
        let s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps::<1>(s8));
        let s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
        _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps::<1>(s2, s2)))
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn matvec<const IN: usize, const OUT: usize>(
        w: &[f32],
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        if IN == 0 {
            return;
        }
        let (rows, _) = w[..IN * OUT].as_chunks::<IN>();
        let (blocks, rest) = rows.as_chunks::<ROWS>();
        let (yb, yr) = y.as_chunks_mut::<ROWS>();
        let (xc, xt) = x.as_chunks::<LANES>();
        for (block, ys) in blocks.iter().zip(yb) {
            let mut acc = [[_mm256_setzero_ps(); 2]; ROWS];
            for (c, xs) in xc.iter().enumerate() {
                let xv = load(xs);
                for r in 0..ROWS {
                    let wv = load(&block[r].as_chunks::<LANES>().0[c]);
                    acc[r][0] = _mm256_fmadd_ps(wv[0], xv[0], acc[r][0]);
                    acc[r][1] = _mm256_fmadd_ps(wv[1], xv[1], acc[r][1]);
                }
            }
            for r in 0..ROWS {
                ys[r] += reduce16(acc[r]) + tail::<true>(block[r].as_chunks::<LANES>().1, xt);
            }
        }
        for (row, yo) in rest.iter().zip(yr) {
            let (rc, rt) = row.as_chunks::<LANES>();
            let mut acc = [_mm256_setzero_ps(); 2];
            for (r, xs) in rc.iter().zip(xc) {
                let (wv, xv) = (load(r), load(xs));
                acc[0] = _mm256_fmadd_ps(wv[0], xv[0], acc[0]);
                acc[1] = _mm256_fmadd_ps(wv[1], xv[1], acc[1]);
            }
            *yo += reduce16(acc) + tail::<true>(rt, xt);
        }
    }
}

/// One matvec, for [`super::dispatch_at`].
struct Matvec<'a, const IN: usize, const OUT: usize> {
    w: &'a [f32],
    x: &'a [f32; IN],
    y: &'a mut [f32; OUT],
}

impl<const IN: usize, const OUT: usize> super::PerLevel for Matvec<'_, IN, OUT> {
    type Output = ();
    #[inline(always)]
    fn run(self, at: super::Supported) {
        match at.level() {
            Level::Baseline => body::<IN, OUT, false>(self.w, self.x, self.y),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `x86::matvec` needs AVX2 and FMA, which every level above the
            // baseline has, and `at` is a level this CPU supports.
            _ => unsafe { x86::matvec::<IN, OUT>(self.w, self.x, self.y) },
            #[cfg(not(target_arch = "x86_64"))]
            _ => body::<IN, OUT, true>(self.w, self.x, self.y),
        }
    }
}

/// `y += W x` for the `OUT × IN` row-major matrix `W` (the first `IN * OUT` floats of
/// `w`), at the best level of this CPU.
///
/// ```
/// let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let mut y = [0.5, 0.0];
/// vectorflow::kernels::matvec::<3, 2>(&w, &[1.0, 1.0, 1.0], &mut y);
/// assert_eq!(y, [6.5, 15.0]);
/// ```
#[inline]
pub fn matvec<const IN: usize, const OUT: usize>(w: &[f32], x: &[f32; IN], y: &mut [f32; OUT]) {
    matvec_at(level(), w, x, y)
}

/// [`matvec`] at a given level; a level this CPU lacks runs the baseline.
#[inline]
pub fn matvec_at<const IN: usize, const OUT: usize>(
    level: Level,
    w: &[f32],
    x: &[f32; IN],
    y: &mut [f32; OUT],
) {
    super::dispatch_at(level, Matvec { w, x, y })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference<const IN: usize, const OUT: usize>(w: &[f32], x: &[f32; IN]) -> [f64; OUT] {
        std::array::from_fn(|o| (0..IN).map(|j| w[o * IN + j] as f64 * x[j] as f64).sum())
    }

    fn check<const IN: usize, const OUT: usize>() {
        let w: Vec<f32> = (0..IN * OUT)
            .map(|i| ((i * 7919) % 23) as f32 / 23.0 - 0.5)
            .collect();
        let x: [f32; IN] = std::array::from_fn(|j| ((j * 31) % 11) as f32 / 11.0 - 0.3);
        let want = reference::<IN, OUT>(&w, &x);
        for l in Level::available() {
            let mut y = [0.0f32; OUT];
            matvec_at::<IN, OUT>(l, &w, &x, &mut y);
            for o in 0..OUT {
                assert!(
                    (y[o] as f64 - want[o]).abs() < 1e-4,
                    "{l:?} {IN}x{OUT} row {o}"
                );
            }
        }
    }

    /// The AVX2 kernel blocks rows and reduces in registers, but sums each output in the
    /// portable kernel's order: the two agree bit for bit.
    #[cfg(target_arch = "x86_64")]
    fn same_bits<const IN: usize, const OUT: usize>() {
        if !Level::Avx2Fma.supported() {
            return;
        }
        let w: Vec<f32> = (0..IN * OUT).map(|i| (i as f32 * 0.731).sin()).collect();
        let x: [f32; IN] = std::array::from_fn(|j| (j as f32 * 1.37).cos());
        let (mut a, mut b) = ([0.25f32; OUT], [0.25f32; OUT]);
        body::<IN, OUT, true>(&w, &x, &mut a);
        matvec_at::<IN, OUT>(Level::Avx2Fma, &w, &x, &mut b);
        assert_eq!(a.map(f32::to_bits), b.map(f32::to_bits), "{IN}x{OUT}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_blocks_sum_in_the_portable_order() {
        same_bits::<1, 1>();
        same_bits::<16, 1>();
        same_bits::<17, 5>();
        same_bits::<40, 8>();
        same_bits::<64, 33>();
        same_bits::<256, 7>();
    }

    #[test]
    fn every_level_matches_the_reference() {
        check::<1, 1>();
        check::<3, 5>();
        check::<16, 1>();
        check::<17, 16>();
        check::<64, 33>();
        check::<256, 8>();
    }
}
