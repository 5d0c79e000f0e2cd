//! Per-thread replicas: how several threads train without sharing a cache line.
//!
//! Each thread trains its own copy of the weights and optimizer state, with the plain
//! (`&mut`, vectorised) store, and the copies are merged into the net's buffers at chunk
//! boundaries, by all the threads at once, each over its own piece of every buffer. A
//! merge combines each weight and its state by the merge rule ([`super::rule`]): a
//! change only one thread made is kept, accumulators add up, and a weight several
//! threads moved takes the step AdaGrad would have taken on all their gradients (for
//! other optimizers, the average of their changes weighted by each one's steps); the
//! result is copied back into every replica.
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

use super::super::sharing::Changed;
use super::merge::{self, Group, Layout, Master};
use super::packed::Packed;
use super::rule::Rule;
use super::{Plain, Store};
use crate::optim::Optimizer;
use crate::weights::{holding, Table, UNIT};
use rayon::prelude::*;

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

/// One thread's copy of the weights and state, and what it has touched.
///
/// Units are numbered per *group*: group 0 is the rest (a unit there spans the weights
/// and every state plane at the same offsets), group `1 + t` packed table `t`.
pub(crate) struct Replica {
    w: Vec<f32>,
    s: Vec<Vec<f32>>,
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
                        s: master.s.iter().map(|p| copy_rest(p)).collect(),
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
            .map(|r| Tracked {
                packed: Packed {
                    rest: Plain {
                        w: &mut r.w,
                        s: &mut r.s,
                        stamps: &mut [],
                    },
                    tables: &mut r.tables,
                },
                dirty: &mut r.dirty,
                counts: (!found).then_some(&mut r.counts[..]),
                scan,
            })
            .collect()
    }

    /// After a round in which the threads trained `rows` rows: finds the hot units on
    /// the first round (`tail` is the number of rounds expected between two merges of
    /// the tail), then merges them into `master`, on the pool's threads.
    pub fn merge_hot(
        &mut self,
        pool: &rayon::ThreadPool,
        master: &mut Master<'_>,
        rows: usize,
        tail: usize,
        rule: &Rule,
    ) {
        if !self.found {
            self.find_hot(rows, tail);
        }
        self.merge(pool, master, true, rule);
    }

    /// Merges every unit touched since the last full merge into `master`, on the pool's
    /// threads.
    pub fn merge_all(&mut self, pool: &rayon::ThreadPool, master: &mut Master<'_>, rule: &Rule) {
        self.merge(pool, master, false, rule);
    }

    /// Copies the floats `changed` of `master` (set by another process) into every
    /// replica, which held the master's values before.
    pub fn reload(&mut self, master: &Master<'_>, changed: &Changed<'_>) {
        for r in &mut self.threads {
            for run in changed.rest {
                r.w[run.clone()].copy_from_slice(&master.w[run.clone()]);
                for (p, m) in r.s.iter_mut().zip(master.s.iter()) {
                    if !m.is_empty() {
                        p[run.clone()].copy_from_slice(&m[run.clone()]);
                    }
                }
            }
            for ((t, m), rows) in r
                .tables
                .iter_mut()
                .zip(master.tables.iter())
                .zip(changed.rows)
            {
                let stride = m.stride();
                for &row in rows {
                    let a = row as usize * stride;
                    t.data[a..a + stride].copy_from_slice(&m.data[a..a + stride]);
                    if let Some(s) = m.row_state(row as usize) {
                        t.data[s] = m.data[s];
                    }
                }
            }
        }
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

    /// Combines the hot units (or every touched unit, clearing the marks) into
    /// `master`, copied back into every replica, on the pool's threads ([`merge`]).
    fn merge(&mut self, pool: &rayon::ThreadPool, master: &mut Master<'_>, hot: bool, rule: &Rule) {
        let pieces = self.threads.len();
        let mut groups: Vec<Group<'_>> = Vec::new();
        // The rest's planes: the weights, then each state plane.
        groups.push(Group {
            master: std::iter::once(&mut master.w[..])
                .chain(master.s.iter_mut().map(|p| &mut p[..]))
                .collect(),
            reps: Vec::new(),
            dirty: Vec::new(),
            layout: Layout::Planes,
        });
        for t in master.tables.iter_mut() {
            groups.push(Group {
                layout: layout(t),
                master: planes(t),
                reps: Vec::new(),
                dirty: Vec::new(),
            });
        }
        for r in &mut self.threads {
            groups[0].reps.push(
                std::iter::once(&mut r.w[..])
                    .chain(r.s.iter_mut().map(|p| &mut p[..]))
                    .collect(),
            );
            for (g, t) in r.tables.iter_mut().enumerate() {
                groups[1 + g].reps.push(planes(t));
            }
            for (g, d) in r.dirty.iter_mut().enumerate() {
                groups[g].dirty.push(&mut d[..]);
            }
        }
        let groups = groups
            .into_iter()
            .enumerate()
            .map(|(g, group)| {
                let hot = hot.then(|| self.hot.get(g).map_or(&[][..], |h| &h[..]));
                (group, hot, self.scan.get(g).copied().unwrap_or(false))
            })
            .collect();
        merge::run(pool, pieces, groups, rule);
    }
}

/// Where a packed table's coordinates lie, for merges.
fn layout(t: &Table) -> Layout {
    match t.row_state(0) {
        Some(_) => Layout::RowWise {
            out: t.out(),
            rows: t.rows(),
        },
        None => Layout::Rows {
            out: t.out(),
            stride: t.stride(),
            rows: t.rows(),
        },
    }
}

/// A packed table's planes for merges: its rows, and apart, a row-wise layout's states.
fn planes(t: &mut Table) -> Vec<&mut [f32]> {
    let rows = t.rows();
    match t.row_state(0) {
        Some(a) => {
            let (w, s) = t.data.split_at_mut(a);
            vec![w, &mut s[..rows]]
        }
        None => vec![&mut t.data[..]],
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
#[path = "replica_tests.rs"]
mod tests;
