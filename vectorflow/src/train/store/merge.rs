//! The parallel merge of replicas: every buffer of a group (the master's planes, each
//! replica's and each replica's marks) is cut into one piece per thread, at the same
//! blocks in all of them, and each thread merges its piece: the serial part of a merge
//! is only the cutting.
//!
//! A merge visits *blocks*, the fewest whole units that hold whole rows (a unit of the
//! rest; a packed row of weights and state that spans two units, both), so that each
//! weight is merged with its own state floats however the group lays them out
//! ([`Layout`]), and combines each coordinate (a weight and its state) of a visited block
//! by the merge rule ([`super::rule`]), then copies the result into every replica. A
//! way of sharing across processes finishes the same coordinates from sums over ranks
//! instead (see the rule's docs).

use super::rule::{same_lanes, Combining, Lanes, Rule, MAX_WIDTH};
use crate::weights::{Table, UNIT};

/// The most coordinates merged at once: a unit of the rest, whose planes hold one float
/// of each of its coordinates.
const LANES: usize = UNIT;

/// The buffers being trained: the net's weights and state planes (the *rest*, whose
/// sparse tables are stale while packed) and the packed tables.
pub(crate) struct Master<'a> {
    pub w: &'a mut [f32],
    pub s: &'a mut [Vec<f32>],
    pub tables: &'a mut [Table],
}

/// Where a group's coordinates lie in its planes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Layout {
    /// Planes at the same offsets: plane 0 the weights, plane `1 + j` state `j` (the
    /// rest).
    Planes,
    /// One plane of `rows` rows `[w(out) | s₀(out) | …]` of `stride` floats (a packed
    /// table).
    Rows {
        out: usize,
        stride: usize,
        rows: usize,
    },
    /// Plane 0 the `rows` rows of `out` weights, plane 1 each row's state float (a
    /// row-wise table): the state stands beside each weight of its row.
    RowWise { out: usize, rows: usize },
}

/// The least common multiple of `a` and `b`.
fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    a / x * b
}

impl Layout {
    /// Units of plane 0 per block: whole units of whole rows.
    fn units(&self) -> usize {
        match *self {
            Layout::Planes => 1,
            Layout::Rows { stride, .. } => lcm(stride, UNIT) / UNIT,
            Layout::RowWise { out, .. } => lcm(out, UNIT) / UNIT,
        }
    }

    /// Floats of plane `p` per block.
    fn floats(&self, p: usize) -> usize {
        match *self {
            Layout::RowWise { out, .. } if p == 1 => lcm(out, UNIT) / out,
            _ => self.units() * UNIT,
        }
    }
}

/// Merges `groups` by `rule` on `pool`, each cut into one piece per thread of the pool:
/// for each group, its hot units if it has a list (`Some`), else its touched units,
/// found by comparing the replicas with the master when it is scanned, else by its
/// marks (which are cleared).
pub(crate) fn run(
    pool: &rayon::ThreadPool,
    pieces: usize,
    groups: Vec<(Group<'_>, Option<&[u32]>, bool)>,
    rule: &Rule,
) {
    let mut work: Vec<Vec<Piece<'_>>> = (0..pieces).map(|_| Vec::new()).collect();
    for (group, hot, scan) in groups {
        for (k, piece) in group.cut(pieces, hot, scan).into_iter().enumerate() {
            work[k].push(piece);
        }
    }
    pool.scope(|s| {
        for pieces in work {
            s.spawn(move |_| pieces.into_iter().for_each(|p| p.merge(rule)));
        }
    });
}

/// One group's buffers: the master's planes, each replica's, and each replica's marks
/// (one bit per unit of plane 0, and of what follows it in the same table).
pub(crate) struct Group<'a> {
    pub master: Vec<&'a mut [f32]>,
    pub reps: Vec<Vec<&'a mut [f32]>>,
    pub dirty: Vec<&'a mut [u64]>,
    pub layout: Layout,
}

/// The blocks `first..` of a group, one thread's share of a merge: the hot ones among
/// them when `hot` is given, else those where a replica differs from the master when
/// the group is scanned, else those marked.
struct Piece<'a> {
    /// Its first block.
    first: usize,
    /// Its number of blocks.
    blocks: usize,
    group: Group<'a>,
    hot: Option<&'a [u32]>,
    /// Whether the touched units are those where a replica differs from the master.
    scan: bool,
}

impl<'a> Group<'a> {
    /// `n` pieces, cut every 64 blocks so that each piece owns the words of its marks;
    /// the last piece takes the marks past the blocks (a row-wise table's states).
    fn cut(self, n: usize, hot: Option<&'a [u32]>, scan: bool) -> Vec<Piece<'a>> {
        let layout = self.layout;
        let units = layout.units();
        let blocks = self.master[0].len().div_ceil(units * UNIT);
        let sixties = blocks.div_ceil(64);
        let mut rest = self;
        let mut pieces = Vec::with_capacity(n);
        let mut first = 0;
        for k in 1..=n {
            let end = if k == n {
                blocks
            } else {
                (sixties * k / n * 64).min(blocks)
            };
            let last = k == n;
            let split = |v: &mut &'a mut [f32], p: usize| {
                let at = if last {
                    v.len()
                } else {
                    ((end - first) * layout.floats(p)).min(v.len())
                };
                let (a, b) = std::mem::take(v).split_at_mut(at);
                *v = b;
                a
            };
            let planes = |planes: &mut Vec<&'a mut [f32]>| {
                planes
                    .iter_mut()
                    .enumerate()
                    .map(|(p, v)| split(v, p))
                    .collect()
            };
            let group = Group {
                master: planes(&mut rest.master),
                reps: rest.reps.iter_mut().map(planes).collect(),
                dirty: rest
                    .dirty
                    .iter_mut()
                    .map(|d| {
                        let at = if last {
                            d.len()
                        } else {
                            (end - first) * units / 64
                        };
                        let at = at.min(d.len());
                        let (a, b) = std::mem::take(d).split_at_mut(at);
                        *d = b;
                        a
                    })
                    .collect(),
                layout,
            };
            let hot = hot.map(|h| {
                let (a, b) = (
                    h.partition_point(|&u| (u as usize) < first * units),
                    h.partition_point(|&u| last || (u as usize) < end * units),
                );
                &h[a..b]
            });
            pieces.push(Piece {
                first,
                blocks: end - first,
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
    fn merge(mut self, rule: &Rule) {
        let units = self.group.layout.units();
        let mut last = usize::MAX;
        let mut visit = |piece: &mut Self, b: usize| {
            if b != last && b < piece.blocks {
                piece.merge_block(b, rule);
            }
            last = b;
        };
        match self.hot {
            Some(hot) => {
                let first = self.first;
                for &u in hot {
                    visit(&mut self, u as usize / units - first);
                }
            }
            None if self.scan => {
                // After a merge every replica equals the master: a block that differs
                // was changed since. Bits, not values: a replica at -0.0 beside a master
                // at 0.0 is copied back as a marked unit would be.
                let floats: Vec<usize> = (0..self.group.master.len())
                    .map(|p| self.group.layout.floats(p))
                    .collect();
                for b in 0..self.blocks {
                    let g = &self.group;
                    let differs = g.master.iter().zip(&floats).enumerate().any(|(p, (m, f))| {
                        let (a, e) = ((b * f).min(m.len()), ((b + 1) * f).min(m.len()));
                        g.reps.iter().any(|r| !same_bits(&r[p][a..e], &m[a..e]))
                    });
                    if differs {
                        self.merge_block(b, rule);
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
                        visit(&mut self, (k * 64 + bits.trailing_zeros() as usize) / units);
                        bits &= bits - 1;
                    }
                }
            }
        }
    }

    /// Merges every coordinate of block `b` (of this piece) into the master by `rule`,
    /// and copies the merged ones into every replica: row by row, up to [`LANES`]
    /// coordinates of a row at a time.
    #[inline]
    fn merge_block(&mut self, b: usize, rule: &Rule) {
        let width = rule.width();
        match self.group.layout {
            Layout::Planes => {
                let len = self.group.master[0].len();
                let a = b * UNIT;
                let runs = std::array::from_fn(|f| Run::plane(f, a));
                self.merge_lanes(rule, &runs, UNIT.min(len.saturating_sub(a)));
            }
            Layout::Rows { out, stride, rows } => {
                debug_assert_eq!(stride, out * width, "the rule fits the table's state");
                let per = self.group.layout.floats(0) / stride;
                let first = (self.first + b) * per;
                for r in first..(first + per).min(rows) {
                    let at = (r - self.first * per) * stride;
                    for c in (0..out).step_by(LANES) {
                        let runs = std::array::from_fn(|f| Run::plane(0, at + f * out + c));
                        self.merge_lanes(rule, &runs, LANES.min(out - c));
                    }
                }
            }
            Layout::RowWise { out, rows } => {
                debug_assert_eq!(width, 2, "a row-wise state is one float");
                let per = self.group.layout.floats(1);
                let first = (self.first + b) * per;
                for r in first..(first + per).min(rows) {
                    let (at, s) = ((r - self.first * per) * out, r - self.first * per);
                    // Each weight is merged beside its row's state, which is written
                    // once all of them have read it: it takes the merge of the first
                    // weight any replica changed.
                    let mut state = None;
                    for c in (0..out).step_by(LANES) {
                        let mut runs = [Run::shared(1, s); MAX_WIDTH];
                        runs[0] = Run::plane(0, at + c);
                        let merged = self.merge_lanes(rule, &runs, LANES.min(out - c));
                        state = state.or(merged.map(|m| m[1]));
                    }
                    if let Some(v) = state {
                        self.group.master[1][s] = v;
                        self.group.reps.iter_mut().for_each(|r| r[1][s] = v);
                    }
                }
            }
        }
    }

    /// Merges `n ≤ LANES` coordinates whose float `f` lies at `runs[f]`, writes them
    /// into the master and every replica (but a shared float), and returns the first
    /// one any replica changed, if any did. Compiled for the widths of the optimizers
    /// the library has, so that a coordinate's floats are a fixed number of rows.
    #[inline]
    fn merge_lanes(
        &mut self,
        rule: &Rule,
        runs: &[Run; MAX_WIDTH],
        n: usize,
    ) -> Option<[f32; MAX_WIDTH]> {
        match rule.width() {
            1 => self.merge_width::<1>(rule, runs, n),
            2 => self.merge_width::<2>(rule, runs, n),
            3 => self.merge_width::<3>(rule, runs, n),
            4 => self.merge_width::<4>(rule, runs, n),
            5 => self.merge_width::<5>(rule, runs, n),
            _ => self.merge_width::<MAX_WIDTH>(rule, runs, n),
        }
    }

    /// [`Piece::merge_lanes`] for coordinates of at most `W` floats: a coordinate alone
    /// (a logistic regression's row) in one lane, more in [`LANES`].
    #[inline(always)]
    fn merge_width<const W: usize>(
        &mut self,
        rule: &Rule,
        runs: &[Run; MAX_WIDTH],
        n: usize,
    ) -> Option<[f32; MAX_WIDTH]> {
        if n == 1 {
            self.merge_n::<1, W>(rule, runs, 1)
        } else {
            self.merge_n::<LANES, W>(rule, runs, n)
        }
    }

    /// [`Piece::merge_lanes`] on `N` lanes, coordinates of at most `W` floats.
    #[inline(always)]
    fn merge_n<const N: usize, const W: usize>(
        &mut self,
        rule: &Rule,
        runs: &[Run; MAX_WIDTH],
        n: usize,
    ) -> Option<[f32; MAX_WIDTH]> {
        let runs = &runs[..rule.width()];
        let load = |planes: &[&mut [f32]], into: &mut Lanes<N, W>| {
            for (run, lanes) in runs.iter().zip(into.iter_mut()) {
                let plane = &planes[run.plane];
                if run.shared {
                    *lanes = [plane[run.at]; N];
                } else {
                    copy(lanes, &plane[run.at..run.at + n]);
                }
            }
        };
        // Lanes past `n` and floats past the width stay zero in the master and in every
        // copy: never changed.
        let mut m = [[0.0f32; N]; W];
        load(&self.group.master, &mut m);
        // Most coordinates a merge visits were changed by one replica or none (the
        // tail, the untouched rows beside touched ones in a unit): those take that
        // replica's floats, without the rule.
        let (mut x, mut only) = (m, None);
        let mut changers = 0;
        for r in &self.group.reps {
            load(r, &mut x);
            if !same_lanes(&m, &x) {
                changers += 1;
                only = Some(x);
            }
        }
        let (merged, first) = match (changers, only) {
            (1, Some(x)) => {
                let first =
                    (0..n).find(|&c| (0..W).any(|f| x[f][c].to_bits() != m[f][c].to_bits()));
                (x, first.unwrap_or(0))
            }
            (0, _) => return None,
            _ => {
                let mut merging = Combining::new(rule, m);
                for r in &self.group.reps {
                    load(r, &mut x);
                    merging.add(&x);
                }
                merging.finish()?
            }
        };
        for (run, lanes) in runs.iter().zip(&merged) {
            if !run.shared {
                let to = run.at..run.at + n;
                copy(&mut self.group.master[run.plane][to.clone()], lanes);
                for r in &mut self.group.reps {
                    copy(&mut r[run.plane][to.clone()], lanes);
                }
            }
        }
        let mut c = [0.0; MAX_WIDTH];
        for (c, lanes) in c.iter_mut().zip(&merged) {
            *c = lanes[first];
        }
        Some(c)
    }
}

/// Copies the floats `from` and `to` both have: a move of fixed size when they are
/// [`LANES`] (a call to `memcpy` per row cost the net's merges a third of their
/// instructions).
#[inline(always)]
fn copy(to: &mut [f32], from: &[f32]) {
    let n = to.len().min(from.len());
    if n == LANES {
        to[..LANES].copy_from_slice(&from[..LANES]);
    } else {
        to[..n].copy_from_slice(&from[..n]);
    }
}

/// Whether `a` and `b` hold the same bits: one OR over the whole slice, which
/// vectorises, rather than a compare and a branch per float.
#[inline(always)]
fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.iter()
        .zip(b)
        .fold(0u32, |k, (x, y)| k | (x.to_bits() ^ y.to_bits()))
        == 0
}

/// Where float `f` of the coordinates a merge takes at once lies in a group's planes:
/// one float per coordinate, consecutive in plane `plane` from `at`, or (`shared`) the
/// float at `at` that every one of them holds (a row-wise table's row state).
#[derive(Clone, Copy, Debug)]
struct Run {
    plane: usize,
    at: usize,
    shared: bool,
}

impl Run {
    /// Consecutive floats of plane `plane` from `at`.
    fn plane(plane: usize, at: usize) -> Run {
        Run {
            plane,
            at,
            shared: false,
        }
    }

    /// The one float at `at` in plane `plane`.
    fn shared(plane: usize, at: usize) -> Run {
        Run {
            plane,
            at,
            shared: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{AdaGrad, Momentum};

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
                    for plane in &mut reps[t] {
                        plane[u * UNIT + 3] += d;
                    }
                    mark(&mut dirty[t], u);
                }
                // Momentum's rule: the two changes to unit 5 average, the others stay.
                for (u, d) in [(5, 1.5f32), (64, -1.0), (130, 0.5)] {
                    for plane in &mut want {
                        plane[u * UNIT + 3] += d;
                    }
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
                    layout: Layout::Planes,
                };
                let list = (mode == "hot").then_some(&hot[..]);
                run(
                    &pool,
                    pieces,
                    vec![(group, list, mode == "scanned")],
                    &Rule::new::<Momentum>(),
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

    /// A float of the tests' data: the same for a seed and an index, in `[0, 1)`.
    fn noise(seed: u64, i: usize) -> f32 {
        let x = (seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_mul(0xd134_2543_de82_ef95);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }

    #[test]
    fn rows_wider_than_the_lanes_merge_as_each_coordinate_alone() {
        // Rows of 20 weights (a chunk of 16 lanes, then one of 4) in both table layouts,
        // three replicas, each changing some coordinates of some rows; the merge must
        // give every coordinate what the rule gives it alone, the row-wise state that
        // of the first weight any replica changed.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let rule = Rule::new::<AdaGrad>();
        let (out, rows) = (20, 4);
        for row_wise in [false, true] {
            // Plane 0 and the floats of coordinate (r, c): weight, then accumulator.
            let planes = if row_wise {
                [rows * out, rows]
            } else {
                [rows * 2 * out, 0]
            };
            let at = |r: usize, c: usize| -> [(usize, usize); 2] {
                if row_wise {
                    [(0, r * out + c), (1, r)]
                } else {
                    [(0, r * 2 * out + c), (0, r * 2 * out + out + c)]
                }
            };
            let start: Vec<Vec<f32>> = (0..2)
                .map(|p| (0..planes[p]).map(|i| 0.5 + noise(p as u64, i)).collect())
                .collect();
            let mut reps = [start.clone(), start.clone(), start.clone()];
            for (t, rep) in reps.iter_mut().enumerate() {
                for r in 0..rows {
                    for c in 0..out {
                        let k = noise(7 + t as u64, r * out + c);
                        // Each replica changes about half the coordinates; in row 3
                        // only replica 1 changes anything.
                        if k < 0.5 && (r != 3 || t == 1) {
                            let [(pw, w), (ps, a)] = at(r, c);
                            rep[pw][w] -= k;
                            rep[ps][a] += 0.25 + k;
                        }
                    }
                }
            }
            let mut want = start.clone();
            for r in 0..rows {
                let mut state = None;
                for c in 0..out {
                    let floats = at(r, c);
                    let coord = |v: &Vec<Vec<f32>>| floats.map(|(p, i)| v[p][i]);
                    let mut merged = [0.0f32; 2];
                    if rule.merge(&coord(&start), reps.iter().map(coord), &mut merged) {
                        want[floats[0].0][floats[0].1] = merged[0];
                        if row_wise {
                            state = state.or(Some(merged[1]));
                        } else {
                            want[floats[1].0][floats[1].1] = merged[1];
                        }
                    }
                }
                if let Some(v) = state {
                    want[1][r] = v;
                }
            }
            let mut master = start.clone();
            let layout = if row_wise {
                Layout::RowWise { out, rows }
            } else {
                Layout::Rows {
                    out,
                    stride: 2 * out,
                    rows,
                }
            };
            let n = if row_wise { 2 } else { 1 };
            let group = Group {
                master: master.iter_mut().take(n).map(|p| &mut p[..]).collect(),
                reps: reps
                    .iter_mut()
                    .map(|r| r.iter_mut().take(n).map(|p| &mut p[..]).collect())
                    .collect(),
                dirty: Vec::new(),
                layout,
            };
            run(&pool, 2, vec![(group, None, true)], &rule);
            assert!(master == want, "row-wise {row_wise}: the master");
            for (t, r) in reps.iter().enumerate() {
                assert!(r[..n] == want[..n], "row-wise {row_wise}: replica {t}");
            }
        }
    }
}
