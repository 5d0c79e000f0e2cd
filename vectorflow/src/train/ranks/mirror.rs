//! What a rank keeps to exchange its changes: the value every float had at its last
//! exchange (the *base*, the same on every rank), how a rank's changes since are packed
//! for the sum and how the sum sets the floats (the merge rule, see the module docs of
//! `ranks`), which sparse rows a rank changed, and which rows are hot.

use super::super::chunk::Chunk;
use super::super::store::Master;
use crate::layers::RowInputs;
use crate::params::Params;
use crate::trainable::Trainable;
use crate::weights::Table;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

/// The weight a rank's change takes in a touched weight's average when its
/// accumulator did not grow: the change still counts, below any that did.
const TINY: f32 = 1e-30;

/// At most this many hot rows per rank (the most touched).
const MAX_HOT: usize = 4096;

/// A row is hot when at least 1/`HOT_SHARE` of the sampled rows touch it.
const HOT_SHARE: usize = 64;

/// How the ranks' changes to a weight and its state floats combine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rule {
    /// The state float that accumulates squared gradients, whose change weighs a
    /// rank's change to the weight; then every state float's changes add up. `None`:
    /// changes are averaged over the ranks that made one, states too.
    acc: Option<usize>,
}

impl Rule {
    /// The rule for the optimizer named `name` ([`crate::optim::Optimizer::NAME`]).
    pub fn for_optimizer(name: &str) -> Rule {
        Rule {
            acc: match name {
                "AdaGrad" | "RowAdaGrad" => Some(0),
                // z and n: n sums the squared gradients.
                "Ftrl" => Some(1),
                _ => None,
            },
        }
    }

    /// The weight of a rank's change to a weight: 0 when it did not touch the weight
    /// (nor its state), else its accumulator's growth `dacc` (or 1 without one).
    #[inline]
    fn q(&self, touched: bool, dacc: f32) -> f32 {
        match (touched, self.acc) {
            (false, _) => 0.0,
            (true, Some(_)) => dacc.max(0.0) + TINY,
            (true, None) => 1.0,
        }
    }

    /// What a rank sends of a state's change `d`, its weight's being weighted `q`.
    #[inline]
    fn state(&self, d: f32, q: f32) -> f32 {
        if self.acc.is_some() {
            d
        } else {
            d * q
        }
    }

    /// The new value of a state at `base` from the ranks' sum `sum` of
    /// [`Rule::state`], their weights summing to `q`.
    #[inline]
    fn state_from(&self, base: f32, sum: f32, q: f32) -> f32 {
        match (self.acc, q > 0.0) {
            (Some(_), _) => base + sum,
            (None, true) => base + sum / q,
            (None, false) => base,
        }
    }

    /// Packs one weight's change: `cur[0]` the weight and `cur[1 + j]` its state `j`
    /// now, `base` at the last exchange. Pushes the weighted change, the weight, then
    /// each state's change: `2 + states` floats.
    #[inline]
    pub(super) fn pack(&self, cur: &[f32], base: &[f32], out: &mut Vec<f32>) {
        let touched = differ(cur, base);
        let dacc = self.acc.map_or(0.0, |a| cur[1 + a] - base[1 + a]);
        let q = self.q(touched, dacc);
        out.push((cur[0] - base[0]) * q);
        out.push(q);
        for j in 1..cur.len() {
            out.push(self.state(cur[j] - base[j], q));
        }
    }

    /// Sets `base` (a weight and its states, as [`Rule::pack`] read them) from the sums
    /// `sums` of every rank's packed floats.
    #[inline]
    pub(super) fn apply(&self, base: &mut [f32], sums: &[f32]) {
        let q = sums[1];
        if q > 0.0 {
            base[0] += sums[0] / q;
        }
        for j in 1..base.len() {
            base[j] = self.state_from(base[j], sums[1 + j], q);
        }
    }
}

/// Whether `a` and `b` differ in any bit.
#[inline]
fn differ(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits())
}

/// The positions in table `t`'s data of weight `c` of row `r` and of its states, in a
/// per-weight layout.
#[inline]
fn slots(t: &Table, r: usize, c: usize) -> [usize; 8] {
    let (out, at) = (t.out(), r * t.stride() + c);
    std::array::from_fn(|k| at + k * out)
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
    rule: Rule,
}

impl Mirror {
    /// The base of `master` as it is, combined by `rule`.
    pub fn new(master: &Master<'_>, rule: Rule) -> Mirror {
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
            rule,
        }
    }

    /// The runs of the flat order outside the sparse tables, which every exchange
    /// covers.
    pub fn gaps(&self) -> &[Range<usize>] {
        &self.gaps
    }

    /// The floats a row of table `t` packs into.
    pub fn row_floats(&self, t: &Table) -> usize {
        if t.row_wise() {
            t.out() + 2
        } else {
            t.out() * (2 + t.planes())
        }
    }

    /// Appends this rank's changes since the base to `out`: the weights outside the
    /// tables, then the rows `rows[t]` of each table `t`.
    pub fn pack(&self, master: &Master<'_>, rows: &[Vec<u32>], out: &mut Vec<f32>) {
        let planes = planes(master);
        let (mut cur, mut base) = ([0.0f32; 8], [0.0f32; 8]);
        for g in &self.gaps {
            for i in g.clone() {
                cur[0] = master.w[i];
                base[0] = self.w[i];
                for j in 0..planes {
                    cur[1 + j] = master.s[j][i];
                    base[1 + j] = self.s[j][i];
                }
                self.rule.pack(&cur[..1 + planes], &base[..1 + planes], out);
            }
        }
        for (t, table) in master.tables.iter().enumerate() {
            for &r in &rows[t] {
                self.pack_row(table, &self.tables[t], r as usize, out);
            }
        }
    }

    /// Appends the change of row `r` of `table` since `old`, its base.
    fn pack_row(&self, table: &Table, old: &[f32], r: usize, out: &mut Vec<f32>) {
        let cur = &table.data[..];
        match table.row_state(r) {
            Some(a) => {
                // One state float for the row's weights: its growth weighs them all.
                let w = r * table.out()..(r + 1) * table.out();
                let touched =
                    differ(&cur[w.clone()], &old[w.clone()]) || differ(&cur[a..=a], &old[a..=a]);
                let q = self.rule.q(touched, cur[a] - old[a]);
                out.extend(w.map(|i| (cur[i] - old[i]) * q));
                out.push(q);
                out.push(self.rule.state(cur[a] - old[a], q));
            }
            None => {
                let p = 1 + table.planes();
                for c in 0..table.out() {
                    let at = slots(table, r, c);
                    let x: [f32; 8] = std::array::from_fn(|k| if k < p { cur[at[k]] } else { 0.0 });
                    let y: [f32; 8] = std::array::from_fn(|k| if k < p { old[at[k]] } else { 0.0 });
                    self.rule.pack(&x[..p], &y[..p], out);
                }
            }
        }
    }

    /// Sets the floats [`Mirror::pack`] packed, in `master` and in the base, from the
    /// sums `sums` of every rank's packed floats.
    pub fn apply(&mut self, master: &mut Master<'_>, rows: &[Vec<u32>], sums: &[f32]) {
        let planes = planes(master);
        let mut at = 0;
        let mut base = [0.0f32; 8];
        let rule = self.rule;
        for g in &self.gaps {
            for i in g.clone() {
                base[0] = self.w[i];
                for j in 0..planes {
                    base[1 + j] = self.s[j][i];
                }
                rule.apply(&mut base[..1 + planes], &sums[at..at + 2 + planes]);
                at += 2 + planes;
                (master.w[i], self.w[i]) = (base[0], base[0]);
                for j in 0..planes {
                    (master.s[j][i], self.s[j][i]) = (base[1 + j], base[1 + j]);
                }
            }
        }
        for (t, table) in master.tables.iter_mut().enumerate() {
            let old = &mut self.tables[t];
            for &r in &rows[t] {
                let r = r as usize;
                match table.row_state(r) {
                    Some(a) => {
                        let n = table.out();
                        let q = sums[at + n];
                        for c in 0..n {
                            let i = r * n + c;
                            if q > 0.0 {
                                old[i] += sums[at + c] / q;
                            }
                            table.data[i] = old[i];
                        }
                        old[a] = rule.state_from(old[a], sums[at + n + 1], q);
                        table.data[a] = old[a];
                        at += n + 2;
                    }
                    None => {
                        let p = 1 + table.planes();
                        for c in 0..table.out() {
                            let slot = slots(table, r, c);
                            for k in 0..p {
                                base[k] = old[slot[k]];
                            }
                            rule.apply(&mut base[..p], &sums[at..at + 1 + p]);
                            at += 1 + p;
                            for k in 0..p {
                                (old[slot[k]], table.data[slot[k]]) = (base[k], base[k]);
                            }
                        }
                    }
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
