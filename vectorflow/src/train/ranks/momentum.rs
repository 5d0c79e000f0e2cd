//! Block momentum of the rounds: what the averaged exchanges of the hot rows and of the
//! weights outside the tables lose against one process, carried into the next rounds.
//!
//! A round's averaged form (`Rule::averaged`) keeps each rank's accumulator at one
//! rank's share of the gradients (about `1/N` of one process's), so each rank steps at
//! about `√N` times one process's rate; but the average of N ranks' `K` steps moves a
//! weight as one rank's `K` steps do, where one process would have taken `N·K`. Where the
//! steps are small beside the distance to the optimum (most of the first pass, and the
//! slow directions later) that is `√N` times less progress than one process's. Block
//! momentum (Chen and Huo's blockwise model-update filtering, ICASSP 2016) adds to each
//! round's merged change `μ` times the previous round's total change: a change that
//! persists round after round is carried `1/(1 − μ)` times, and with `μ = 1 − 1/√N` that
//! is the `√N` lost; a change that flips sign between rounds (the ranks' noise, already
//! averaged down N-fold) is not amplified alike.
//!
//! A change against the velocity means the carry overshot (the ranks' steps on that
//! weight nearly reached their optimum within a round, where the average alone was
//! right): the velocity restarts from that round's change (O'Donoghue and Candès's
//! adaptive restart). The carry spans about `1/(1 − μ)` rounds. At the pass's end every
//! other changed row jumps (the standard rule sums the ranks' changes), and a velocity
//! carried across that jump pushes the hot rows on against weights that moved: so the
//! velocity stops at every pass's end, and the span is kept to half the rounds of the
//! previous pass (no carry with 2 rounds a pass or fewer; the first pass, whose count
//! is not known yet, takes the full `√N`). Every rank computes the same velocity from
//! the same sums, so the weights stay bit-identical.
//!
//! Measured with `examples/ranks_sim.rs` (LR at rate 0.5, the first 200k rows of the
//! shared data, 3 passes; tables for more in the module docs of `ranks`): 16 ranks, a
//! round every 2,048 rows, test logloss 0.4619 without, 0.4637 at `μ = 0.875`, 0.4538
//! at `1 − 1/√16 = 0.75`, 0.4546 with the restart; 4 ranks, 8,192 rows: 0.4540
//! without, 0.4533 at `1 − 1/4`, 0.4524 at `1 − 1/√4` (one process 0.4522); the
//! 16-unit net on 4 ranks, 2,048 rows: 0.4617 without, 0.4588 at 0.5, 0.4618 at 0.75.
//! Without the span's cap, 16 ranks of 12,500 rows each at 8,192 rows a round (two
//! rounds a pass) ended at 0.5019, the cap gives 0.4566. Without the restart, eight
//! ranks on the generated rows of `tests/ranks.rs` at rate 0.1 lost 0.018 to one process
//! in the first pass (0.004 without momentum), with it 0.002.

/// The velocity of every coordinate a round exchanges, in the order it packs them.
pub(super) struct Momentum {
    /// `√N`: the most rounds a change is carried over.
    span: f32,
    /// This pass's `μ`.
    mu: f32,
    /// Each coordinate's total change at its last round (the weight's float alone).
    velocity: Vec<f32>,
    /// Rounds joined this pass, and in the previous pass if one ended.
    rounds: usize,
    last: Option<usize>,
}

impl Momentum {
    /// The momentum of a job of `ranks` ranks.
    pub fn new(ranks: usize) -> Momentum {
        let span = (ranks as f32).sqrt();
        Momentum {
            span,
            mu: Self::mu(span),
            velocity: Vec::new(),
            rounds: 0,
            last: None,
        }
    }

    /// `μ` carrying a change over `span` rounds: `1 − 1/span`, 0 for a span up to 1.
    fn mu(span: f32) -> f32 {
        if span > 1.0 {
            1.0 - 1.0 / span
        } else {
            0.0
        }
    }

    /// A pass begins: this pass's `μ`, from the previous pass's rounds.
    pub fn begin_pass(&mut self) {
        let span = match self.last {
            Some(rounds) => self.span.min(rounds as f32 / 2.0),
            None => self.span,
        };
        self.mu = Self::mu(span);
        self.rounds = 0;
    }

    /// A round is joined.
    pub fn round(&mut self) {
        self.rounds += 1;
    }

    /// The pass's rounds are over (its end's exchange follows): the velocity stops.
    pub fn end_pass(&mut self) {
        self.last = Some(self.rounds);
        self.velocity.iter_mut().for_each(|v| *v = 0.0);
    }

    /// The weight of coordinate `c` (in the rounds' packing order) after a round that
    /// merged it from `base` to `merged`: the merged change plus `μ` times its last
    /// round's total change, which it becomes.
    #[inline]
    pub fn carry(&mut self, c: usize, base: f32, merged: f32) -> f32 {
        if self.mu == 0.0 {
            return merged;
        }
        if self.velocity.len() <= c {
            self.velocity.resize(c + 1, 0.0);
        }
        let (last, now) = (self.velocity[c], merged - base);
        // A change against the velocity says the carry overshot: it restarts from this
        // round's change (O'Donoghue and Candès's adaptive restart).
        let v = if last * now < 0.0 {
            now
        } else {
            self.mu * last + now
        };
        self.velocity[c] = v;
        base + v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rank_carries_nothing_and_sixteen_carry_four_rounds() {
        let mut one = Momentum::new(1);
        assert_eq!(one.carry(0, 1.0, 1.5), 1.5);
        assert_eq!(one.carry(0, 1.5, 2.0), 2.0);
        // μ = 0.75: a change repeated every round tends to 4 times itself a round.
        let mut sixteen = Momentum::new(16);
        let (mut w, mut step) = (0.0f32, 0.0);
        for _ in 0..200 {
            let next = sixteen.carry(0, w, w + 1.0);
            step = next - w;
            w = next;
        }
        assert!((step - 4.0).abs() < 1e-3, "{step}");
    }

    #[test]
    fn the_velocity_stops_at_each_pass_end_and_fits_the_rounds_of_a_pass() {
        let mut m = Momentum::new(16);
        m.begin_pass();
        m.round();
        assert_eq!(m.carry(3, 0.0, 1.0), 1.0);
        m.round();
        assert_eq!(m.carry(3, 1.0, 2.0), 2.75);
        m.end_pass();
        // Two rounds a pass: no carry in the next pass.
        m.begin_pass();
        assert_eq!(m.carry(3, 2.0, 3.0), 3.0);
        assert_eq!(m.carry(3, 3.0, 4.0), 4.0);
        for _ in 0..4 {
            m.round();
        }
        m.end_pass();
        // Four rounds: a span of 2, μ = 0.5, from a velocity back at zero.
        m.begin_pass();
        assert_eq!(m.carry(3, 0.0, 1.0), 1.0);
        assert_eq!(m.carry(3, 1.0, 2.0), 2.5);
    }

    #[test]
    fn a_change_against_the_velocity_restarts_it() {
        let mut m = Momentum::new(4);
        assert_eq!(m.carry(0, 0.0, 1.0), 1.0);
        assert_eq!(m.carry(0, 1.0, 2.0), 2.5);
        // The merged change turned back: no carry, and the next carry is from it.
        assert_eq!(m.carry(0, 2.5, 2.25), 2.25);
        assert_eq!(m.carry(0, 2.25, 2.0), 1.875);
    }
}
