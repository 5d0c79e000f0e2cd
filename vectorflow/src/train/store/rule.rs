//! The merge rule: how copies of the weights and optimizer state that trained apart
//! since their last sync (threads' replicas, ranks) combine into one.
//!
//! **Using it from a scheme.** Work per *coordinate*: a weight followed by its
//! [`Optimizer::STATE`] state floats (`Rule::width` floats; a row-wise optimizer's row
//! float stands beside each weight of its row). With `m` the coordinate at the last sync
//! (the same on every contributor) and `x` a contributor's copy, every contributor adds
//! `Rule::add(m, x, sums)` into a zeroed buffer of `Rule::sums` floats per coordinate;
//! sum those buffers over the contributors (`Collective::sum_f32`, in rank order); then
//! every contributor calls `Rule::finish(m, sums, out)`, which gives the same bits on
//! each. Nothing else is needed: the rule is per coordinate and per float. Schemes call
//! the same on up to 16 coordinates at once (`Rule::add_changed`, `Rule::finish_lanes`
//! over [`Lanes`], each float of the coordinates side by side): straight loops that
//! vectorise, where a coordinate at a time costs copies and branches per float.
//!
//! **The rule.** It is Vowpal Wabbit's adaptive weighting (`accumulate_weighted_avg`,
//! its AllReduce's average weighted by each node's AdaGrad accumulators) applied to the
//! *changes* since the last sync rather than to whole values, so a coordinate only one
//! copy touched keeps that copy's update, and an averaged float copies agree on moves
//! once, not N times. With `d_t = x_t − m` copy `t`'s change and `a_t` its weight, the growth of the
//! coordinate's accumulator (the state float its optimizer declares [`Merge::Weighs`] or
//! [`Merge::Root`]; with none, 1 if the copy changed the coordinate, else 0):
//!
//! - accumulators and other running sums ([`Merge::Weighs`], [`Merge::Root`],
//!   [`Merge::Add`]) add their changes, `m + Σ d_t`: AdaGrad's squared gradients, FTRL's
//!   `z` and `n` and Adam's step count are what one copy that took every copy's steps
//!   would hold;
//! - statistics of recent steps ([`Merge::Average`]: moments, velocity) and the weight
//!   take the weighted average `m + Σ a_t d_t / Σ a_t`, each copy counting by its share
//!   of the steps;
//! - except the weight of an AdaGrad-like optimizer ([`Merge::Root`]): each change was
//!   taken with steps divided by `√(G + g_t)` (`G` the accumulator at the last sync,
//!   `g_t` the copy's growth) where one thread that saw every gradient would have divided
//!   by `√(G + Σ g)`, so the merged weight is `m + Σ d_t √(G + g_t) / √(G + Σ g)`: the
//!   step AdaGrad would have taken on all the gradients. Early on, when `G` is small
//!   beside the growths, two copies that agree move the weight by `√2` of one copy's
//!   change, not 2; late, when `G` dominates, their steps add, as one thread's would.
//!
//! **Why the rescaled sum for AdaGrad, measured.** Test logloss after one pass in memory
//! of `examples/bench` on the shared 1M-row data, 2 threads against 1 (1 thread:
//! LR 0.5189, 0.4869, 0.4580, 0.4263, 0.4110 at rates 0.05, 0.1, 0.2, 0.5, 1; the
//! 16-unit net 0.4108, 0.4091, 0.4089, 0.6932 (diverged, so its column is left out),
//! 0.4097):
//!
//! | rule on 2 threads        | LR 0.05 | 0.1    | 0.2    | 0.5    | 1      | net 0.05 | 0.1    | 0.2    | 1      |
//! |--------------------------|---------|--------|--------|--------|--------|----------|--------|--------|--------|
//! | sum of changes (before)  | 0.5101  | 0.4764 | 0.4477 | 0.4204 | 0.4129 | 0.4181   | 0.4157 | 0.4153 | 0.4543 |
//! | weighted average (VW)    | 0.5475  | 0.5111 | 0.4783 | 0.4417 | 0.4208 | 0.4211   | 0.4144 | 0.4130 | 0.4137 |
//! | rescaled sum (this one)  | 0.5195  | 0.4872 | 0.4581 | 0.4263 | 0.4119 | 0.4145   | 0.4120 | 0.4109 | 0.4134 |
//!
//! The sum steps hot weights twice early on (LR better than one thread at low rates, as
//! with a doubled rate, worse at rate 1; the net worse everywhere). VW's average halves
//! the step of every weight both threads moved, all the tail's between two merges
//! included: a lower rate everywhere. The rescaled sum is within 0.001 of one thread for
//! LR at every rate, and within 0.004 for the net (within 0.003 at 0.1 and 0.2).
//!
//! A copy whose accumulator changed too little to show in `f32` (a tiny gradient on a
//! large sum) still changed its weight; it counts as if its accumulator had grown by
//! the rounding it lost (`2^-24` of the sum), so its change is not dropped.

use crate::optim::{Merge, Optimizer};

/// The most state floats per weight an optimizer may keep to be merged.
pub(crate) const MAX_STATE: usize = 8;

/// The most floats of a coordinate: the weight and [`MAX_STATE`] state floats.
pub(crate) const MAX_WIDTH: usize = 1 + MAX_STATE;

/// One optimizer's merge rule, from its [`Optimizer::merge`] declarations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Rule {
    /// How each float of a coordinate merges: the weight's (index 0) is
    /// [`Merge::Average`], or [`Merge::Root`] when its steps are divided by an
    /// accumulator's root.
    kinds: [Merge; MAX_WIDTH],
    /// Floats per coordinate.
    width: usize,
    /// The float whose growth weighs the averaged floats, if any.
    weigh: Option<usize>,
}

impl Rule {
    /// The rule of optimizer `O`.
    ///
    /// # Panics
    ///
    /// If `O` keeps more than [`MAX_STATE`] state floats or declares two weighing ones:
    /// a mistake in the optimizer's own file, caught by its first test.
    pub fn new<O: Optimizer>() -> Rule {
        assert!(
            O::STATE <= MAX_STATE,
            "{} keeps over {MAX_STATE} state floats",
            O::NAME
        );
        let mut kinds = [Merge::Average; MAX_WIDTH];
        let mut weigh = None;
        for j in 0..O::STATE {
            kinds[1 + j] = O::merge(j);
            if matches!(O::merge(j), Merge::Weighs | Merge::Root) {
                assert!(weigh.is_none(), "{} declares two accumulators", O::NAME);
                weigh = Some(1 + j);
                if O::merge(j) == Merge::Root {
                    kinds[0] = Merge::Root;
                }
            }
        }
        Rule {
            kinds,
            width: 1 + O::STATE,
            weigh,
        }
    }

    /// This rule with every float of a coordinate, the weight and its accumulator
    /// included, the weighted average of the copies' changes (Vowpal Wabbit's `accumulate_weighted_avg`, which averages the
    /// AdaGrad sums as well as the weights, each copy weighted by its growth `a_t`):
    /// for ranks' frequent syncs of the hot rows and the dense weights, whose copies
    /// train thousands of rows apart. There each copy's steps nearly reach its own
    /// optimum between two syncs, so the [standard](Rule::new) rescaled sum moves such
    /// a weight by about the number of copies times the distance, overshoots and
    /// diverges; and an average of the weight beside a sum of the accumulators would
    /// divide every later step by the root of all copies' gradients while moving it by
    /// one copy's: N ranks would learn it about √N times too slowly. Averaged both, the
    /// weight and the rate it continues at are those of one copy on its own rows.
    /// Every other float averages alike (FTRL's `z` beside its `n`, so the weight they
    /// give stays one copy's; Adam's step count).
    pub fn averaged(mut self) -> Rule {
        self.kinds = [Merge::Average; MAX_WIDTH];
        self
    }

    /// Floats per coordinate: the weight, then each state float.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Floats of sums per coordinate that [`Rule::add`] adds into: one per float of the
    /// coordinate, then the sum of the weights `a_t`.
    pub fn sums(&self) -> usize {
        self.width + 1
    }

    /// Adds copy `x`'s contribution, against the coordinate `m` at the last sync, into
    /// `sums` ([`Rule::sums`] floats). `m` and `x` hold [`Rule::width`] floats. The
    /// exchanges run it on many coordinates at once ([`Rule::add_changed`]).
    #[cfg(test)]
    pub fn add(&self, m: &[f32], x: &[f32], sums: &mut [f32]) {
        let (m, x) = (self.lane(m), self.lane(x));
        let (mut s, mut total) = (self.lane(sums), [sums[self.width]]);
        self.add_changed(&m, &x, &mut s, &mut total);
        for (v, s) in sums[..self.width].iter_mut().zip(&s) {
            *v = s[0];
        }
        sums[self.width] = total[0];
    }

    /// The merged coordinate, into `out`, from `m` (the coordinate at the last sync) and
    /// the contributions of every copy summed (`sums`); unchanged if none changed it.
    /// The exchanges run it on many coordinates at once ([`Rule::finish_lanes`]).
    #[cfg(test)]
    pub fn finish(&self, m: &[f32], sums: &[f32], out: &mut [f32]) {
        let (m, s) = (self.lane(m), self.lane(sums));
        let mut merged = m;
        self.finish_lanes(&m, (&s, &[sums[self.width]]), &mut merged);
        for (o, v) in out[..self.width].iter_mut().zip(&merged) {
            *o = v[0];
        }
    }

    /// Merges the copies `xs` of coordinate `m` into `out`, in this process: as
    /// [`Rule::add`] over the copies in order then [`Rule::finish`], except that a
    /// coordinate only one copy changed takes that copy's floats exactly (through the
    /// sums it would be off by the rounding of `m + (x − m)`). Returns whether any copy
    /// changed it. The replicas' merge does the same to many coordinates at once
    /// ([`Combining`]); this one coordinate is how the tests state it.
    #[cfg(test)]
    pub fn merge<X: AsRef<[f32]>>(
        &self,
        m: &[f32],
        xs: impl IntoIterator<Item = X>,
        out: &mut [f32],
    ) -> bool {
        let mut merging = Combining::new(self, self.lane(m));
        for x in xs {
            merging.add(&self.lane(x.as_ref()));
        }
        match merging.finish() {
            Some((merged, _)) => {
                for (o, v) in out[..self.width].iter_mut().zip(&merged) {
                    *o = v[0];
                }
                true
            }
            None => false,
        }
    }

    /// The first [`Rule::width`] floats of `c` as one lane (the rest zero).
    #[cfg(test)]
    fn lane(&self, c: &[f32]) -> Lanes<1, MAX_WIDTH> {
        let mut l = [[0.0f32; 1]; MAX_WIDTH];
        for (l, v) in l.iter_mut().zip(&c[..self.width]) {
            l[0] = *v;
        }
        l
    }

    /// [`Rule::add`] on `N` coordinates at once: adds copy `x`'s contributions to the
    /// lanes it changed against `m` into `sums` and `total` (the sums' last float per
    /// coordinate). Floats past the width, and lanes past the coordinates the caller
    /// merges, must be equal in `m` and `x`.
    #[inline(always)]
    pub fn add_changed<const N: usize, const W: usize>(
        &self,
        m: &Lanes<N, W>,
        x: &Lanes<N, W>,
        sums: &mut Lanes<N, W>,
        total: &mut [f32; N],
    ) {
        self.add_lanes(m, x, &changed(m, x), sums, total);
    }

    /// Adds the contributions of copy `x` to the lanes it `changed` (a mask per lane:
    /// all ones or zero) against `m`, the coordinates at the last sync, into `sums` and
    /// `total` (the weights `a_t`): [`Rule::add`] lane by lane. A lane left out keeps
    /// its sums, bit for bit.
    ///
    /// Straight loops over the lanes, the kind of each float chosen once per float and
    /// the choices per lane made with masks: they vectorise, where a coordinate at a
    /// time cost a gather and a branch per float (the 16-unit net's merges on two
    /// threads cost as much as its training). Floats past the width must be zero in
    /// `m` and `x`; their sums are not used.
    #[inline(always)]
    fn add_lanes<const N: usize, const W: usize>(
        &self,
        m: &Lanes<N, W>,
        x: &Lanes<N, W>,
        changed: &[u32; N],
        sums: &mut Lanes<N, W>,
        total: &mut [f32; N],
    ) {
        // Copy `x`'s weight `a` per lane: the growth of the coordinate's accumulator
        // since `m` (at least the rounding it may have lost, if the copy changed the
        // coordinate), or 1 if it changed it and the optimizer has no accumulator;
        // else 0, and then the lane takes nothing from this copy.
        let a: [f32; N] = match self.weigh {
            Some(j) => std::array::from_fn(|c| {
                let grown = (x[j][c] - m[j][c]).max(m[j][c].abs() * f32::EPSILON * 0.5);
                pick(changed[c], grown, 0.0)
            }),
            None => std::array::from_fn(|c| pick(changed[c], 1.0, 0.0)),
        };
        let on: [u32; N] = std::array::from_fn(|c| lane_mask(a[c] != 0.0));
        // One loop per float, its kind chosen outside it.
        #[inline(always)]
        fn add<const N: usize>(
            (m, x, s): (&[f32; N], &[f32; N], &mut [f32; N]),
            on: &[u32; N],
            v: impl Fn(usize, f32) -> f32,
        ) {
            for c in 0..N {
                s[c] = pick(on[c], s[c] + v(c, x[c] - m[c]), s[c]);
            }
        }
        for f in 0..W {
            let at = (&m[f], &x[f], &mut sums[f]);
            match (self.kinds[f], self.weigh) {
                (Merge::Average, _) => add(at, &on, |c, d| a[c] * d),
                (Merge::Root, Some(j)) if f == 0 => add(at, &on, |c, d| d * x[j][c].sqrt()),
                _ => add(at, &on, |_, d| d),
            }
        }
        for c in 0..N {
            total[c] = pick(on[c], total[c] + a[c], total[c]);
        }
    }

    /// The merged coordinates, into `out`, from `m` (the coordinates at the last sync)
    /// and the contributions of every copy summed (`sums`, and the weights `total`):
    /// [`Rule::finish`] lane by lane; a lane no copy changed stays `m`.
    #[inline(always)]
    pub fn finish_lanes<const N: usize, const W: usize>(
        &self,
        m: &Lanes<N, W>,
        (sums, total): (&Lanes<N, W>, &[f32; N]),
        out: &mut Lanes<N, W>,
    ) {
        let none: [u32; N] = std::array::from_fn(|c| lane_mask(total[c] == 0.0));
        for f in 1..W {
            let average = self.kinds[f] == Merge::Average;
            let (m, s, o) = (&m[f], &sums[f], &mut out[f]);
            for c in 0..N {
                let v = if average {
                    m[c] + s[c] / total[c]
                } else {
                    m[c] + s[c]
                };
                o[c] = pick(none[c], m[c], v);
            }
        }
        let (head, rest) = out.split_at_mut(1);
        let (m, s, o) = (&m[0], &sums[0], &mut head[0]);
        match (self.kinds[0], self.weigh) {
            (Merge::Root, Some(j)) => {
                let acc = &rest[j - 1];
                for c in 0..N {
                    let root = acc[c].sqrt();
                    let v = m[c] + pick(lane_mask(root > 0.0), s[c] / root, 0.0);
                    o[c] = pick(none[c], m[c], v);
                }
            }
            _ => {
                for c in 0..N {
                    o[c] = pick(none[c], m[c], m[c] + s[c] / total[c]);
                }
            }
        }
    }
}

/// Float `f` of `N` coordinates side by side (`[f][lane]`): a weight's, then each
/// state float's; `W` at least [`Rule::width`], the floats past it zero.
pub(crate) type Lanes<const N: usize, const W: usize> = [[f32; N]; W];

/// A lane's mask: all ones if `b`, else zero.
#[inline(always)]
fn lane_mask(b: bool) -> u32 {
    (b as u32).wrapping_neg()
}

/// `a` where `mask` is all ones, `b` where it is zero: a select in bits, which
/// vectorises on every CPU level (a branch per lane does not).
#[inline(always)]
fn pick(mask: u32, a: f32, b: f32) -> f32 {
    f32::from_bits((a.to_bits() & mask) | (b.to_bits() & !mask))
}

/// The mask of each lane where `x` differs from `m`: in bits, not values (a copy at
/// -0.0 beside `m` at 0.0 changed it).
#[inline(always)]
fn changed<const N: usize, const W: usize>(m: &Lanes<N, W>, x: &Lanes<N, W>) -> [u32; N] {
    let mut diff = [0u32; N];
    for (m, x) in m.iter().zip(x) {
        for ((d, m), x) in diff.iter_mut().zip(m).zip(x) {
            *d |= m.to_bits() ^ x.to_bits();
        }
    }
    std::array::from_fn(|c| lane_mask(diff[c] != 0))
}

/// Whether `a` and `b` hold the same bits in every lane.
#[inline(always)]
pub(crate) fn same_lanes<const N: usize, const W: usize>(a: &Lanes<N, W>, b: &Lanes<N, W>) -> bool {
    let mut diff = 0u32;
    for f in 0..W {
        for c in 0..N {
            diff |= a[f][c].to_bits() ^ b[f][c].to_bits();
        }
    }
    diff == 0
}

/// The in-process merge of `N` coordinates at once ([`Rule::merge`] lane by lane): fed
/// every copy in order, it keeps the copy's floats exactly in a lane only that copy
/// changed, and adds every copy's contribution to the sums for the lanes several did.
pub(crate) struct Combining<'r, const N: usize, const W: usize> {
    rule: &'r Rule,
    /// The coordinates at the last sync.
    m: Lanes<N, W>,
    /// The merged coordinates so far: `m`, or the copy that changed a lane first.
    merged: Lanes<N, W>,
    sums: Lanes<N, W>,
    total: [f32; N],
    /// Masks of the lanes some copy changed, and of those more than one did.
    seen: [u32; N],
    multi: [u32; N],
}

impl<'r, const N: usize, const W: usize> Combining<'r, N, W> {
    /// A merge of the coordinates `m` by `rule`; `W` is at least its width, and floats
    /// past the width are zero.
    #[inline(always)]
    pub fn new(rule: &'r Rule, m: Lanes<N, W>) -> Self {
        debug_assert!(rule.width <= W, "{W} floats hold the rule's coordinates");
        Combining {
            rule,
            m,
            merged: m,
            sums: [[0.0; N]; W],
            total: [0.0; N],
            seen: [0; N],
            multi: [0; N],
        }
    }

    /// Adds the next copy `x`. Its floats past the width and in lanes past the
    /// coordinates the caller merges must equal `m`'s, so that they never count as
    /// changed.
    #[inline(always)]
    pub fn add(&mut self, x: &Lanes<N, W>) {
        if same_lanes(&self.m, x) {
            return;
        }
        let changed = changed(&self.m, x);
        let first: [u32; N] = std::array::from_fn(|c| changed[c] & !self.seen[c]);
        for (merged, x) in self.merged.iter_mut().zip(x) {
            for ((o, x), first) in merged.iter_mut().zip(x).zip(&first) {
                *o = pick(*first, *x, *o);
            }
        }
        let lanes = self.multi.iter_mut().zip(&mut self.seen).zip(&changed);
        for ((multi, seen), changed) in lanes {
            *multi |= changed & *seen;
            *seen |= changed;
        }
        self.rule
            .add_lanes(&self.m, x, &changed, &mut self.sums, &mut self.total);
    }

    /// The merged coordinates and the first lane any copy changed, or `None` if none
    /// did.
    #[inline(always)]
    pub fn finish(self) -> Option<(Lanes<N, W>, usize)> {
        let first = self.seen.iter().position(|&s| s != 0)?;
        let mut merged = self.merged;
        if self.multi.iter().fold(0, |k, m| k | m) != 0 {
            let mut summed = self.m;
            self.rule
                .finish_lanes(&self.m, (&self.sums, &self.total), &mut summed);
            for f in 0..W {
                for c in 0..N {
                    merged[f][c] = pick(self.multi[c], summed[f][c], merged[f][c]);
                }
            }
        }
        Some((merged, first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{AdaGrad, Adam, Ftrl, Momentum, RowAdaGrad, Sgd};

    /// Merges `xs` through the sums, as ranks would.
    fn through_sums(rule: &Rule, m: &[f32], xs: &[&[f32]]) -> Vec<f32> {
        let mut total = vec![0.0; rule.sums()];
        for x in xs {
            // Each contributor's own buffer, summed afterwards as a collective would.
            let mut mine = vec![0.0; rule.sums()];
            rule.add(m, x, &mut mine);
            total.iter_mut().zip(&mine).for_each(|(t, s)| *t += s);
        }
        let mut out = vec![f32::NAN; rule.width()];
        rule.finish(m, &total, &mut out);
        out
    }

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter()
            .zip(b)
            .all(|(a, b)| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0))
    }

    #[test]
    fn optimizers_declare_their_accumulators() {
        let root = Rule::new::<AdaGrad>();
        assert_eq!((root.width(), root.sums(), root.weigh), (2, 3, Some(1)));
        assert_eq!(root.kinds[..2], [Merge::Root, Merge::Root]);
        assert_eq!(Rule::new::<RowAdaGrad>(), root);
        let ftrl = Rule::new::<Ftrl>();
        assert_eq!(ftrl.kinds[..3], [Merge::Average, Merge::Add, Merge::Weighs]);
        assert_eq!(ftrl.weigh, Some(2));
        let adam = Rule::new::<Adam>();
        assert_eq!(adam.weigh, Some(3));
        assert_eq!((adam.width(), Rule::new::<Momentum>().weigh), (4, None));
        assert_eq!(Rule::new::<Sgd>().width(), 1);
    }

    #[test]
    fn one_copy_keeps_its_update_and_untouched_coordinates_stay() {
        let m = [0.25f32, 3.0, -1.5, 7.0];
        for rule in [
            Rule::new::<AdaGrad>(),
            Rule::new::<Ftrl>(),
            Rule::new::<Adam>(),
            Rule::new::<Momentum>(),
            Rule::new::<Sgd>(),
        ] {
            let w = rule.width();
            let x = [0.1f32 + 1e-9, 3.4, -1.2, 8.0];
            let mut out = [0.0f32; MAX_WIDTH];
            // Exact in a process, whatever the other copies (unchanged ones) hold.
            let copies = [&m[..w], &x[..w], &m[..w]];
            assert!(rule.merge(&m, copies, &mut out));
            assert_eq!(out[..w], x[..w], "{rule:?}");
            // Through the sums, up to rounding.
            assert!(close(&through_sums(&rule, &m, &[&m, &x, &m]), &x[..w]));
            // Nobody changed it: it stays, bit for bit.
            assert!(!rule.merge(&m, [&m[..w]; 3], &mut out));
            assert_eq!(through_sums(&rule, &m, &[&m, &m]), m[..w]);
        }
    }

    #[test]
    fn agreeing_copies_move_a_coordinate_once_not_n_times() {
        // Momentum's velocity and weight: two copies that took the same steps give one
        // copy's values, where a sum of changes would double them.
        let rule = Rule::new::<Momentum>();
        let (m, x) = ([1.0f32, 0.5], [0.8f32, 0.9]);
        assert!(close(&through_sums(&rule, &m, &[&x, &x]), &x));
        // Adam: the moments average, the step counts add.
        let rule = Rule::new::<Adam>();
        let m = [1.0f32, 0.1, 0.01, 10.0];
        let x = [0.9f32, 0.2, 0.02, 12.0];
        assert!(close(
            &through_sums(&rule, &m, &[&x, &x]),
            &[0.9, 0.2, 0.02, 14.0]
        ));
    }

    #[test]
    fn the_averaged_rule_averages_the_weight_and_its_accumulator() {
        // AdaGrad, accumulator 4 at the last sync: two copies each grew it by 12 and
        // moved the weight by 1. Rescaled, the weight moves by 2·√16/√28 ≈ 1.51 and the
        // accumulators add up; averaged, both are their weighted mean.
        let m = [0.0f32, 4.0];
        let xs: [&[f32]; 2] = [&[1.0, 16.0], &[1.0, 16.0]];
        let root = through_sums(&Rule::new::<AdaGrad>(), &m, &xs);
        let avg = through_sums(&Rule::new::<AdaGrad>().averaged(), &m, &xs);
        assert!(
            (root[0] - 2.0 * 4.0 / 28f32.sqrt()).abs() < 1e-6,
            "{root:?}"
        );
        assert_eq!(root[1], 28.0);
        assert_eq!(avg, [1.0, 16.0]);
        // Grown by 1 and by 3: weighted 1:3, the accumulator to 4 + (1 + 9) / 4.
        let xs: [&[f32]; 2] = [&[1.0, 5.0], &[-1.0, 7.0]];
        let avg = through_sums(&Rule::new::<AdaGrad>().averaged(), &m, &xs);
        assert!(close(&avg, &[-0.5, 6.5]), "{avg:?}");
        // FTRL: z averages beside n, weighted by n's growth.
        let rule = Rule::new::<Ftrl>().averaged();
        let m = [0.0f32, 0.0, 4.0];
        let got = through_sums(&rule, &m, &[&[1.0, -2.0, 5.0], &[-1.0, 1.0, 7.0]]);
        assert!(close(&got, &[-0.5, 0.25, 6.5]), "{got:?}");
    }

    #[test]
    fn averages_weigh_each_copy_by_its_accumulator_growth() {
        // FTRL: n grew by 1 in one copy and by 3 in the other; the weight is their
        // average weighted 1:3, z and n add.
        let rule = Rule::new::<Ftrl>();
        let m = [0.0f32, 0.0, 4.0];
        let (x, y) = ([1.0f32, -2.0, 5.0], [-1.0f32, 1.0, 7.0]);
        let want = [(1.0 - 3.0) / 4.0, -1.0, 8.0];
        assert!(close(&through_sums(&rule, &m, &[&x, &y]), &want));
        let mut out = [0.0; MAX_WIDTH];
        rule.merge(&m, [&x[..], &y[..]], &mut out);
        assert!(close(&out[..3], &want));
        // Without an accumulator, every copy that changed it counts once.
        let rule = Rule::new::<Sgd>();
        let got = through_sums(&rule, &[1.0], &[&[2.0], &[1.0], &[4.0]]);
        assert!(close(&got, &[3.0]));
    }

    #[test]
    fn adagrad_weights_take_the_step_of_every_gradient() {
        // Accumulator 1; each copy saw gradients of squared sum 3 and moved the weight
        // by −0.5: each change is rescaled from √4 to √7 and they add.
        let rule = Rule::new::<AdaGrad>();
        let m = [0.0f32, 1.0];
        let x = [-0.5f32, 4.0];
        let got = through_sums(&rule, &m, &[&x, &x]);
        let want = [-2.0 * 0.5 * 2.0 / 7f32.sqrt(), 7.0];
        assert!(close(&got, &want), "{got:?}");
        // A copy with a small gradient moved it a little the other way: its change
        // counts at the scale it was taken, beside the other's.
        let y = [0.05f32, 1.01];
        let got = through_sums(&rule, &m, &[&x, &y]);
        let want = [(-0.5 * 2.0 + 0.05 * 1.01f32.sqrt()) / 4.01f32.sqrt(), 4.01];
        assert!(close(&got, &want), "{got:?}");
    }

    #[test]
    fn a_growth_lost_to_rounding_still_counts() {
        // A tiny gradient on a large accumulator moved the weight but not the sum.
        let rule = Rule::new::<Ftrl>();
        let m = [1.0f32, 0.0, 1e8];
        let x = [1.001f32, 0.0, 1e8];
        let y = [1.0f32, 0.0, 1e8 + 64.0];
        let got = through_sums(&rule, &m, &[&x, &m]);
        assert!(close(&got, &x), "{got:?}");
        // Beside a copy whose accumulator grew visibly, it counts for little.
        let got = through_sums(&rule, &m, &[&x, &y]);
        assert!(got[0] < 1.0001, "{got:?}");
    }

    #[test]
    fn the_sums_decompose_and_finish_identically() {
        // Adding contributions in any grouping (ranks of threads) gives the same
        // result up to rounding, and finishing the same sums gives the same bits.
        let rule = Rule::new::<Adam>();
        let m = [0.3f32, 0.01, 0.001, 5.0];
        let xs: Vec<[f32; 4]> = (0..6)
            .map(|t| {
                let t = t as f32;
                [0.3 - 0.01 * t, 0.01 + 0.002 * t, 0.001 + 1e-4 * t, 5.0 + t]
            })
            .collect();
        let all: Vec<&[f32]> = xs.iter().map(|x| &x[..]).collect();
        let flat = through_sums(&rule, &m, &all);
        let mut pairs = vec![0.0; rule.sums()];
        for two in all.chunks(2) {
            let mut part = vec![0.0; rule.sums()];
            two.iter().for_each(|x| rule.add(&m, x, &mut part));
            pairs.iter_mut().zip(&part).for_each(|(p, s)| *p += s);
        }
        let mut grouped = vec![0.0; rule.width()];
        rule.finish(&m, &pairs, &mut grouped);
        assert!(close(&flat, &grouped));
        let mut again = vec![0.0; rule.width()];
        rule.finish(&m, &pairs, &mut again);
        assert_eq!(grouped, again);
    }
}
