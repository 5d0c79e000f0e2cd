//! Per-thread replicas: how several threads train without sharing a cache line.
//!
//! Each thread trains its own copy of the weights and optimizer state, with the plain
//! (`&mut`, vectorised) store, and the copies are merged into the net's buffers at chunk
//! boundaries, by all the threads at once, each over its own piece of every buffer. A
//! merge adds every thread's change since the last
//! merge (the delta sum: what Hogwild would have applied, without its lost updates) and
//! copies the result back into every replica:
//!
//! `master += Σ_t (replica_t − master)`, then `replica_t = master`.
//!
//! Replicas hold the packed training layout (`packed`): each sparse table row with its
//! state, and the rest of the weights and state as the net keeps them. Merging is
//! priced by the 64-byte units (16 floats) of those buffers that training touched. Hot units,
//! those most rows touch (the biases, the dense layers and the Zipf head of the sparse
//! features), are merged after every round, so no thread drifts from the others on the
//! parameters every row moves. The tail, touched by few rows each, is merged every few
//! rounds and at the end of each pass: a tail row is rarely touched by two threads
//! between two merges, so delaying its merge changes little. Its touched units are
//! either marked as they train, which costs per pair, or, for a table small beside the
//! touches between two merges, found by comparing the replicas with the master, which
//! costs the table's size per merge.
//!
//! No memory is shared while threads train, so there are no atomics, no data races and
//! no undefined behaviour, and training is deterministic for a thread count. The price
//! is memory: one copy of the weights and state per thread.

use super::packed::{holding, Packed, Table};
use super::store::{Plain, Store};
use crate::optim::{Optimizer, MAX_STATE};
use rayon::prelude::*;

/// Floats per unit: one cache line.
pub(crate) const UNIT: usize = 16;

/// A unit is hot when at least this share of the rows of the first round touch it.
const HOT_SHARE: usize = 64;

/// A table is scanned at merges of the tail, rather than marked as it trains, when its
/// units in every replica and the master number at most 1/`SCAN_SHARE` of the touches
/// between two such merges. Marking costs about a nanosecond a pair, reading a unit a
/// few: logistic regression's 2^20-row table (1/36 of its touches) trained 1.19× faster
/// on 2 threads scanned, Sparse→16→ReLU→1's (1/4.8) 1.08×.
const SCAN_SHARE: usize = 4;

/// At most this many hot units (4 MiB).
const MAX_HOT: usize = 1 << 16;

/// Rows each thread trains between two merges of the hot units. Every merge is a
/// barrier, where a thread the host has paused holds up the others: fewer barriers
/// scale better, more keep the threads closer (measured with `examples/threads.rs`).
pub(crate) const SYNC_ROWS: usize = 8192;

/// Rounds between two merges of the tail. A merge of touched units costs about as much
/// memory traffic as training the rows that touched them (a scanned table's costs all of
/// it), and each thread writes its piece of every replica, lines the replica's own
/// thread must then fetch back, so it must be rare. Every 16 rounds against every 4 took
/// 2 threads from 1.02× to 1.27× of one on logistic regression and from 0.86× to 1.03×
/// on Sparse→16→ReLU→1; every 32, once its table was scanned, measured 1.28× against
/// 1.18× for the net, within this host's noise, and no slower for logistic regression.
/// The net's test logloss went from 0.4304 (every 4) to 0.4288 (every 32), one
/// thread's being 0.4284.
pub(crate) const FULL_EVERY: usize = 32;

/// The buffers being trained: the net's weights and state planes (the *rest*, whose
/// sparse tables are stale while packed) and the packed tables.
pub(crate) struct Master<'a> {
    pub w: &'a mut [f32],
    pub s: [&'a mut [f32]; MAX_STATE],
    pub tables: &'a mut [Table],
}

impl<'a> Master<'a> {
    /// The net's weights `w`, its state planes `s` and the packed tables.
    pub fn of(w: &'a mut [f32], s: &'a mut [Vec<f32>; MAX_STATE], tables: &'a mut [Table]) -> Self {
        let [s0, s1, s2] = s;
        Master {
            w,
            s: [s0, s1, s2],
            tables,
        }
    }
}

/// One thread's copy of the weights and state, and what it has touched.
///
/// Units are numbered per *group*: group 0 is the rest (a unit there spans the weights
/// and every state plane at the same offsets), group `1 + t` packed table `t`.
pub(crate) struct Replica {
    w: Vec<f32>,
    s: [Vec<f32>; MAX_STATE],
    tables: Vec<Table>,
    /// One bit per unit touched since the last full merge, per group.
    dirty: Vec<Vec<u64>>,
    /// Touches per unit, per group, while the hot units are being found.
    counts: Vec<Vec<u16>>,
}

/// The replicas of a fit's threads and the hot units they share.
pub(crate) struct Replicas {
    threads: Vec<Replica>,
    /// The hot units of every group, sorted.
    hot: Vec<Vec<u32>>,
    /// Whether the hot units are known (they are found on the first round).
    found: bool,
    /// Per group, whether its tail is found by comparing the replicas with the master
    /// rather than by marks (decided on the first round, see [`SCAN_SHARE`]).
    scan: Vec<bool>,
}

/// Units of a buffer of `n` floats.
fn units(n: usize) -> usize {
    n.div_ceil(UNIT)
}

impl Replicas {
    /// `threads` copies of `master`, one made on each of the pool's threads.
    pub fn new(pool: &rayon::ThreadPool, threads: usize, master: &Master<'_>) -> Replicas {
        // The rest is copied but for the packed tables' ranges, which stay zero pages
        // (the system maps them on first write, which never comes).
        let copy_rest = |from: &[f32]| {
            let mut v = vec![0.0f32; from.len()];
            let mut at = 0;
            let mut ranges: Vec<_> = master.tables.iter().map(|t| t.range()).collect();
            ranges.sort_by_key(|r| r.start);
            for r in ranges.iter().chain([&(from.len()..from.len())]) {
                let end = r.start.min(from.len());
                if at < end {
                    v[at..end].copy_from_slice(&from[at..end]);
                }
                at = at.max(r.end);
            }
            v
        };
        let groups = || {
            std::iter::once(units(master.w.len()))
                .chain(master.tables.iter().map(|t| units(t.data.len())))
        };
        Replicas {
            threads: pool.install(|| {
                (0..threads)
                    .into_par_iter()
                    .map(|_| Replica {
                        w: copy_rest(master.w),
                        s: std::array::from_fn(|j| copy_rest(&master.s[j][..])),
                        tables: master.tables.to_vec(),
                        dirty: groups().map(|n| vec![0; n.div_ceil(64)]).collect(),
                        counts: groups().map(|n| vec![0; n]).collect(),
                    })
                    .collect()
            }),
            hot: Vec::new(),
            found: false,
            scan: Vec::new(),
        }
    }

    /// Every store, one per thread, to train in parallel.
    pub fn stores(&mut self) -> Vec<Tracked<'_>> {
        let found = self.found;
        let scan = &self.scan[..];
        self.threads
            .iter_mut()
            .map(|r| {
                let [s0, s1, s2] = &mut r.s;
                Tracked {
                    packed: Packed {
                        rest: Plain {
                            w: &mut r.w,
                            s: [s0, s1, s2],
                            stamps: &mut [],
                        },
                        tables: &mut r.tables,
                    },
                    dirty: &mut r.dirty,
                    counts: (!found).then_some(&mut r.counts[..]),
                    scan,
                }
            })
            .collect()
    }

    /// After a round in which the threads trained `rows` rows: finds the hot units on
    /// the first round (`tail` is the number of rounds expected between two merges of
    /// the tail), then merges them into `master`, on the pool's threads.
    pub fn merge_hot<O: Optimizer>(
        &mut self,
        pool: &rayon::ThreadPool,
        master: &mut Master<'_>,
        rows: usize,
        tail: usize,
    ) {
        if !self.found {
            self.find_hot(rows, tail);
        }
        self.merge::<O>(pool, master, true);
    }

    /// Merges every unit touched since the last full merge into `master`, on the pool's
    /// threads.
    pub fn merge_all<O: Optimizer>(&mut self, pool: &rayon::ThreadPool, master: &mut Master<'_>) {
        self.merge::<O>(pool, master, false);
    }

    /// The units touched by at least one row in [`HOT_SHARE`] of the first round, and
    /// the tables to scan: those whose units, read in every replica and the master,
    /// number at most 1/[`SCAN_SHARE`] of the touches they would otherwise mark between
    /// two merges of the tail (the first round's touches, `tail` times).
    fn find_hot(&mut self, rows: usize, tail: usize) {
        let min = (rows / HOT_SHARE).max(2);
        let mut hot: Vec<(u32, (u32, u32))> = Vec::new();
        let groups = self.threads.first().map_or(0, |r| r.counts.len());
        self.scan = vec![false; groups];
        for g in 0..groups {
            let mut touches = 0usize;
            for u in 0..self.threads[0].counts[g].len() {
                let n: u32 = self.threads.iter().map(|r| r.counts[g][u] as u32).sum();
                touches += n as usize;
                if n as usize >= min {
                    hot.push((n, (g as u32, u as u32)));
                }
            }
            // The rest is never scanned: its copy of the tables' ranges is stale.
            let read = self.threads[0].counts[g].len() * (self.threads.len() + 1);
            self.scan[g] = g > 0 && read * SCAN_SHARE <= touches * tail;
        }
        if hot.len() > MAX_HOT {
            hot.select_nth_unstable_by(MAX_HOT, |a, b| b.0.cmp(&a.0));
            hot.truncate(MAX_HOT);
        }
        self.hot = vec![Vec::new(); groups];
        for (_, (g, u)) in hot {
            self.hot[g as usize].push(u);
        }
        for h in &mut self.hot {
            h.sort_unstable();
        }
        self.found = true;
        for r in &mut self.threads {
            r.counts = Vec::new();
        }
    }

    /// The delta sum of the hot units (or of every touched unit, clearing the marks)
    /// into `master`, copied back into every replica. Every buffer is cut into one
    /// piece per thread, at the same units in all of them, and each thread merges a
    /// piece: the serial part of a merge is only the cutting.
    fn merge<O: Optimizer>(
        &mut self,
        pool: &rayon::ThreadPool,
        master: &mut Master<'_>,
        hot: bool,
    ) {
        let pieces = self.threads.len();
        let mut work: Vec<Vec<Piece<'_>>> = (0..pieces).map(|_| Vec::new()).collect();
        let mut groups: Vec<Group<'_>> = Vec::new();
        {
            let [s0, s1, s2] = &mut master.s;
            let planes = [&mut master.w[..], &mut s0[..], &mut s1[..], &mut s2[..]];
            groups.push(Group {
                master: planes.into_iter().take(1 + O::STATE).collect(),
                reps: Vec::new(),
                dirty: Vec::new(),
            });
        }
        for t in master.tables.iter_mut() {
            groups.push(Group {
                master: vec![&mut t.data[..]],
                reps: Vec::new(),
                dirty: Vec::new(),
            });
        }
        for r in &mut self.threads {
            let [s0, s1, s2] = &mut r.s;
            let planes = [&mut r.w[..], &mut s0[..], &mut s1[..], &mut s2[..]];
            groups[0]
                .reps
                .push(planes.into_iter().take(1 + O::STATE).collect());
            for (g, t) in r.tables.iter_mut().enumerate() {
                groups[1 + g].reps.push(vec![&mut t.data[..]]);
            }
            for (g, d) in r.dirty.iter_mut().enumerate() {
                groups[g].dirty.push(&mut d[..]);
            }
        }
        for (g, group) in groups.into_iter().enumerate() {
            let hot = hot.then(|| self.hot.get(g).map_or(&[][..], |h| &h[..]));
            let scan = self.scan.get(g).copied().unwrap_or(false);
            for (k, piece) in group.cut(pieces, hot, scan).into_iter().enumerate() {
                work[k].push(piece);
            }
        }
        pool.scope(|s| {
            for pieces in work {
                s.spawn(move |_| pieces.into_iter().for_each(Piece::merge));
            }
        });
    }
}

/// One group's buffers: the master's planes, each replica's, and each replica's marks.
struct Group<'a> {
    master: Vec<&'a mut [f32]>,
    reps: Vec<Vec<&'a mut [f32]>>,
    dirty: Vec<&'a mut [u64]>,
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
    fn merge(mut self) {
        match self.hot {
            Some(hot) => {
                for &u in hot {
                    self.merge_unit(u as usize - self.first);
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
                        self.merge_unit(u);
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
                        self.merge_unit(k * 64 + bits.trailing_zeros() as usize);
                        bits &= bits - 1;
                    }
                }
            }
        }
    }

    /// `master += Σ_t (replica_t − master)` over unit `u` of every plane, then every
    /// replica's unit becomes the master's.
    #[inline]
    fn merge_unit(&mut self, u: usize) {
        let a = u * UNIT;
        let mut acc = [0.0f32; UNIT];
        for (p, m) in self.group.master.iter_mut().enumerate() {
            let b = (a + UNIT).min(m.len());
            let m = &mut m[a..b];
            let n = m.len();
            acc[..n].copy_from_slice(m);
            for r in &self.group.reps {
                for (acc, (x, m)) in acc.iter_mut().zip(r[p][a..a + n].iter().zip(&*m)) {
                    *acc += x - m;
                }
            }
            m.copy_from_slice(&acc[..n]);
            for r in &mut self.group.reps {
                r[p][a..a + n].copy_from_slice(&acc[..n]);
            }
        }
    }
}

/// A replica's packed store, which marks the units each step touches (and counts them
/// while the hot units are being found).
pub(crate) struct Tracked<'a> {
    packed: Packed<'a>,
    dirty: &'a mut [Vec<u64>],
    counts: Option<&'a mut [Vec<u16>]>,
    /// Per group, whether it is scanned, and so not marked, at merges.
    scan: &'a [bool],
}

impl Tracked<'_> {
    #[inline(always)]
    fn touch(&mut self, group: usize, unit: usize) {
        self.dirty[group][unit / 64] |= 1 << (unit % 64);
        if let Some(c) = &mut self.counts {
            let c = &mut c[group][unit];
            *c = c.saturating_add(1);
        }
    }

    /// Marks the units of `len` floats from `a` in `group`.
    #[inline(always)]
    fn touch_span(&mut self, group: usize, a: usize, len: usize) {
        if len > 0 {
            for u in a / UNIT..=(a + len - 1) / UNIT {
                self.touch(group, u);
            }
        }
    }

    /// Marks the rows of `pairs` in `group`: row `i` is `len` floats from
    /// `base + i·stride`. This runs for every pair of every row, so the group's bitmap
    /// and the counts (kept in the first round only) are looked up once per call.
    #[inline(always)]
    fn touch_rows(
        &mut self,
        group: usize,
        base: usize,
        stride: usize,
        len: usize,
        pairs: &[(u32, f32)],
    ) {
        if len == 0 {
            return;
        }
        let units = |i: u32| {
            let a = base + i as usize * stride;
            a / UNIT..=(a + len - 1) / UNIT
        };
        let dirty = &mut self.dirty[group][..];
        if UNIT.is_multiple_of(stride) && base.is_multiple_of(stride) && len <= stride {
            // Each row lies in one unit: a shift and an OR per pair.
            for &(i, _) in pairs {
                let u = (base + i as usize * stride) / UNIT;
                dirty[u / 64] |= 1 << (u % 64);
            }
        } else {
            for &(i, _) in pairs {
                for u in units(i) {
                    dirty[u / 64] |= 1 << (u % 64);
                }
            }
        }
        if let Some(counts) = &mut self.counts {
            let counts = &mut counts[group][..];
            for &(i, _) in pairs {
                for u in units(i) {
                    counts[u] = counts[u].saturating_add(1);
                }
            }
        }
    }

    /// Marks weight `i` of the net's buffer: its unit of the rest, or of its packed
    /// table with the unit of each of its state floats.
    #[inline(always)]
    fn touch_weight<O: Optimizer>(&mut self, i: usize) {
        match holding(self.packed.tables, i) {
            Some((t, p)) => {
                let table = &self.packed.tables[t];
                let (out, stride) = (table.out(), table.stride());
                if O::ROW_WISE {
                    let a = table.row_state(p / stride).expect("row-wise");
                    self.touch(1 + t, p / UNIT);
                    self.touch(1 + t, a / UNIT);
                } else {
                    for j in 0..=O::STATE {
                        self.touch(1 + t, (p + j * out) / UNIT);
                    }
                }
            }
            None => self.touch(0, i / UNIT),
        }
    }
}

impl<'a> Store for Tracked<'a> {
    type View = Packed<'a>;

    #[inline(always)]
    fn view(&self) -> &Packed<'a> {
        &self.packed
    }

    #[inline(always)]
    fn update<O: Optimizer>(&mut self, opt: &O, off: usize, grad: &[f32], scale: f32) -> bool {
        if holding(self.packed.tables, off).is_some() {
            for k in 0..grad.len() {
                self.touch_weight::<O>(off + k);
            }
        } else {
            self.touch_span(0, off, grad.len());
        }
        self.packed.update(opt, off, grad, scale)
    }

    #[inline(always)]
    fn update_rows<O: Optimizer, const OUT: usize>(
        &mut self,
        opt: &O,
        off: usize,
        pairs: &[(u32, f32)],
        dy: &[f32; OUT],
        scale: f32,
    ) -> bool {
        match self
            .packed
            .tables
            .iter()
            .position(|t| t.range().start == off)
        {
            Some(t) => {
                // Marking costs per pair, a scan per unit of the table.
                if !self.scan.get(1 + t).copied().unwrap_or(false) {
                    let table = &self.packed.tables[t];
                    let (stride, states) = (table.stride(), table.row_state(0));
                    self.touch_rows(1 + t, 0, stride, stride, pairs);
                    if let Some(a) = states {
                        self.touch_rows(1 + t, a, 1, 1, pairs);
                    }
                }
            }
            None => self.touch_rows(0, off, OUT, OUT, pairs),
        }
        self.packed.update_rows(opt, off, pairs, dy, scale)
    }

    #[inline]
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        self.packed.prefetch_rows::<O, OUT>(off, pairs);
    }

    #[inline]
    fn map(&mut self, i: usize, f: impl Fn(f32) -> f32) {
        // Priors are not trained with replicas, but a map is a step like any other.
        match holding(self.packed.tables, i) {
            Some((t, p)) => self.touch(1 + t, p / UNIT),
            None => self.touch(0, i / UNIT),
        }
        self.packed.map(i, f);
    }

    #[inline]
    fn swap_stamp(&mut self, r: usize, now: u32) -> u32 {
        self.packed.swap_stamp(r, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::AdaGrad;

    fn pool() -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap()
    }

    /// Adds `d` to weight `i` of the rest and `d²` to its state in replica `t`, as a
    /// training step would.
    fn bump(reps: &mut Replicas, t: usize, i: usize, d: f32) {
        let mut stores = reps.stores();
        let st = &mut stores[t];
        st.touch(0, i / UNIT);
        st.packed.rest.w[i] += d;
        st.packed.rest.s[0][i] += d * d;
    }

    #[test]
    fn merges_sum_every_threads_changes_and_copy_them_back() {
        let n = 5 * UNIT + 3;
        let mut w: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let mut s0 = vec![1.0f32; n];
        let (mut e1, mut e2) = (Vec::new(), Vec::new());
        let mut tables = Vec::new();
        macro_rules! master {
            () => {
                Master {
                    w: &mut w,
                    s: [&mut s0, &mut e1, &mut e2],
                    tables: &mut tables,
                }
            };
        }
        let mut reps = Replicas::new(&pool(), 2, &master!());
        reps.found = true;
        bump(&mut reps, 0, 3, 0.5); // only thread 0
        bump(&mut reps, 1, 40, -2.0); // only thread 1
        bump(&mut reps, 0, 81, 1.0); // both, in the last, short unit
        bump(&mut reps, 1, 81, 3.0);
        reps.merge_all::<AdaGrad>(&pool(), &mut master!());
        let mut want: Vec<f32> = (0..n).map(|i| i as f32).collect();
        want[3] += 0.5;
        want[40] -= 2.0;
        want[81] += 4.0;
        assert_eq!(w, want);
        assert_eq!((s0[3], s0[40], s0[81], s0[0]), (1.25, 5.0, 11.0, 1.0));
        for r in &reps.threads {
            assert_eq!(r.w, want, "every replica holds the merged weights");
            assert_eq!(r.s[0], s0);
            assert!(r.dirty.iter().flatten().all(|&d| d == 0));
        }
        // Nothing touched since: a second merge changes nothing.
        reps.merge_all::<AdaGrad>(&pool(), &mut master!());
        assert_eq!(w, want);
    }

    #[test]
    fn hot_units_are_the_ones_many_rows_touch() {
        let n = 4 * UNIT;
        let (mut w, mut s0) = (vec![0.0f32; n], vec![0.0f32; n]);
        let (mut e1, mut e2, mut tables) = (Vec::new(), Vec::new(), Vec::new());
        let mut master = Master {
            w: &mut w,
            s: [&mut s0, &mut e1, &mut e2],
            tables: &mut tables,
        };
        let mut reps = Replicas::new(&pool(), 2, &master);
        // 640 rows: unit 1 touched by 20 of them (1/32), unit 2 by 5 (under 1/64).
        for k in 0..20 {
            reps.stores()[k % 2].touch(0, 1);
        }
        for k in 0..5 {
            reps.stores()[k % 2].touch(0, 2);
        }
        reps.merge_hot::<AdaGrad>(&pool(), &mut master, 640, FULL_EVERY);
        assert_eq!(reps.hot, [vec![1]]);
        assert!(reps.threads.iter().all(|r| r.counts.is_empty()));
    }

    #[test]
    fn merges_cut_among_threads_sum_every_change() {
        use crate::layers::Block;
        use crate::rng::Rng;
        // The rest and a table (1024 rows of 2, packed with AdaGrad's state to 4
        // floats a row) are each several words of marks long, so each thread's piece
        // holds some of both.
        let n = 6000;
        let blocks = [Block {
            layer: 0,
            offset: 1000,
            len: 2048,
            row: Some(2),
        }];
        let mut rng = Rng::new(3);
        // Multiples of 1/4 add exactly in any order: the merge must be exact.
        let quarter = |rng: &mut Rng, k: usize| (rng.below(k) as f32 - (k / 2) as f32) * 0.25;
        // Tables are marked or scanned; either way the same units merge.
        for (threads, scan) in [(2, false), (3, false), (2, true), (3, true)] {
            let mut w: Vec<f32> = (0..n).map(|_| quarter(&mut rng, 64)).collect();
            let s0: Vec<f32> = (0..n).map(|_| quarter(&mut rng, 64)).collect();
            let mut planes = [s0, Vec::new(), Vec::new()];
            let mut tables = super::super::packed::pack::<AdaGrad>(&blocks, &w, &planes);
            let mut master = Master::of(&mut w, &mut planes, &mut tables);
            let mut reps = Replicas::new(&pool(), threads, &master);
            reps.found = true;
            reps.scan = vec![false, scan];
            let (mut want_w, mut want_s0) = (master.w.to_vec(), master.s[0].to_vec());
            let mut want_t = master.tables[0].data.clone();
            let (mut all_w, mut all_t) = (want_w.clone(), want_t.clone());
            for round in 0..2 {
                for t in 0..threads {
                    for _ in 0..300 {
                        let d = quarter(&mut rng, 16);
                        let st = &mut reps.stores()[t];
                        if quarter(&mut rng, 4) < 0.0 {
                            // A float of the rest outside the table's range.
                            let i = [rng.below(1000), 3048 + rng.below(n - 3048)][rng.below(2)];
                            st.touch(0, i / UNIT);
                            st.packed.rest.w[i] += d;
                            st.packed.rest.s[0][i] -= d;
                            if round == 0 || hot_unit(0, i / UNIT) {
                                want_w[i] += d;
                                want_s0[i] -= d;
                            }
                            all_w[i] += d;
                        } else {
                            let p = rng.below(4096);
                            if !scan {
                                st.touch(1, p / UNIT);
                            }
                            st.packed.tables[0].data[p] += d;
                            if round == 0 || hot_unit(1, p / UNIT) {
                                want_t[p] += d;
                            }
                            all_t[p] += d;
                        }
                    }
                }
                if round == 0 {
                    reps.merge_all::<AdaGrad>(&pool(), &mut master);
                } else {
                    // Only the hot units: a few of the rest's, in every piece, and one
                    // of the table's.
                    reps.hot = vec![hot_units(0), hot_units(1)];
                    reps.merge_hot::<AdaGrad>(&pool(), &mut master, 0, FULL_EVERY);
                }
                let at = format!("{threads} threads, scan {scan}, round {round}");
                // The rest's floats in the table's range are stale while it is packed
                // (a unit that straddles its edge merges them too): they are not
                // compared.
                let rest = |v: &[f32]| [&v[..1000], &v[3048..]].concat();
                same(&rest(master.w), &rest(&want_w), &at);
                same(&rest(master.s[0]), &rest(&want_s0), &at);
                same(&master.tables[0].data, &want_t, &at);
            }
            // What the hot merge left behind is merged by the next full one.
            reps.merge_all::<AdaGrad>(&pool(), &mut master);
            let rest = |v: &[f32]| [&v[..1000], &v[3048..]].concat();
            same(&rest(master.w), &rest(&all_w), "the last full merge");
            same(&master.tables[0].data, &all_t, "the last full merge");
            for r in &reps.threads {
                same(&rest(&r.w), &rest(master.w), "a replica");
                same(&r.tables[0].data, &master.tables[0].data, "a replica");
            }
        }
    }

    #[test]
    fn rows_mark_every_unit_they_span() {
        let n = 4096;
        let (mut w, mut s0) = (vec![0.0f32; n], vec![0.0f32; n]);
        let (mut e1, mut e2, mut tables) = (Vec::new(), Vec::new(), Vec::new());
        let master = Master {
            w: &mut w,
            s: [&mut s0, &mut e1, &mut e2],
            tables: &mut tables,
        };
        let pairs: Vec<(u32, f32)> = [0u32, 5, 7, 8, 63, 100].map(|i| (i, 1.0)).to_vec();
        // Rows within one unit (the fast path) and rows across two (the general one).
        for (base, stride, len) in [
            (0, 2, 2),
            (32, 4, 4),
            (16, 16, 16),
            (2, 4, 4),
            (8, 16, 16),
            (3, 3, 3),
            (0, 24, 20),
        ] {
            let mut reps = Replicas::new(&pool(), 1, &master);
            reps.stores()[0].touch_rows(0, base, stride, len, &pairs);
            let mut want = vec![0u64; reps.threads[0].dirty[0].len()];
            for &(i, _) in &pairs {
                for f in base + i as usize * stride..base + i as usize * stride + len {
                    want[f / UNIT / 64] |= 1 << (f / UNIT % 64);
                }
            }
            assert_eq!(
                reps.threads[0].dirty[0], want,
                "rows of {len} every {stride} from {base}"
            );
            let counted: usize = reps.threads[0].counts[0].iter().map(|&c| c as usize).sum();
            assert!(counted >= pairs.len(), "the first round counts the touches");
        }
    }

    /// Asserts `a == b`, naming the first float that differs.
    fn same(a: &[f32], b: &[f32], at: &str) {
        assert_eq!(a.len(), b.len(), "{at}");
        if let Some(i) = (0..a.len()).find(|&i| a[i] != b[i]) {
            panic!("{at}: float {i} is {}, expected {}", a[i], b[i]);
        }
    }

    /// The test's hot units of `group`: some everywhere, and those either side of every
    /// cut into 2 or 3 pieces (units 128, 192 and 256 of the rest, 64 and 128 of the
    /// table).
    fn hot_units(group: usize) -> Vec<u32> {
        let mut hot: Vec<u32> = if group == 0 {
            (0..375)
                .step_by(37)
                .chain([127, 128, 191, 192, 255, 256])
                .collect()
        } else {
            vec![63, 64, 100, 127, 128]
        };
        hot.sort_unstable();
        hot.dedup();
        hot
    }

    /// Whether unit `u` of `group` is one of the test's hot units.
    fn hot_unit(group: usize, u: usize) -> bool {
        hot_units(group).contains(&(u as u32))
    }

    #[test]
    fn a_small_table_is_scanned_after_the_first_round() {
        use super::super::store::Store;
        use crate::layers::Block;
        // 64 rows of 1 (2 floats with AdaGrad's state: 8 units), then a dense weight.
        let blocks = [Block {
            layer: 0,
            offset: 0,
            len: 64,
            row: Some(1),
        }];
        let mut w = vec![0.0f32; 65];
        let mut planes = [vec![0.0f32; 65], Vec::new(), Vec::new()];
        let mut tables = super::super::packed::pack::<AdaGrad>(&blocks, &w, &planes);
        let mut master = Master::of(&mut w, &mut planes, &mut tables);
        let mut reps = Replicas::new(&pool(), 2, &master);
        let opt = AdaGrad::new(0.1);
        let pairs: Vec<(u32, f32)> = (0..64).map(|i| (i, 1.0)).collect();
        let step = |reps: &mut Replicas, t: usize| {
            reps.stores()[t].update_rows::<AdaGrad, 1>(&opt, 0, &pairs, &[1.0], 1.0)
        };
        // The first round marks and counts: 128 touches of 8 units, read 3 times at a
        // merge, is a table to scan.
        step(&mut reps, 0);
        step(&mut reps, 1);
        reps.merge_hot::<AdaGrad>(&pool(), &mut master, 2, FULL_EVERY);
        assert_eq!(reps.scan, [false, true]);
        reps.merge_all::<AdaGrad>(&pool(), &mut master);
        assert!(reps
            .threads
            .iter()
            .all(|r| r.dirty[1].iter().all(|&d| d == 0)));
        // Later steps of the table are not marked, and merge all the same.
        let before = master.tables[0].data.clone();
        step(&mut reps, 1);
        assert!(reps.threads[1].dirty[1].iter().all(|&d| d == 0));
        reps.merge_all::<AdaGrad>(&pool(), &mut master);
        assert_ne!(master.tables[0].data, before, "the step is merged");
        assert_eq!(reps.threads[0].tables[0].data, master.tables[0].data);
        assert_eq!(reps.threads[1].tables[0].data, master.tables[0].data);
    }
}
