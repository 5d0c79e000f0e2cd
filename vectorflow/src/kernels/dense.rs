//! Dense matrix-vector product on const widths.

use super::{level, madd, Level};

/// Lanes per accumulator: two AVX2 registers or one AVX-512 register.
const LANES: usize = 16;

#[inline(always)]
fn body<const IN: usize, const OUT: usize, const FMA: bool>(
    w: &[f32],
    x: &[f32; IN],
    y: &mut [f32; OUT],
) {
    let w = &w[..IN * OUT];
    for (row, yo) in w.chunks_exact(IN).zip(y.iter_mut()) {
        let mut acc = [0.0f32; LANES];
        let rc = row.chunks_exact(LANES);
        let xc = x.chunks_exact(LANES);
        let (rt, xt) = (rc.remainder(), xc.remainder());
        for (r, xs) in rc.zip(xc) {
            for l in 0..LANES {
                acc[l] = madd::<FMA>(r[l], xs[l], acc[l]);
            }
        }
        let mut tail = 0.0f32;
        for (r, xs) in rt.iter().zip(xt) {
            tail = madd::<FMA>(*r, *xs, tail);
        }
        // Pairwise reduction of the lanes: fixed order, so results are reproducible.
        let mut width = LANES / 2;
        while width > 0 {
            for l in 0..width {
                acc[l] += acc[l + width];
            }
            width /= 2;
        }
        *yo += acc[0] + tail;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2<const IN: usize, const OUT: usize>(w: &[f32], x: &[f32; IN], y: &mut [f32; OUT]) {
    body::<IN, OUT, true>(w, x, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn avx512<const IN: usize, const OUT: usize>(w: &[f32], x: &[f32; IN], y: &mut [f32; OUT]) {
    body::<IN, OUT, true>(w, x, y)
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
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `avx512` needs AVX-512F, AVX2 and FMA, which `supported` detected.
        Level::Avx512 if level.supported() => unsafe { avx512(w, x, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `avx2` needs AVX2 and FMA, which `supported` detected.
        Level::Avx2Fma if level.supported() => unsafe { avx2(w, x, y) },
        _ => body::<IN, OUT, false>(w, x, y),
    }
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
