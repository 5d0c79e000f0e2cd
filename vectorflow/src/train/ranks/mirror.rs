//! What a rank keeps to exchange its changes: the value every float had at its last
//! exchange (the *base*, the same on every rank), how a rank's changes since are packed
//! for the sum and how the sum sets the floats (by a merge rule, `store/rule.rs`, per
//! coordinate: a weight and its state floats; the caller picks the rule of each
//! exchange), which sparse rows a rank changed, and which rows are hot.

use super::super::chunk::Chunk;
use super::super::store::rule::{Lanes, Rule, MAX_WIDTH};
use super::super::store::Master;
use super::momentum::Momentum;
use crate::layers::RowInputs;
use crate::params::Params;
use crate::trainable::Trainable;
use crate::weights::aligned::UNIT;
use crate::weights::Table;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ops::Range;

/// At most this many hot rows per rank (the most touched).
const MAX_HOT: usize = 4096;

/// A row is hot when at least 1/`HOT_SHARE` of the sampled rows touch it. Hot rows
/// merge by the averaged rule, the others by the rescaled sum: measured with
/// `examples/ranks_sim.rs` (see the module docs of `ranks`), 32 beat 16, 64, 128 and
/// 1,024 for LR and the 16-unit net at 4 and 16 ranks; and still with the rounds'
/// momentum (16 ranks, 200k rows, a round every 2,048, 3 passes: LR 0.4574 / 0.4546 /
/// 0.4560 / 0.4598 at 1/16, 1/32, 1/128, 1/512; the net 0.4674 / 0.4659 / 0.4680 at
/// 1/16, 1/32, 1/128).
const HOT_SHARE: usize = 32;

/// Whether `a` and `b` differ in any bit.
#[inline]
fn differ(a: &[f32], b: &[f32]) -> bool {
    a.iter().zip(b).any(|(x, y)| x.to_bits() != y.to_bits())
}

/// Runs `$body` with `$W` a const of at least `$width` floats: the width itself for
/// the library's optimizers (SGD 1, AdaGrad and momentum 2, FTRL 3, Adam 4), so that a
/// coordinate's lanes are no more floats than it has.
macro_rules! by_width {
    ($width:expr, $W:ident => $body:expr) => {
        by_width!(@arms $width, $W, $body, [1, 2, 3, 4])
    };
    (@arms $width:expr, $W:ident, $body:expr, [$($w:literal),*]) => {
        match $width {
            $($w => {
                const $W: usize = $w;
                $body
            })*
            _ => {
                const $W: usize = MAX_WIDTH;
                $body
            }
        }
    };
}

/// Coordinates a pack or an apply handles at once: a cache line of weights.
const LANES: usize = UNIT;

/// Where float `f` of up to [`LANES`] consecutive coordinates lies in its buffer: a run
/// of consecutive floats, or one float every coordinate shares (a row-wise optimizer's
/// row state).
#[derive(Clone, Copy)]
struct Run {
    at: usize,
    shared: bool,
}

/// Every float of `n` coordinates from `at` lies in a run of its plane (outside the
/// tables, each float has a plane of its own): the runs and `n`, chunk after chunk of
/// the gaps `gaps`.
fn gap_chunks(gaps: &[Range<usize>]) -> impl Iterator<Item = ([Run; MAX_WIDTH], usize)> + '_ {
    gaps.iter().flat_map(|g| {
        g.clone().step_by(LANES).map(|at| {
            let run = Run { at, shared: false };
            ([run; MAX_WIDTH], LANES.min(g.end - at))
        })
    })
}

/// Float `f`'s plane outside the tables: the weights `w`, then each state plane of `s`.
fn plane<'a>(w: &'a [f32], s: &'a [Vec<f32>], f: usize) -> &'a [f32] {
    if f == 0 {
        w
    } else {
        &s[f - 1]
    }
}

/// The runs of table `t`'s coordinates `c..` of row `r` (in its data): the weights, then
/// each state float, or the row's state float.
#[inline]
fn table_runs(t: &Table, r: usize, c: usize) -> [Run; MAX_WIDTH] {
    let mut runs = [Run {
        at: 0,
        shared: false,
    }; MAX_WIDTH];
    match t.row_state(r) {
        Some(a) => {
            runs[0].at = r * t.out() + c;
            runs[1] = Run {
                at: a,
                shared: true,
            };
        }
        None => {
            let at = r * t.stride() + c;
            for (k, run) in runs.iter_mut().enumerate().take(t.planes() + 1) {
                run.at = at + k * t.out();
            }
        }
    }
    runs
}

/// The `n` coordinates at `runs` of the buffers `planes(f)` (float `f`'s), as lanes;
/// lanes past `n` and floats past `runs` zero, but a shared float fills its lanes.
#[inline(always)]
fn gather<'p, const N: usize, const W: usize>(
    planes: impl Fn(usize) -> &'p [f32],
    runs: &[Run],
    n: usize,
) -> Lanes<N, W> {
    let mut l = [[0.0f32; N]; W];
    for (f, (run, lanes)) in runs.iter().zip(&mut l).enumerate() {
        let plane = planes(f);
        if run.shared {
            *lanes = [plane[run.at]; N];
        } else {
            lanes[..n].copy_from_slice(&plane[run.at..run.at + n]);
        }
    }
    l
}

/// Appends the sums of copy `x` against `m` (`n` coordinates, `width` floats each) to
/// `out`: each float's `n` sums, then the `n` weights' totals.
#[inline(always)]
fn push_sums<const N: usize, const W: usize>(
    rule: &Rule,
    (m, x): (&Lanes<N, W>, &Lanes<N, W>),
    n: usize,
    out: &mut Vec<f32>,
) {
    let (mut sums, mut total) = ([[0.0f32; N]; W], [0.0f32; N]);
    rule.add_changed(m, x, &mut sums, &mut total);
    for s in &sums[..rule.width()] {
        out.extend_from_slice(&s[..n]);
    }
    out.extend_from_slice(&total[..n]);
}

/// The merge of `n` coordinates from their base `m` and the summed floats at the front
/// of `sums` (as [`push_sums`] laid them out), which it consumes; the weights carried
/// on by `momentum` if given, from coordinate `coord` on.
#[inline(always)]
fn merged<const N: usize, const W: usize>(
    rule: &Rule,
    m: &Lanes<N, W>,
    n: usize,
    sums: &mut &[f32],
    (momentum, coord): (&mut Option<&mut Momentum>, &mut usize),
) -> Lanes<N, W> {
    let (mut s, mut total) = ([[0.0f32; N]; W], [0.0f32; N]);
    for lanes in s.iter_mut().take(rule.width()).chain([&mut total]) {
        let (head, rest) = sums.split_at(n);
        lanes[..n].copy_from_slice(head);
        *sums = rest;
    }
    let mut out = *m;
    rule.finish_lanes(m, (&s, &total), &mut out);
    if let Some(mo) = momentum.as_deref_mut() {
        for c in 0..n {
            out[0][c] = mo.carry(*coord + c, m[0][c], out[0][c]);
        }
    }
    *coord += n;
    out
}

/// Writes `n` merged coordinates at `runs` into a table's base and data, but a shared
/// float, kept in `shared` for the caller to write once its row is done.
#[inline(always)]
fn put<const N: usize, const W: usize>(
    new: &Lanes<N, W>,
    runs: &[Run],
    n: usize,
    (old, data, shared): (&mut [f32], &mut [f32], &mut Option<(usize, f32)>),
) {
    for (run, lanes) in runs.iter().zip(new) {
        if run.shared {
            *shared = Some((run.at, lanes[n - 1]));
        } else {
            old[run.at..run.at + n].copy_from_slice(&lanes[..n]);
            data[run.at..run.at + n].copy_from_slice(&lanes[..n]);
        }
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
    /// outside the tables, then the rows `rows[t]` of each table `t`, [`LANES`]
    /// coordinates at a time.
    pub fn pack(&self, rule: &Rule, master: &Master<'_>, rows: &[Vec<u32>], out: &mut Vec<f32>) {
        debug_assert_eq!(
            rule.width(),
            1 + planes(master),
            "the rule of the optimizer"
        );
        by_width!(rule.width(), W => self.pack_width::<W>(rule, master, rows, out))
    }

    /// [`Mirror::pack`] for coordinates of at most `W` floats.
    fn pack_width<const W: usize>(
        &self,
        rule: &Rule,
        master: &Master<'_>,
        rows: &[Vec<u32>],
        out: &mut Vec<f32>,
    ) {
        let cur = |f| plane(master.w, master.s, f);
        let base = |f| plane(&self.w, &self.s, f);
        for (runs, n) in gap_chunks(&self.gaps) {
            let runs = &runs[..rule.width()];
            let (m, x) = (gather(base, runs, n), gather(cur, runs, n));
            push_sums::<LANES, W>(rule, (&m, &x), n, out);
        }
        for (t, table) in master.tables.iter().enumerate() {
            let (old, now) = (&self.tables[t][..], &table.data[..]);
            for &r in &rows[t] {
                for c in (0..table.out()).step_by(LANES) {
                    let n = LANES.min(table.out() - c);
                    let runs = &table_runs(table, r as usize, c)[..rule.width()];
                    // A logistic regression's rows hold one coordinate each.
                    if n == 1 {
                        let (m, x) = (gather(|_| old, runs, 1), gather(|_| now, runs, 1));
                        push_sums::<1, W>(rule, (&m, &x), 1, out);
                    } else {
                        let (m, x) = (gather(|_| old, runs, n), gather(|_| now, runs, n));
                        push_sums::<LANES, W>(rule, (&m, &x), n, out);
                    }
                }
            }
        }
    }

    /// Sets the floats [`Mirror::pack`] packed, in `master` and in the base, by `rule`
    /// (the one they were packed for) from the sums `sums` of every rank's packed floats,
    /// each weight carried on by `momentum` if given.
    pub fn apply(
        &mut self,
        rule: &Rule,
        master: &mut Master<'_>,
        rows: &[Vec<u32>],
        sums: &[f32],
        momentum: Option<&mut Momentum>,
    ) {
        by_width!(rule.width(), W => self.apply_width::<W>(rule, master, rows, sums, momentum))
    }

    /// [`Mirror::apply`] for coordinates of at most `W` floats.
    fn apply_width<const W: usize>(
        &mut self,
        rule: &Rule,
        master: &mut Master<'_>,
        rows: &[Vec<u32>],
        mut sums: &[f32],
        mut momentum: Option<&mut Momentum>,
    ) {
        let width = rule.width();
        let mut coord = 0;
        for (runs, n) in gap_chunks(&self.gaps) {
            let base = |f| plane(&self.w, &self.s, f);
            let m: Lanes<LANES, W> = gather(base, &runs[..width], n);
            let new = merged(rule, &m, n, &mut sums, (&mut momentum, &mut coord));
            let i = runs[0].at;
            for (f, lanes) in new.iter().enumerate().take(width) {
                let (to, mine) = match f {
                    0 => (&mut master.w[i..i + n], &mut self.w[i..i + n]),
                    _ => (&mut master.s[f - 1][i..i + n], &mut self.s[f - 1][i..i + n]),
                };
                to.copy_from_slice(&lanes[..n]);
                mine.copy_from_slice(&lanes[..n]);
            }
        }
        for (t, table) in master.tables.iter_mut().enumerate() {
            let old = &mut self.tables[t];
            for &r in &rows[t] {
                // A shared float is written once the row's every coordinate merged from
                // the base: each takes its row's state float as it was.
                let mut shared = None;
                for c in (0..table.out()).step_by(LANES) {
                    let n = LANES.min(table.out() - c);
                    let runs = table_runs(table, r as usize, c);
                    let runs = &runs[..width];
                    let at = (&mut momentum, &mut coord);
                    let to = (&mut old[..], &mut table.data[..], &mut shared);
                    if n == 1 {
                        let m: Lanes<1, W> = gather(|_| &*to.0, runs, 1);
                        put(&merged(rule, &m, 1, &mut sums, at), runs, 1, to);
                    } else {
                        let m: Lanes<LANES, W> = gather(|_| &*to.0, runs, n);
                        put(&merged(rule, &m, n, &mut sums, at), runs, n, to);
                    }
                }
                if let Some((a, x)) = shared {
                    (old[a], table.data[a]) = (x, x);
                }
            }
        }
        debug_assert!(sums.is_empty(), "every packed float is applied");
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
        self.prefetch_rows_dyn(off, OUT, pairs)
    }
    fn prefetch_rows_dyn(&self, off: usize, _out: usize, pairs: &[(u32, f32)]) {
        if let Some(t) = self.offsets.iter().position(|&o| o == off) {
            let mut seen = self.seen.borrow_mut();
            seen.extend(pairs.iter().map(|&(i, _)| (t as u32, i)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{AdaGrad, Optimizer, RowAdaGrad};

    /// One rank's floats: the flat weights and state plane (their gaps used), a table.
    #[derive(Clone)]
    struct Floats {
        w: Vec<f32>,
        s: Vec<Vec<f32>>,
        tables: Vec<Table>,
    }

    impl Floats {
        fn master(&mut self) -> Master<'_> {
            Master {
                w: &mut self.w,
                s: &mut self.s,
                tables: &mut self.tables,
            }
        }
    }

    /// The positions in table `t`'s data of coordinate `c` of row `r`: its weight, then
    /// its state floats (a row-wise layout's one per row).
    fn coordinate(t: &Table, r: usize, c: usize) -> Vec<usize> {
        match t.row_state(r) {
            Some(a) => vec![r * t.out() + c, a],
            None => (0..=t.planes())
                .map(|k| r * t.stride() + k * t.out() + c)
                .collect(),
        }
    }

    /// Two ranks' changes, exchanged lane-wise by `Mirror::pack` and `Mirror::apply`,
    /// give each coordinate what the rule's one-coordinate form gives it.
    fn exchange_as_one_coordinate_at_a_time<O: Optimizer>(opt: O) {
        // Rows of 20: a first lane of 16 and 4 more.
        let (out, rows, gap) = (20, 3, 5);
        let n = 2 * gap + rows * out;
        let in_table = |i: usize| (gap..gap + rows * out).contains(&i);
        let flat: Vec<f32> = (0..rows * out).map(|i| 0.01 * i as f32).collect();
        let mut table = Table::bare(gap, out, &flat);
        table.lay_out(&opt, false);
        let mut base = Floats {
            w: (0..n)
                .map(|i| if in_table(i) { 0.0 } else { 0.5 + i as f32 })
                .collect(),
            s: vec![vec![1.0; n]],
            tables: vec![table],
        };
        let (mut a, mut b) = (base.clone(), base.clone());
        a.w[1] += 0.25;
        a.s[0][1] += 0.5;
        b.w[1] -= 0.5;
        b.s[0][1] += 0.25;
        b.w[n - 2] += 1.0;
        b.s[0][n - 2] += 2.0;
        // Rank a changes all of row 0 and one weight of row 2; rank b every third
        // weight of row 2 and one of row 1; each grows the state of the rows it moves.
        let moves = [
            (
                &mut a,
                vec![(0, (0..out).collect::<Vec<_>>()), (2, vec![17])],
            ),
            (
                &mut b,
                vec![(2, (0..out).step_by(3).collect()), (1, vec![4])],
            ),
        ];
        for (copy, rows) in moves {
            let t = &mut copy.tables[0];
            for (r, cs) in rows {
                for c in cs {
                    let at = coordinate(t, r, c);
                    t.data[at[0]] += 0.1 * (c + 1) as f32;
                    t.data[at[1]] += 0.3;
                }
            }
        }
        for rule in [Rule::new::<O>(), Rule::new::<O>().averaged()] {
            let mut mirror = Mirror::new(&base.master());
            let touched = vec![vec![0u32, 1, 2]];
            let (mut pa, mut pb) = (Vec::new(), Vec::new());
            mirror.pack(&rule, &a.clone().master(), &touched, &mut pa);
            mirror.pack(&rule, &b.clone().master(), &touched, &mut pb);
            let sums: Vec<f32> = pa.iter().zip(&pb).map(|(x, y)| x + y).collect();
            let mut merged = a.clone();
            mirror.apply(&rule, &mut merged.master(), &touched, &sums, None);
            // Every coordinate, one at a time.
            let check = |m: Vec<f32>, xs: [Vec<f32>; 2], got: Vec<f32>, what: String| {
                let mut s = vec![0.0; rule.sums()];
                xs.iter().for_each(|x| rule.add(&m, x, &mut s));
                let mut want = vec![0.0; rule.width()];
                rule.finish(&m, &s, &mut want);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{what}");
            };
            for i in (0..n).filter(|&i| !in_table(i)) {
                let at = |f: &Floats| vec![f.w[i], f.s[0][i]];
                check(at(&base), [at(&a), at(&b)], at(&merged), format!("w[{i}]"));
            }
            for r in 0..rows {
                for c in 0..out {
                    let pos = coordinate(&base.tables[0], r, c);
                    let at = |f: &Floats| pos.iter().map(|&p| f.tables[0].data[p]).collect();
                    let what = format!("row {r} weight {c}");
                    check(at(&base), [at(&a), at(&b)], at(&merged), what);
                }
            }
            // The base is the merged floats now: nothing changed since.
            assert!(mirror.touched(&merged.master())[0].is_empty());
        }
    }

    #[test]
    fn lanes_exchange_what_one_coordinate_at_a_time_does() {
        exchange_as_one_coordinate_at_a_time(AdaGrad::new(0.1));
        exchange_as_one_coordinate_at_a_time(RowAdaGrad::new(0.1));
    }
}
