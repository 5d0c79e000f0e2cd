//! What a rank keeps to exchange its changes: the value every float had at its last
//! exchange (the *base*, the same on every rank), how a rank's changes since are packed
//! for the sum and how the sum sets the floats (by a merge rule, `store/rule.rs`, per
//! coordinate: a weight and its state floats; the caller picks the rule of each
//! exchange), which sparse rows a rank changed, and which rows are hot.

use super::super::chunk::Chunk;
use super::super::store::rule::{Rule, MAX_WIDTH};
use super::super::store::Master;
use crate::layers::RowInputs;
use crate::params::Params;
use crate::trainable::Trainable;
use crate::weights::Table;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

/// At most this many hot rows per rank (the most touched).
const MAX_HOT: usize = 4096;

/// A row is hot when at least 1/`HOT_SHARE` of the sampled rows touch it. Hot rows
/// merge by the averaged rule, the others by the rescaled sum: measured with
/// `examples/ranks_sim.rs` (see the module docs of `ranks`), 32 beat 16, 64, 128 and
/// 1,024 for LR and the 16-unit net at 4 and 16 ranks.
const HOT_SHARE: usize = 32;

/// Whether `a` and `b` differ in any bit.
#[inline]
fn differ(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits())
}

/// The positions in table `t`'s data of weight `c` of row `r` and of its state floats:
/// its coordinate (in a row-wise layout, the row's state float stands beside each of its
/// weights).
#[inline]
fn slots(t: &Table, r: usize, c: usize) -> Slots {
    match t.row_state(r) {
        Some(a) => Slots::of(&[r * t.out() + c, a]),
        None => {
            let (out, at) = (t.out(), r * t.stride() + c);
            let mut s = Slots::of(&[]);
            for k in 0..=t.planes() {
                s.push(at + k * out);
            }
            s
        }
    }
}

/// The positions of one coordinate's floats.
struct Slots {
    at: [usize; MAX_WIDTH],
    len: usize,
}

impl Slots {
    fn of(at: &[usize]) -> Slots {
        let mut s = Slots {
            at: [0; MAX_WIDTH],
            len: 0,
        };
        at.iter().for_each(|&a| s.push(a));
        s
    }

    fn push(&mut self, a: usize) {
        self.at[self.len] = a;
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn iter(&self) -> std::slice::Iter<'_, usize> {
        self.at[..self.len].iter()
    }
}

/// The base of every float a rank exchanges.
pub(crate) struct Mirror {
    /// The runs of the flat order outside the sparse tables.
    gaps: Vec<Range<usize>>,
    /// The weights and state planes at their last exchange, in the gaps (zeros in the
    /// tables' ranges, which take no memory).
    w: Vec<f32>,
    s: Vec<Vec<f32>>,
    /// Each table's rows at their last exchange.
    tables: Vec<Vec<f32>>,
}

impl Mirror {
    /// The base of `master` as it is.
    pub fn new(master: &Master<'_>) -> Mirror {
        let gaps = gaps(master);
        let copy = |from: &[f32]| {
            let mut v = vec![0.0f32; from.len()];
            for g in &gaps {
                v[g.clone()].copy_from_slice(&from[g.clone()]);
            }
            v
        };
        Mirror {
            w: copy(master.w),
            s: master.s.iter().map(|p| copy(p)).collect(),
            tables: master.tables.iter().map(|t| t.data.to_vec()).collect(),
            gaps: gaps.clone(),
        }
    }

    /// The runs of the flat order outside the sparse tables, which every exchange
    /// covers.
    pub fn gaps(&self) -> &[Range<usize>] {
        &self.gaps
    }

    /// The floats a row of table `t` packs into by `rule`.
    pub fn row_floats(t: &Table, rule: &Rule) -> usize {
        t.out() * rule.sums()
    }

    /// Appends this rank's changes since the base to `out`, for `rule`: the weights
    /// outside the tables, then the rows `rows[t]` of each table `t`.
    pub fn pack(&self, rule: &Rule, master: &Master<'_>, rows: &[Vec<u32>], out: &mut Vec<f32>) {
        let planes = planes(master);
        let (mut cur, mut base) = ([0.0f32; MAX_WIDTH], [0.0f32; MAX_WIDTH]);
        let mut add = |cur: &[f32], base: &[f32]| {
            let at = out.len();
            out.resize(at + rule.sums(), 0.0);
            rule.add(base, cur, &mut out[at..]);
        };
        for g in &self.gaps {
            for i in g.clone() {
                cur[0] = master.w[i];
                base[0] = self.w[i];
                for j in 0..planes {
                    cur[1 + j] = master.s[j][i];
                    base[1 + j] = self.s[j][i];
                }
                add(&cur[..1 + planes], &base[..1 + planes]);
            }
        }
        for (t, table) in master.tables.iter().enumerate() {
            let old = &self.tables[t];
            for &r in &rows[t] {
                for c in 0..table.out() {
                    let at = slots(table, r as usize, c);
                    let n = at.len();
                    for (k, &a) in at.iter().enumerate() {
                        (cur[k], base[k]) = (table.data[a], old[a]);
                    }
                    add(&cur[..n], &base[..n]);
                }
            }
        }
    }

    /// Sets the floats [`Mirror::pack`] packed, in `master` and in the base, by `rule`
    /// (the one they were packed for) from the sums `sums` of every rank's packed floats.
    pub fn apply(&mut self, rule: &Rule, master: &mut Master<'_>, rows: &[Vec<u32>], sums: &[f32]) {
        let planes = planes(master);
        let step = rule.sums();
        let mut at = 0;
        let (mut base, mut new) = ([0.0f32; MAX_WIDTH], [0.0f32; MAX_WIDTH]);
        for g in &self.gaps {
            for i in g.clone() {
                base[0] = self.w[i];
                for j in 0..planes {
                    base[1 + j] = self.s[j][i];
                }
                rule.finish(&base[..1 + planes], &sums[at..at + step], &mut new);
                at += step;
                (master.w[i], self.w[i]) = (new[0], new[0]);
                for j in 0..planes {
                    (master.s[j][i], self.s[j][i]) = (new[1 + j], new[1 + j]);
                }
            }
        }
        let mut row = Vec::new();
        for (t, table) in master.tables.iter_mut().enumerate() {
            let old = &mut self.tables[t];
            for &r in &rows[t] {
                // Every coordinate of the row from the base, then written: in a row-wise
                // layout they share the row's state float.
                row.clear();
                for c in 0..table.out() {
                    let slot = slots(table, r as usize, c);
                    for (k, &a) in slot.iter().enumerate() {
                        base[k] = old[a];
                    }
                    rule.finish(&base[..slot.len()], &sums[at..at + step], &mut new);
                    at += step;
                    row.extend(slot.iter().zip(&new).map(|(&a, &x)| (a, x)));
                }
                for &(a, x) in &row {
                    (old[a], table.data[a]) = (x, x);
                }
            }
        }
        debug_assert_eq!(at, sums.len(), "every packed float is applied");
    }

    /// The rows of each table this rank changed since their base.
    pub fn touched(&self, master: &Master<'_>) -> Vec<Vec<u32>> {
        master
            .tables
            .iter()
            .zip(&self.tables)
            .map(|(t, old)| {
                let (cur, stride) = (&t.data[..], t.stride());
                (0..t.rows())
                    .filter(|&r| {
                        let w = r * stride..(r + 1) * stride;
                        differ(&cur[w.clone()], &old[w])
                            || t.row_state(r)
                                .is_some_and(|a| differ(&cur[a..=a], &old[a..=a]))
                    })
                    .map(|r| r as u32)
                    .collect()
            })
            .collect()
    }
}

/// The runs of `master`'s flat order outside its sparse tables.
pub(super) fn gaps(master: &Master<'_>) -> Vec<Range<usize>> {
    let n = master.w.len();
    let mut ranges: Vec<_> = master.tables.iter().map(|t| t.range()).collect();
    ranges.sort_by_key(|r| r.start);
    let mut gaps = Vec::new();
    let mut at = 0;
    for r in ranges.iter().chain([&(n..n)]) {
        if at < r.start {
            gaps.push(at..r.start);
        }
        at = at.max(r.end);
    }
    gaps
}

/// Every float of `master` a rank trains: the weights and state planes outside the
/// sparse tables, then each table's rows; what ranks broadcast and compare.
pub(super) fn floats<'m>(master: &'m mut Master<'_>) -> Vec<&'m mut [f32]> {
    let gaps = gaps(master);
    let mut out = Vec::new();
    for plane in std::iter::once(&mut *master.w).chain(master.s.iter_mut().map(|p| &mut p[..])) {
        let mut rest: &mut [f32] = plane;
        let mut at = 0;
        if rest.is_empty() {
            continue;
        }
        for g in &gaps {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(g.start - at);
            let (run, tail) = tail.split_at_mut(g.len());
            out.push(run);
            (rest, at) = (tail, g.end);
        }
    }
    out.extend(master.tables.iter_mut().map(|t| &mut t.data[..]));
    out
}

/// A checksum of every float of `master` a rank trains.
pub(super) fn checksum(master: &mut Master<'_>) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for v in floats(master) {
        for x in v.iter() {
            h = (h ^ x.to_bits() as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The state planes of `master` in use.
fn planes(master: &Master<'_>) -> usize {
    master.s.iter().filter(|p| !p.is_empty()).count()
}

/// The sparse rows the rows a rank trains first touch, counted.
pub(crate) struct Counter {
    /// Each table's offset in the flat order.
    offsets: Vec<usize>,
    counts: HashMap<(u32, u32), u32>,
    sampled: usize,
    want: usize,
}

impl Counter {
    /// Counts the touches of the first `want` rows, in tables at `offsets`.
    pub fn new(offsets: Vec<usize>, want: usize) -> Counter {
        Counter {
            offsets,
            counts: HashMap::new(),
            sampled: 0,
            want,
        }
    }

    /// Counts the sparse rows the rows `rows` of `chunk` touch in `net`, while fewer
    /// than its `want` rows were counted. A row that does not load is left to
    /// training, which reports it.
    pub fn sample<M: Trainable, C: Chunk<M>>(&mut self, net: &M, chunk: &C, rows: &[u32]) {
        let take = rows.len().min(self.want.saturating_sub(self.sampled));
        if take == 0 {
            return;
        }
        let mut ws = net.workspace(None);
        let mut inputs = RowInputs::default();
        let seen = Touches {
            offsets: &self.offsets,
            seen: RefCell::new(Vec::new()),
        };
        for &i in &rows[..take] {
            if chunk.load(net, i as usize, &mut inputs).is_ok() {
                net.prefetch(&seen, &mut ws, &inputs);
            }
        }
        for key in seen.seen.into_inner() {
            *self.counts.entry(key).or_default() += 1;
        }
        self.sampled += take;
    }

    /// The hot rows, `(table, row)` sorted: those at least 1/[`HOT_SHARE`] of the
    /// counted rows touched (and at least 2), the [`MAX_HOT`] most touched.
    pub fn hot(&self) -> Vec<(u32, u32)> {
        let min = (self.sampled / HOT_SHARE).max(2) as u32;
        let mut hot: Vec<((u32, u32), u32)> = self
            .counts
            .iter()
            .filter(|(_, &n)| n >= min)
            .map(|(&k, &n)| (k, n))
            .collect();
        hot.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        hot.truncate(MAX_HOT);
        let mut rows: Vec<(u32, u32)> = hot.into_iter().map(|(k, _)| k).collect();
        rows.sort_unstable();
        rows
    }
}

/// Parameters that read nothing and record the sparse rows a forward pass of the input
/// layer would read: `(table, row)`.
struct Touches<'a> {
    offsets: &'a [usize],
    seen: RefCell<Vec<(u32, u32)>>,
}

impl Params for Touches<'_> {
    fn get(&self, _: usize) -> f32 {
        0.0
    }
    fn gather<const OUT: usize>(&self, _: usize, _: &[(u32, f32)], _: &mut [f32; OUT]) {}
    fn prefetch_rows<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        if let Some(t) = self.offsets.iter().position(|&o| o == off) {
            let mut seen = self.seen.borrow_mut();
            seen.extend(pairs.iter().map(|&(i, _)| (t as u32, i)));
        }
    }
}
