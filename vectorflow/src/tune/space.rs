//! What a tuner searches: the space of settings, one setting, and how settings are drawn
//! from the space (a Latin hypercube on the learning rate) or enumerated (the grid).

use crate::rng::Rng;
use std::fmt;

/// An optimizer the tuner can choose, by kind; its learning rate is part of [`Setting`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Opt {
    /// [`crate::optim::AdaGrad`].
    AdaGrad,
    /// [`crate::optim::RowAdaGrad`]: one accumulator per sparse row.
    RowAdaGrad,
    /// [`crate::optim::Adam`] with its default betas.
    Adam,
    /// Plain [`crate::optim::Sgd`].
    Sgd,
    /// [`crate::optim::Ftrl`] with β = 1: the rate is its α, and a setting's L1 and L2
    /// are FTRL's own λ₁ and λ₂ (which act on the summed gradients, not per row).
    Ftrl,
}

impl Opt {
    /// Whether it starts from an initial accumulator ([`Setting::init_acc`]).
    pub fn has_init_acc(self) -> bool {
        matches!(self, Opt::AdaGrad | Opt::RowAdaGrad)
    }

    /// The optimizer's name, as its type is spelt.
    pub fn name(self) -> &'static str {
        match self {
            Opt::AdaGrad => "AdaGrad",
            Opt::RowAdaGrad => "RowAdaGrad",
            Opt::Adam => "Adam",
            Opt::Sgd => "Sgd",
            Opt::Ftrl => "Ftrl",
        }
    }
}

/// One point of a [`Space`]: everything the tuner chooses for a `Trainer`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setting {
    /// The optimizer.
    pub opt: Opt,
    /// Its learning rate (FTRL's α).
    pub lr: f32,
    /// AdaGrad's and RowAdaGrad's initial accumulator ([`crate::optim::AdaGrad::init_acc`]);
    /// the other optimizers have none and ignore it.
    pub init_acc: f32,
    /// L1 strength of the prior on every layer's weights (FTRL's λ₁).
    pub l1: f32,
    /// L2 strength of the prior on every layer's weights (FTRL's λ₂).
    pub l2: f32,
    /// Rows per update (1: per-row SGD).
    pub batch: usize,
    /// Passes over the rows: in a tuner's report, the pass with the best validation loss.
    pub passes: usize,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} lr={:.3e}", self.opt.name(), self.lr)?;
        if self.opt.has_init_acc() {
            write!(f, " init_acc={:e}", self.init_acc)?;
        }
        write!(
            f,
            " l1={} l2={} batch={} passes={}",
            short(self.l1),
            short(self.l2),
            self.batch,
            self.passes
        )
    }
}

/// A strength as `0` or `1e-6`.
pub(crate) fn short(v: f32) -> String {
    if v == 0.0 {
        "0".into()
    } else {
        format!("{v:e}")
    }
}

/// The settings a tuner searches: for each optimizer a learning-rate range (searched on
/// a log scale), lists of L1 and L2 strengths, of mini-batch sizes and of AdaGrad's
/// initial accumulators, and the most passes a setting may run (the passes themselves
/// are chosen by early stopping).
///
/// ```
/// use vectorflow::tune::{Opt, Space};
/// let space = Space::new(Opt::AdaGrad, 0.01, 1.0)
///     .or(Opt::Adam, 1e-4, 0.05)
///     .l2(&[0.0, 1e-6])
///     .batch(&[1, 16])
///     .init_acc(&[1e-8, 0.01])
///     .max_passes(9);
/// // 7 learning rates × 2 L2 × 2 batch sizes × (2 AdaGrad accumulators + Adam)
/// assert_eq!(space.grid().len(), 84);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Space {
    opts: Vec<(Opt, f32, f32)>,
    l1: Vec<f32>,
    l2: Vec<f32>,
    batch: Vec<usize>,
    init_acc: Vec<f32>,
    max_passes: usize,
    lr_points: usize,
}

impl Space {
    /// Optimizer `opt` with learning rates from `lr_min` to `lr_max`; no prior, per-row
    /// updates, AdaGrad's default initial accumulator ([`crate::optim::INIT_ACC`]), up
    /// to 8 passes, 7 learning rates on the grid.
    pub fn new(opt: Opt, lr_min: f32, lr_max: f32) -> Space {
        Space {
            opts: vec![(opt, lr_min, lr_max)],
            l1: vec![0.0],
            l2: vec![0.0],
            batch: vec![1],
            init_acc: vec![crate::optim::INIT_ACC],
            max_passes: 8,
            lr_points: 7,
        }
    }
    /// The same with another optimizer and its learning-rate range (replacing the
    /// range of `opt` if it is already there).
    pub fn or(mut self, opt: Opt, lr_min: f32, lr_max: f32) -> Space {
        self.opts.retain(|o| o.0 != opt);
        self.opts.push((opt, lr_min, lr_max));
        self
    }
    /// The L1 strengths to try.
    pub fn l1(self, l1: &[f32]) -> Space {
        Space {
            l1: l1.to_vec(),
            ..self
        }
    }
    /// The L2 strengths to try.
    pub fn l2(self, l2: &[f32]) -> Space {
        Space {
            l2: l2.to_vec(),
            ..self
        }
    }
    /// The mini-batch sizes to try.
    pub fn batch(self, batch: &[usize]) -> Space {
        Space {
            batch: batch.to_vec(),
            ..self
        }
    }
    /// The initial accumulators AdaGrad and RowAdaGrad try (each finite and above 0);
    /// the other optimizers have none, so this multiplies only their settings.
    pub fn init_acc(self, init_acc: &[f32]) -> Space {
        Space {
            init_acc: init_acc.to_vec(),
            ..self
        }
    }
    /// The most passes a setting may run.
    pub fn max_passes(self, max_passes: usize) -> Space {
        Space { max_passes, ..self }
    }
    /// How many learning rates per optimizer the grid takes, log-spaced over its range
    /// ends included (7 by default).
    pub fn lr_points(self, lr_points: usize) -> Space {
        Space { lr_points, ..self }
    }
    /// The most passes a setting may run.
    pub fn passes(&self) -> usize {
        self.max_passes
    }

    /// `Ok` if every range and list is usable; else what is wrong.
    pub(crate) fn check(&self) -> Result<(), String> {
        for &(opt, lo, hi) in &self.opts {
            if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
                return Err(format!(
                    "the learning-rate range of {} must have 0 < min ≤ max < ∞, not {lo}..{hi}",
                    opt.name()
                ));
            }
        }
        for (name, list) in [("L1", &self.l1), ("L2", &self.l2)] {
            if list.is_empty() || list.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(format!(
                    "the {name} strengths must be a non-empty list of finite numbers ≥ 0, not {list:?}"
                ));
            }
        }
        if self.init_acc.is_empty() || self.init_acc.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(format!(
                "the initial accumulators must be a non-empty list of finite numbers > 0, not {:?}",
                self.init_acc
            ));
        }
        if self.batch.is_empty() || self.batch.contains(&0) {
            return Err(format!(
                "the mini-batch sizes must be a non-empty list of sizes ≥ 1, not {:?}",
                self.batch
            ));
        }
        if self.max_passes == 0 || self.lr_points == 0 {
            return Err("the passes and the grid's learning rates must be at least 1".into());
        }
        Ok(())
    }

    /// Every combination of the space's lists (optimizer, initial accumulator for the
    /// optimizers that have one, L1, L2, batch), with the optimizer's learning-rate
    /// range; the rate and passes are left to the caller.
    fn combos(&self) -> Vec<(Setting, f32, f32)> {
        let mut out = Vec::new();
        let unused = [crate::optim::INIT_ACC];
        for &(opt, lo, hi) in &self.opts {
            let accs = if opt.has_init_acc() {
                &self.init_acc[..]
            } else {
                &unused[..]
            };
            for &init_acc in accs {
                for &l1 in &self.l1 {
                    for &l2 in &self.l2 {
                        for &batch in &self.batch {
                            let s = Setting {
                                opt,
                                lr: lo,
                                init_acc,
                                l1,
                                l2,
                                batch,
                                passes: self.max_passes,
                            };
                            out.push((s, lo, hi));
                        }
                    }
                }
            }
        }
        out
    }

    /// The exhaustive grid: every combination with [`Space::lr_points`] log-spaced
    /// learning rates, each for the most passes.
    pub fn grid(&self) -> Vec<Setting> {
        let k = self.lr_points;
        let mut out = Vec::new();
        for (s, lo, hi) in self.combos() {
            for i in 0..k {
                let u = if k == 1 {
                    0.5
                } else {
                    i as f64 / (k - 1) as f64
                };
                out.push(Setting {
                    lr: log_lerp(lo, hi, u),
                    ..s
                });
            }
        }
        out
    }

    /// `n` settings drawn with `seed`: the combinations in turn (each appears ⌊n/c⌋ or
    /// ⌈n/c⌉ times, in a seeded order) and the learning rate by a Latin hypercube on the
    /// log scale: setting `i` falls in its own `n`-th of each optimizer's range, so even
    /// a few settings cover the range evenly, which plain random draws do not.
    pub fn sample(&self, n: usize, seed: u64) -> Vec<Setting> {
        let mut rng = Rng::new(seed);
        let mut combos = self.combos();
        rng.shuffle(&mut combos);
        let mut strata: Vec<usize> = (0..n).collect();
        rng.shuffle(&mut strata);
        (0..n)
            .map(|i| {
                let (s, lo, hi) = combos[i % combos.len()];
                let u = (strata[i] as f64 + rng.uniform_open()) / n as f64;
                Setting {
                    lr: log_lerp(lo, hi, u),
                    ..s
                }
            })
            .collect()
    }
}

/// The point at `u` ∈ [0, 1] of the log scale from `lo` to `hi`.
fn log_lerp(lo: f32, hi: f32, u: f64) -> f32 {
    let (lo, hi) = (lo as f64, hi as f64);
    (lo * (hi / lo).powf(u)) as f32
}

#[cfg(test)]
mod tests {
    use super::{Opt, Space};

    #[test]
    fn grid_rates_are_log_spaced_ends_included() {
        let g = Space::new(Opt::AdaGrad, 0.001, 1.0).lr_points(4).grid();
        let lr: Vec<f32> = g.iter().map(|s| s.lr).collect();
        for (a, b) in lr.iter().zip([0.001, 0.01, 0.1, 1.0]) {
            assert!((a / b - 1.0).abs() < 1e-5, "{lr:?}");
        }
    }

    #[test]
    fn samples_cover_every_stratum_and_balance_the_combinations() {
        let space = Space::new(Opt::AdaGrad, 0.001, 1.0)
            .or(Opt::Adam, 0.001, 1.0)
            .batch(&[1, 8]);
        let n = 12;
        let s = space.sample(n, 3);
        assert_eq!(s, space.sample(n, 3));
        assert_ne!(s, space.sample(n, 4));
        // Each twelfth of the log range holds exactly one rate.
        let mut strata: Vec<usize> = s
            .iter()
            .map(|s| ((s.lr / 0.001).log10() / 3.0 * n as f32) as usize)
            .collect();
        strata.sort();
        assert_eq!(strata, (0..n).collect::<Vec<_>>());
        // 4 combinations, 3 settings each.
        for opt in [Opt::AdaGrad, Opt::Adam] {
            for batch in [1, 8] {
                let k = s
                    .iter()
                    .filter(|s| s.opt == opt && s.batch == batch)
                    .count();
                assert_eq!(k, 3, "{opt:?} {batch}");
            }
        }
    }

    #[test]
    fn bad_spaces_say_what_is_wrong() {
        let e = Space::new(Opt::Adam, 0.1, 0.01).check().unwrap_err();
        assert_eq!(
            e,
            "the learning-rate range of Adam must have 0 < min ≤ max < ∞, not 0.1..0.01"
        );
        let e = Space::new(Opt::Sgd, 0.1, 1.0)
            .l2(&[-1.0])
            .check()
            .unwrap_err();
        assert!(e.starts_with("the L2 strengths must be"), "{e}");
        let e = Space::new(Opt::Sgd, 0.1, 1.0)
            .batch(&[])
            .check()
            .unwrap_err();
        assert!(e.starts_with("the mini-batch sizes must be"), "{e}");
        let e = Space::new(Opt::AdaGrad, 0.1, 1.0)
            .init_acc(&[0.01, 0.0])
            .check()
            .unwrap_err();
        assert_eq!(
            e,
            "the initial accumulators must be a non-empty list of finite numbers > 0, not [0.01, 0.0]"
        );
    }

    /// The accumulators multiply AdaGrad's and RowAdaGrad's settings alone: Adam has
    /// none, and its settings keep the default, which they ignore.
    #[test]
    fn initial_accumulators_are_a_dimension_of_adagrads_settings() {
        let space = Space::new(Opt::AdaGrad, 0.01, 1.0)
            .or(Opt::RowAdaGrad, 0.01, 1.0)
            .or(Opt::Adam, 0.001, 0.1)
            .init_acc(&[1e-8, 0.01, 1.0])
            .lr_points(2);
        let grid = space.grid();
        assert_eq!(grid.len(), 2 * 3 * 2 + 2);
        for opt in [Opt::AdaGrad, Opt::RowAdaGrad] {
            for acc in [1e-8, 0.01, 1.0] {
                let n = grid
                    .iter()
                    .filter(|s| s.opt == opt && s.init_acc == acc)
                    .count();
                assert_eq!(n, 2, "{opt:?} {acc}");
            }
        }
        let adam: Vec<_> = grid.iter().filter(|s| s.opt == Opt::Adam).collect();
        assert!(adam.iter().all(|s| s.init_acc == crate::optim::INIT_ACC));
        assert_eq!(
            grid[2].to_string(),
            "AdaGrad lr=1.000e-2 init_acc=1e-2 l1=0 l2=0 batch=1 passes=8"
        );
        assert_eq!(
            adam[0].to_string(),
            "Adam lr=1.000e-3 l1=0 l2=0 batch=1 passes=8"
        );
        // A sample covers each accumulator of each optimizer as evenly.
        let s = space.sample(14, 5);
        for acc in [1e-8, 0.01, 1.0] {
            let n = s
                .iter()
                .filter(|s| s.opt == Opt::AdaGrad && s.init_acc == acc)
                .count();
            assert_eq!(n, 2, "{acc}");
        }
    }
}
