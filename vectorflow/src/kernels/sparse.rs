//! Gather-accumulate over contiguous weight rows: the first layer over a sparse input.

use super::{level, madd, Level};

/// How many pairs ahead the next rows are prefetched.
const AHEAD: usize = 8;
/// Rows shorter than this many floats are not prefetched.
const PREFETCH_MIN: usize = 8;

#[inline(always)]
fn body<const OUT: usize, const FMA: bool>(w: &[f32], pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
    if OUT == 0 {
        return;
    }
    let (rows, _) = w.as_chunks::<OUT>();
    // Narrow rows get several independent accumulators, so consecutive multiply-adds do
    // not wait on each other's latency (one chain for OUT = 1 would).
    const fn chains(out: usize) -> usize {
        if out <= 4 {
            4
        } else if out <= 16 {
            2
        } else {
            1
        }
    }
    let n = chains(OUT);
    let mut acc = [[0.0f32; OUT]; 4];
    acc[0] = *y;
    let mut groups = pairs.chunks_exact(n);
    let mut k = 0;
    for group in &mut groups {
        for (c, &(i, v)) in group.iter().enumerate() {
            // Rows are scattered over a table far larger than the caches: ask for the row
            // `AHEAD` pairs on now, so its cache misses overlap this row's arithmetic.
            if let Some(&(next, _)) = pairs.get(k + AHEAD) {
                prefetch(rows, next as usize);
            }
            k += 1;
            let row = &rows[i as usize];
            for o in 0..OUT {
                acc[c][o] = madd::<FMA>(v, row[o], acc[c][o]);
            }
        }
    }
    for &(i, v) in groups.remainder() {
        let row = &rows[i as usize];
        for o in 0..OUT {
            acc[0][o] = madd::<FMA>(v, row[o], acc[0][o]);
        }
    }
    for o in 0..OUT {
        y[o] = (acc[0][o] + acc[1][o]) + (acc[2][o] + acc[3][o]);
    }
}

/// Hints the CPU to load `rows[i]` into the caches; nothing if `i` is out of bounds (the
/// access itself will then panic), or if rows are shorter than [`PREFETCH_MIN`] floats:
/// several then share a line, and the extra instructions cost more than they save
/// (measured with `examples/kernels.rs`).
#[inline(always)]
fn prefetch<const OUT: usize>(rows: &[[f32; OUT]], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if OUT < PREFETCH_MIN {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(row) = rows.get(i) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        const LINE: usize = 64;
        let p = row.as_ptr().cast::<i8>();
        let bytes = OUT * size_of::<f32>();
        let mut at = 0;
        while at < bytes {
            // SAFETY: `p + at` lies inside `row` (at < its size in bytes); a prefetch only
            // hints the cache and never faults or changes memory.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(at)) };
            at += LINE;
        }
        // The row's last line, when the row straddles one more line than its size needs.
        // SAFETY: as above, the row's last byte.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(bytes - 1)) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (rows, i);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2<const OUT: usize>(w: &[f32], pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
    body::<OUT, true>(w, pairs, y)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
fn avx512<const OUT: usize>(w: &[f32], pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
    body::<OUT, true>(w, pairs, y)
}

/// `y += Σ v · w[i·OUT .. i·OUT + OUT]` over `(i, v)` in `pairs`, at the best level.
///
/// ```
/// let w = [1.0, 2.0, 10.0, 20.0];
/// let mut y = [0.0, 0.0];
/// vectorflow::kernels::gather::<2>(&w, &[(1, 0.5), (0, 2.0)], &mut y);
/// assert_eq!(y, [7.0, 14.0]);
/// ```
#[inline]
pub fn gather<const OUT: usize>(w: &[f32], pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
    gather_at(level(), w, pairs, y)
}

/// [`gather`] at a given level; a level this CPU lacks runs the baseline.
#[inline]
pub fn gather_at<const OUT: usize>(
    level: Level,
    w: &[f32],
    pairs: &[(u32, f32)],
    y: &mut [f32; OUT],
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `avx512` needs AVX-512F, AVX2 and FMA, which `supported` detected.
        Level::Avx512 if level.supported() => unsafe { avx512(w, pairs, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `avx2` needs AVX2 and FMA, which `supported` detected.
        Level::Avx2Fma if level.supported() => unsafe { avx2(w, pairs, y) },
        _ => body::<OUT, false>(w, pairs, y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<const OUT: usize>() {
        let w: Vec<f32> = (0..100 * OUT)
            .map(|i| ((i * 37) % 19) as f32 / 19.0 - 0.4)
            .collect();
        let pairs: Vec<(u32, f32)> = (0..40)
            .map(|k| ((k * 13 % 100) as u32, k as f32 * 0.1 - 1.0))
            .collect();
        let mut want = [0.0f64; OUT];
        for &(i, v) in &pairs {
            for k in 0..OUT {
                want[k] += v as f64 * w[i as usize * OUT + k] as f64;
            }
        }
        for l in Level::available() {
            let mut y = [0.0f32; OUT];
            gather_at::<OUT>(l, &w, &pairs, &mut y);
            for k in 0..OUT {
                assert!(
                    (y[k] as f64 - want[k]).abs() < 1e-4,
                    "{l:?} OUT={OUT} lane {k}"
                );
            }
        }
    }

    #[test]
    fn every_level_matches_the_reference() {
        check::<1>();
        check::<3>();
        check::<16>();
        check::<64>();
    }

    #[test]
    #[should_panic]
    fn a_row_past_the_table_panics() {
        let w = [0.0f32; 8];
        gather::<4>(&w, &[(0, 1.0), (2, 1.0)], &mut [0.0; 4]);
    }
}
