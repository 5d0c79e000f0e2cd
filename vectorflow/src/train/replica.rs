//! Per-thread replicas: how several threads train without sharing a cache line.
//!
//! Each thread trains its own copy of the weights and optimizer state, with the plain
//! (`&mut`, vectorised) store, and the copies are merged into the net's buffers at chunk
//! boundaries, while the threads wait. A merge adds every thread's change since the last
//! merge (the delta sum: what Hogwild would have applied, without its lost updates) and
//! copies the result back into every replica:
//!
//! `master += Σ_t (replica_t − master)`, then `replica_t = master`.
//!
//! Merging is priced by the 64-byte units (16 floats) that training touched. Hot units,
//! those most rows touch (the biases, the dense layers and the Zipf head of the sparse
//! features), are merged after every chunk, so no thread drifts from the others on the
//! parameters every row moves. The tail, touched by few rows each, is merged every few
//! chunks and at the end of each pass: a tail row is rarely touched by two threads
//! between two merges, so delaying its merge changes little, and merging only its
//! touched units keeps the cost proportional to the rows trained.
//!
//! No memory is shared while threads train, so there are no atomics, no data races and
//! no undefined behaviour, and training is deterministic for a thread count. The price
//! is memory: one copy of the weights and state per thread.

use super::store::{Plain, Store};
use crate::optim::{Optimizer, MAX_STATE};

/// Floats per unit: one cache line.
pub(crate) const UNIT: usize = 16;

/// A unit is hot when at least this share of the rows of the first chunk touch it.
const HOT_SHARE: usize = 64;

/// At most this many hot units (1 MiB of weights).
const MAX_HOT: usize = 1 << 16;

/// Rows each thread trains between two merges of the hot units. Every merge is a
/// barrier, where a thread the host has paused holds up the others: fewer barriers
/// scale better, more keep the threads closer (measured with `examples/threads.rs`).
pub(crate) const SYNC_ROWS: usize = 8192;

/// Rounds between two merges of the tail: a merge of touched units costs about as much
/// memory traffic as training the rows that touched them, so it must be rare; merged
/// only at the end of a pass, the tail costs Sparse→16→ReLU→1 0.01 of test logloss.
pub(crate) const FULL_EVERY: usize = 4;

/// One thread's copy of the weights and state, and what it has touched.
pub(crate) struct Replica {
    w: Vec<f32>,
    s: [Vec<f32>; MAX_STATE],
    /// One bit per unit touched since the last full merge.
    dirty: Vec<u64>,
    /// Touches per unit, while the hot units are being found.
    counts: Vec<u16>,
}

impl Replica {
    /// Plane 0 is the weights, plane `j + 1` state plane `j`.
    fn plane(&mut self, p: usize) -> &mut [f32] {
        match p {
            0 => &mut self.w,
            j => &mut self.s[j - 1],
        }
    }
}

/// The replicas of a fit's threads and the hot units they share.
pub(crate) struct Replicas {
    threads: Vec<Replica>,
    hot: Vec<u32>,
    /// Whether the hot units are known (they are found on the first chunk).
    found: bool,
}

impl Replicas {
    /// `threads` copies of `w` and its state planes.
    pub fn new(threads: usize, w: &[f32], s: &[Vec<f32>; MAX_STATE]) -> Replicas {
        let units = w.len().div_ceil(UNIT);
        Replicas {
            threads: (0..threads)
                .map(|_| Replica {
                    w: w.to_vec(),
                    s: s.clone(),
                    dirty: vec![0; units.div_ceil(64)],
                    counts: vec![0; units],
                })
                .collect(),
            hot: Vec::new(),
            found: false,
        }
    }

    /// Every store, one per thread, to train in parallel.
    pub fn stores(&mut self) -> Vec<Tracked<'_>> {
        let found = self.found;
        self.threads
            .iter_mut()
            .map(|r| {
                let [s0, s1, s2] = &mut r.s;
                Tracked {
                    plain: Plain {
                        w: &mut r.w,
                        s: [s0, s1, s2],
                        stamps: &mut [],
                    },
                    dirty: &mut r.dirty,
                    counts: (!found).then_some(&mut r.counts[..]),
                }
            })
            .collect()
    }

    /// After a chunk in which thread `t` trained `rows[t]` rows: finds the hot units on
    /// the first chunk, then merges them into `w` and `s`.
    pub fn merge_hot<O: Optimizer>(
        &mut self,
        w: &mut [f32],
        s: &mut [&mut [f32]; MAX_STATE],
        rows: usize,
    ) {
        if !self.found {
            self.find_hot(rows);
        }
        let hot = std::mem::take(&mut self.hot);
        self.merge_units::<O>(w, s, hot.iter().map(|&u| u as usize));
        self.hot = hot;
    }

    /// Merges every unit touched since the last full merge into `w` and `s`.
    pub fn merge_all<O: Optimizer>(&mut self, w: &mut [f32], s: &mut [&mut [f32]; MAX_STATE]) {
        let words = self.threads.first().map_or(0, |r| r.dirty.len());
        let mut touched = Vec::new();
        for k in 0..words {
            let mut bits = 0u64;
            for r in &mut self.threads {
                bits |= std::mem::take(&mut r.dirty[k]);
            }
            while bits != 0 {
                touched.push(k * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
        }
        self.merge_units::<O>(w, s, touched.into_iter());
    }

    /// The units touched by at least one row in [`HOT_SHARE`] of the first chunk.
    fn find_hot(&mut self, rows: usize) {
        let min = (rows / HOT_SHARE).max(2);
        let units = self.threads.first().map_or(0, |r| r.counts.len());
        let mut hot: Vec<(u32, u32)> = (0..units)
            .filter_map(|u| {
                let n: u32 = self.threads.iter().map(|r| r.counts[u] as u32).sum();
                (n as usize >= min).then_some((n, u as u32))
            })
            .collect();
        if hot.len() > MAX_HOT {
            hot.select_nth_unstable_by(MAX_HOT, |a, b| b.0.cmp(&a.0));
            hot.truncate(MAX_HOT);
        }
        let mut hot: Vec<u32> = hot.into_iter().map(|(_, u)| u).collect();
        hot.sort_unstable();
        self.hot = hot;
        self.found = true;
        for r in &mut self.threads {
            r.counts = Vec::new();
        }
    }

    /// The delta sum of `units` from every replica into `w` and `s`, copied back.
    fn merge_units<O: Optimizer>(
        &mut self,
        w: &mut [f32],
        s: &mut [&mut [f32]; MAX_STATE],
        units: impl Iterator<Item = usize>,
    ) {
        for u in units {
            let (a, b) = (u * UNIT, ((u + 1) * UNIT).min(w.len()));
            merge_span(w, &mut self.threads, 0, a, b);
            for (j, plane) in s.iter_mut().enumerate().take(O::STATE) {
                merge_span(plane, &mut self.threads, j + 1, a, b);
            }
        }
    }
}

/// `master[a..b] += Σ_t (replica_t[a..b] − master[a..b])`, then every replica's span
/// becomes the master's.
#[inline]
fn merge_span(master: &mut [f32], replicas: &mut [Replica], plane: usize, a: usize, b: usize) {
    let mut acc = [0.0f32; UNIT];
    let m = &mut master[a..b];
    let n = m.len();
    acc[..n].copy_from_slice(m);
    for r in replicas.iter_mut() {
        let x = &r.plane(plane)[a..b];
        for k in 0..n {
            acc[k] += x[k] - m[k];
        }
    }
    m.copy_from_slice(&acc[..n]);
    for r in replicas.iter_mut() {
        r.plane(plane)[a..b].copy_from_slice(&acc[..n]);
    }
}

/// A replica's plain store, which marks the units each step touches (and counts them
/// while the hot units are being found).
pub(crate) struct Tracked<'a> {
    plain: Plain<'a>,
    dirty: &'a mut [u64],
    counts: Option<&'a mut [u16]>,
}

impl Tracked<'_> {
    #[inline(always)]
    fn touch(&mut self, unit: usize) {
        self.dirty[unit / 64] |= 1 << (unit % 64);
        if let Some(c) = &mut self.counts {
            c[unit] = c[unit].saturating_add(1);
        }
    }

    #[inline(always)]
    fn touch_span(&mut self, a: usize, len: usize) {
        if len > 0 {
            for u in a / UNIT..=(a + len - 1) / UNIT {
                self.touch(u);
            }
        }
    }
}

impl Store for Tracked<'_> {
    type View = [f32];

    #[inline(always)]
    fn view(&self) -> &[f32] {
        self.plain.view()
    }

    #[inline(always)]
    fn update<O: Optimizer>(&mut self, opt: &O, off: usize, grad: &[f32], scale: f32) {
        self.touch_span(off, grad.len());
        self.plain.update(opt, off, grad, scale);
    }

    #[inline(always)]
    fn update_rows<O: Optimizer, const OUT: usize>(
        &mut self,
        opt: &O,
        off: usize,
        pairs: &[(u32, f32)],
        dy: &[f32; OUT],
        scale: f32,
    ) {
        for &(i, _) in pairs {
            self.touch_span(off + i as usize * OUT, OUT);
        }
        self.plain.update_rows(opt, off, pairs, dy, scale);
    }

    #[inline]
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        self.plain.prefetch_rows::<O, OUT>(off, pairs);
    }

    #[inline]
    fn map(&mut self, i: usize, f: impl Fn(f32) -> f32) {
        self.touch(i / UNIT);
        self.plain.map(i, f);
    }

    #[inline]
    fn swap_stamp(&mut self, r: usize, now: u32) -> u32 {
        self.plain.swap_stamp(r, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::AdaGrad;

    /// Adds `d` to weight `i` and its first state float in replica `t`, as training would.
    fn bump(reps: &mut Replicas, t: usize, i: usize, d: f32) {
        let mut stores = reps.stores();
        let st = &mut stores[t];
        st.touch(i / UNIT);
        st.plain.w[i] += d;
        st.plain.s[0][i] += d * d;
    }

    #[test]
    fn merges_sum_every_threads_changes_and_copy_them_back() {
        let n = 5 * UNIT + 3;
        let mut w: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let mut s0 = vec![1.0f32; n];
        let planes = [s0.clone(), Vec::new(), Vec::new()];
        let mut reps = Replicas::new(2, &w, &planes);
        reps.found = true;
        bump(&mut reps, 0, 3, 0.5); // only thread 0
        bump(&mut reps, 1, 40, -2.0); // only thread 1
        bump(&mut reps, 0, 81, 1.0); // both, in the last, short unit
        bump(&mut reps, 1, 81, 3.0);
        let (mut e1, mut e2) = (Vec::new(), Vec::new());
        reps.merge_all::<AdaGrad>(&mut w, &mut [&mut s0, &mut e1, &mut e2]);
        let mut want: Vec<f32> = (0..n).map(|i| i as f32).collect();
        want[3] += 0.5;
        want[40] -= 2.0;
        want[81] += 4.0;
        assert_eq!(w, want);
        assert_eq!((s0[3], s0[40], s0[81], s0[0]), (1.25, 5.0, 11.0, 1.0));
        for r in &reps.threads {
            assert_eq!(r.w, want, "every replica holds the merged weights");
            assert_eq!(r.s[0], s0);
            assert!(r.dirty.iter().all(|&d| d == 0));
        }
        // Nothing touched since: a second merge changes nothing.
        reps.merge_all::<AdaGrad>(&mut w, &mut [&mut s0, &mut e1, &mut e2]);
        assert_eq!(w, want);
    }

    #[test]
    fn hot_units_are_the_ones_many_rows_touch() {
        let n = 4 * UNIT;
        let w = vec![0.0f32; n];
        let mut reps = Replicas::new(2, &w, &[vec![0.0; n], Vec::new(), Vec::new()]);
        // 640 rows: unit 1 touched by 20 of them (1/32), unit 2 by 5 (under 1/64).
        for k in 0..20 {
            reps.stores()[k % 2].touch(1);
        }
        for k in 0..5 {
            reps.stores()[k % 2].touch(2);
        }
        let (mut w, mut s0) = (w, vec![0.0; n]);
        let (mut e1, mut e2) = (Vec::new(), Vec::new());
        reps.merge_hot::<AdaGrad>(&mut w, &mut [&mut s0, &mut e1, &mut e2], 640);
        assert_eq!(reps.hot, [1]);
        assert!(reps.threads.iter().all(|r| r.counts.is_empty()));
    }
}
