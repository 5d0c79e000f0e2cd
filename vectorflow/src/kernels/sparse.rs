//! Gather-accumulate over contiguous weight rows: the first layer over a sparse input.

use super::{level, madd, Level};

/// How many pairs ahead the next rows are prefetched.
const AHEAD: usize = 8;
/// Rows shorter than this many floats are not prefetched.
const PREFETCH_MIN: usize = 8;

#[inline(always)]
fn body<const OUT: usize, const FMA: bool>(w: &[f32], pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
    strided::<OUT, FMA>(w, OUT, pairs, y)
}

/// [`body`] over rows that start every `stride ≥ OUT` floats (rows packed with other
/// data between them).
#[inline(always)]
fn strided<const OUT: usize, const FMA: bool>(
    w: &[f32],
    stride: usize,
    pairs: &[(u32, f32)],
    y: &mut [f32; OUT],
) {
    if OUT == 0 {
        return;
    }
    let rows = Rows { w, stride };
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
                rows.prefetch::<OUT>(next as usize);
            }
            k += 1;
            let row = rows.get::<OUT>(i as usize);
            for o in 0..OUT {
                acc[c][o] = madd::<FMA>(v, row[o], acc[c][o]);
            }
        }
    }
    for &(i, v) in groups.remainder() {
        let row = rows.get::<OUT>(i as usize);
        for o in 0..OUT {
            acc[0][o] = madd::<FMA>(v, row[o], acc[0][o]);
        }
    }
    for o in 0..OUT {
        y[o] = (acc[0][o] + acc[1][o]) + (acc[2][o] + acc[3][o]);
    }
}

/// Rows of a table, each `OUT` floats starting every `stride` floats.
#[derive(Clone, Copy)]
struct Rows<'a> {
    w: &'a [f32],
    stride: usize,
}

impl Rows<'_> {
    /// Row `i`; panics past the table.
    #[inline(always)]
    fn get<const OUT: usize>(&self, i: usize) -> &[f32; OUT] {
        let at = i * self.stride;
        self.w[at..at + OUT].try_into().expect("row in bounds")
    }

    /// Hints the CPU to load row `i` into the caches; nothing if `i` is out of bounds
    /// (the access itself will then panic), or if rows are shorter than
    /// [`PREFETCH_MIN`] floats: several then share a line, and the extra instructions
    /// cost more than they save (measured with `examples/kernels.rs`).
    #[inline(always)]
    fn prefetch<const OUT: usize>(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        if OUT < PREFETCH_MIN {
            return;
        }
        let at = i * self.stride;
        if at + OUT <= self.w.len() {
            super::prefetch_at(self.w, at, OUT);
        }
    }
}

/// One gather of rows every `stride` floats, for [`super::dispatch_at`].
struct Gather<'a, const OUT: usize> {
    w: &'a [f32],
    stride: usize,
    pairs: &'a [(u32, f32)],
    y: &'a mut [f32; OUT],
    /// Whether the baseline reads contiguous rows (`stride == OUT`) with the plain body.
    contiguous: bool,
}

impl<const OUT: usize> super::PerLevel for Gather<'_, OUT> {
    type Output = ();
    #[inline(always)]
    fn run(self, at: super::Supported) {
        let Gather {
            w,
            stride,
            pairs,
            y,
            contiguous,
        } = self;
        match at.level() {
            Level::Baseline if contiguous => body::<OUT, false>(w, pairs, y),
            Level::Baseline => strided::<OUT, false>(w, stride, pairs, y),
            _ => strided::<OUT, true>(w, stride, pairs, y),
        }
    }
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
    let contiguous = true;
    super::dispatch_at(
        level,
        Gather {
            w,
            stride: OUT,
            pairs,
            y,
            contiguous,
        },
    )
}

/// [`gather`] over rows that start every `stride ≥ OUT` floats: row `i` is
/// `w[i·stride .. i·stride + OUT]` (the packed training layout, where each row's
/// optimizer state follows it).
///
/// ```
/// let w = [1.0, 2.0, 0.0, 10.0, 20.0, 0.0];
/// let mut y = [0.0, 0.0];
/// vectorflow::kernels::gather_strided::<2>(&w, 3, &[(1, 0.5), (0, 2.0)], &mut y);
/// assert_eq!(y, [7.0, 14.0]);
/// ```
#[inline]
pub fn gather_strided<const OUT: usize>(
    w: &[f32],
    stride: usize,
    pairs: &[(u32, f32)],
    y: &mut [f32; OUT],
) {
    assert!(stride >= OUT, "rows of {OUT} every {stride} floats overlap");
    let contiguous = false;
    super::dispatch(Gather {
        w,
        stride,
        pairs,
        y,
        contiguous,
    })
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
