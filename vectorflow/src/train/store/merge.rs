//! The parallel merge of replicas: every buffer of a group (the master's planes, each
//! replica's and each replica's marks) is cut into one piece per thread, at the same
//! units in all of them, and each thread merges its piece: the serial part of a merge
//! is only the cutting.
//!
//! What a merge does to each unit it visits is a [`Combine`]: in a process,
//! [`DeltaSum`] adds every thread's change since the last merge into the master,
//!
//! `master += Σ_t (replica_t − master)`, then `replica_t = master`.
//!
//! A way of sharing across processes keeps this cutting and these visits and brings its
//! own `Combine`: one that sums the local changes as `DeltaSum` does and adds the other
//! processes' sums for the same unit (the units a merge visits are the hot ones or the
//! touched ones, so it exchanges only those). The pass driver never sees which.

use crate::weights::{Table, UNIT};

/// The buffers being trained: the net's weights and state planes (the *rest*, whose
/// sparse tables are stale while packed) and the packed tables.
pub(crate) struct Master<'a> {
    pub w: &'a mut [f32],
    pub s: &'a mut [Vec<f32>],
    pub tables: &'a mut [Table],
}

/// How a merge combines a unit's copies into the master's.
pub(crate) trait Combine: Sync {
    /// Sets `master`, one unit (at most [`UNIT`] floats) of one plane, to the merged
    /// value, given each replica's copy of the same floats; the merge then copies it
    /// into every replica.
    fn unit<'r>(&self, master: &mut [f32], reps: impl Iterator<Item = &'r [f32]>);
}

/// The in-process combine: the master plus every replica's change since the last merge
/// (what Hogwild would have applied, without its lost updates).
pub(crate) struct DeltaSum;

impl Combine for DeltaSum {
    #[inline(always)]
    fn unit<'r>(&self, master: &mut [f32], reps: impl Iterator<Item = &'r [f32]>) {
        let n = master.len();
        let mut acc = [0.0f32; UNIT];
        acc[..n].copy_from_slice(master);
        for r in reps {
            for (acc, (x, m)) in acc.iter_mut().zip(r.iter().zip(&*master)) {
                *acc += x - m;
            }
        }
        master.copy_from_slice(&acc[..n]);
    }
}

/// Merges `groups` on `pool`, each cut into one piece per thread of the pool: for each
/// group, its hot units if it has a list (`Some`), else its touched units, found by
/// comparing the replicas with the master when it is scanned, else by its marks (which
/// are cleared).
pub(crate) fn run<C: Combine>(
    pool: &rayon::ThreadPool,
    pieces: usize,
    groups: Vec<(Group<'_>, Option<&[u32]>, bool)>,
    combine: &C,
) {
    let mut work: Vec<Vec<Piece<'_>>> = (0..pieces).map(|_| Vec::new()).collect();
    for (group, hot, scan) in groups {
        for (k, piece) in group.cut(pieces, hot, scan).into_iter().enumerate() {
            work[k].push(piece);
        }
    }
    pool.scope(|s| {
        for pieces in work {
            s.spawn(move |_| pieces.into_iter().for_each(|p| p.merge(combine)));
        }
    });
}

/// One group's buffers: the master's planes, each replica's, and each replica's marks.
pub(crate) struct Group<'a> {
    pub master: Vec<&'a mut [f32]>,
    pub reps: Vec<Vec<&'a mut [f32]>>,
    pub dirty: Vec<&'a mut [u64]>,
}

/// The units `first..` of a group, one thread's share of a merge: the hot ones among
/// them when `hot` is given, else those where a replica differs from the master when
/// the group is scanned, else those marked.
struct Piece<'a> {
    first: usize,
    group: Group<'a>,
    hot: Option<&'a [u32]>,
    /// Whether the touched units are those where a replica differs from the master.
    scan: bool,
}

impl<'a> Group<'a> {
    /// `n` pieces, cut at whole words of the marks (64 units) so that each piece owns
    /// its marks.
    fn cut(self, n: usize, hot: Option<&'a [u32]>, scan: bool) -> Vec<Piece<'a>> {
        let words = self.dirty.first().map_or(0, |d| d.len());
        let mut rest = self;
        let mut pieces = Vec::with_capacity(n);
        let mut first = 0;
        for k in 1..=n {
            let end = words * k / n * 64;
            let floats = (end - first) * UNIT;
            let mut split = |v: &mut &'a mut [f32]| {
                let at = floats.min(v.len());
                let (a, b) = std::mem::take(v).split_at_mut(at);
                *v = b;
                a
            };
            let group = Group {
                master: rest.master.iter_mut().map(&mut split).collect(),
                reps: rest
                    .reps
                    .iter_mut()
                    .map(|planes| planes.iter_mut().map(&mut split).collect())
                    .collect(),
                dirty: rest
                    .dirty
                    .iter_mut()
                    .map(|d| {
                        let (a, b) = std::mem::take(d).split_at_mut((end - first) / 64);
                        *d = b;
                        a
                    })
                    .collect(),
            };
            let hot = hot.map(|h| {
                let (a, b) = (
                    h.partition_point(|&u| (u as usize) < first),
                    h.partition_point(|&u| (u as usize) < end),
                );
                &h[a..b]
            });
            pieces.push(Piece {
                first,
                group,
                hot,
                scan,
            });
            first = end;
        }
        pieces
    }
}

impl Piece<'_> {
    fn merge<C: Combine>(mut self, combine: &C) {
        match self.hot {
            Some(hot) => {
                for &u in hot {
                    self.merge_unit(u as usize - self.first, combine);
                }
            }
            None if self.scan => {
                // After a merge every replica equals the master: a unit that differs
                // was changed since.
                let len = self.group.master[0].len();
                for u in 0..len.div_ceil(UNIT) {
                    let (a, b) = (u * UNIT, ((u + 1) * UNIT).min(len));
                    let m = &self.group.master[0][a..b];
                    // Bits, not values: a replica at -0.0 beside a master at 0.0 is
                    // copied back as a marked unit would be.
                    let differs = |r: &Vec<&mut [f32]>| {
                        r[0][a..b]
                            .iter()
                            .zip(m)
                            .any(|(x, y)| x.to_bits() != y.to_bits())
                    };
                    if self.group.reps.iter().any(differs) {
                        self.merge_unit(u, combine);
                    }
                }
                // The first round's marks, and those of `update` and `map`.
                self.group.dirty.iter_mut().for_each(|d| d.fill(0));
            }
            None => {
                for k in 0..self.group.dirty.first().map_or(0, |d| d.len()) {
                    let mut bits = 0u64;
                    for d in &mut self.group.dirty {
                        bits |= std::mem::take(&mut d[k]);
                    }
                    while bits != 0 {
                        self.merge_unit(k * 64 + bits.trailing_zeros() as usize, combine);
                        bits &= bits - 1;
                    }
                }
            }
        }
    }

    /// Combines unit `u` of every plane into the master, then every replica's unit
    /// becomes the master's.
    #[inline]
    fn merge_unit<C: Combine>(&mut self, u: usize, combine: &C) {
        let a = u * UNIT;
        for (p, m) in self.group.master.iter_mut().enumerate() {
            let b = (a + UNIT).min(m.len());
            let m = &mut m[a..b];
            let n = m.len();
            combine.unit(m, self.group.reps.iter().map(|r| &r[p][a..a + n]));
            for r in &mut self.group.reps {
                r[p][a..a + n].copy_from_slice(m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Marks unit `u` in `dirty`.
    fn mark(dirty: &mut [u64], u: usize) {
        dirty[u / 64] |= 1 << (u % 64);
    }

    #[test]
    fn pieces_merge_marked_hot_and_scanned_units_alone() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        // 200 units of two planes, two replicas; in every mode, units 5, 64 (the
        // first of a mark word) and 130 changed, in one replica or both.
        let n = 200 * UNIT;
        for mode in ["marked", "hot", "scanned"] {
            for pieces in [1, 2, 3] {
                let start: Vec<f32> = (0..n).map(|i| (i % 7) as f32).collect();
                let mut master = [start.clone(), start.clone()];
                let mut reps = [
                    [start.clone(), start.clone()],
                    [start.clone(), start.clone()],
                ];
                let mut dirty = [vec![0u64; 4], vec![0u64; 4]];
                let mut want = master.clone();
                for (t, u, d) in [(0, 5, 1.0f32), (1, 5, 2.0), (1, 64, -1.0), (0, 130, 0.5)] {
                    for p in 0..2 {
                        reps[t][p][u * UNIT + 3] += d;
                        want[p][u * UNIT + 3] += d;
                    }
                    mark(&mut dirty[t], u);
                }
                // A change nothing marked (in the plane a scan compares): merged only
                // when scanned.
                reps[0][0][150 * UNIT] += 4.0;
                if mode == "scanned" {
                    want[0][150 * UNIT] += 4.0;
                }
                let hot = [5u32, 64, 130];
                let [m0, m1] = &mut master;
                let [[a0, a1], [b0, b1]] = &mut reps;
                let [d0, d1] = &mut dirty;
                let group = Group {
                    master: vec![&mut m0[..], &mut m1[..]],
                    reps: vec![
                        vec![&mut a0[..], &mut a1[..]],
                        vec![&mut b0[..], &mut b1[..]],
                    ],
                    dirty: vec![&mut d0[..], &mut d1[..]],
                };
                let list = (mode == "hot").then_some(&hot[..]);
                run(
                    &pool,
                    pieces,
                    vec![(group, list, mode == "scanned")],
                    &DeltaSum,
                );
                let at = format!("{mode}, {pieces} pieces");
                assert!(master == want, "{at}: the master");
                for (t, r) in reps.iter().enumerate() {
                    for p in 0..2 {
                        for u in [5, 64, 130] {
                            let unit = u * UNIT..(u + 1) * UNIT;
                            assert!(r[p][unit.clone()] == want[p][unit], "{at}: replica {t}");
                        }
                    }
                }
                let cleared = dirty.iter().flatten().all(|&d| d == 0);
                assert_eq!(cleared, mode != "hot", "{at}: a hot merge keeps the marks");
            }
        }
    }
}
