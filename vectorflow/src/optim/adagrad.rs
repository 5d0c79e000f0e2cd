use super::{check, Merge, Optimizer};

/// The accumulator AdaGrad and [`super::RowAdaGrad`] start from unless set otherwise
/// (see [`AdaGrad::init_acc`]).
///
/// 0.01 rather than a mere guard against dividing by zero: it damps the first steps of
/// rare features, whose few gradients would otherwise each move a weight by the full
/// rate. On the synthetic benchmark data (3 passes) it gave logistic regression a test
/// logloss of 0.4109 against 0.4122 at 1e-8 and the 16-unit net 0.4089 against 0.4127,
/// the best of 1e-8 to 1 for both; see `docs/init_accumulator.md`.
pub const INIT_ACC: f32 = 1e-2;

/// AdaGrad: each coordinate's step is `lr · g / sqrt(a₀ + Σ g²)`, where `a₀` is the
/// initial accumulator ([`AdaGrad::init_acc`]).
///
/// ```
/// use vectorflow::optim::{AdaGrad, Optimizer};
/// let ada = AdaGrad::new(0.1);
/// let mut s = ada.init_state();
/// let w = ada.update(0.0, &mut s, 2.0, 1.0);
/// // The first step is a little under lr: 0.1 · 2 / sqrt(0.01 + 2²).
/// assert!((w + 0.2 / 4.01f32.sqrt()).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdaGrad {
    /// The learning rate.
    pub lr: f32,
    /// The initial accumulator `a₀`, which bounds the first steps: a weight's first
    /// step has length `lr · |g| / sqrt(a₀ + g²)`, under `lr` and under `lr · |g| / √a₀`.
    pub init_acc: f32,
}

impl AdaGrad {
    /// AdaGrad with learning rate `lr`, starting every accumulator at [`INIT_ACC`].
    pub fn new(lr: f32) -> AdaGrad {
        AdaGrad {
            lr,
            init_acc: INIT_ACC,
        }
    }

    /// The same with initial accumulator `a₀` (finite and above 0), as fwumious_wabbit's
    /// `--init_acc_gradient`: a larger one damps the first steps of rare features.
    ///
    /// ```
    /// use vectorflow::optim::{AdaGrad, Optimizer};
    /// let ada = AdaGrad::new(0.1).init_acc(3.0);
    /// let mut s = ada.init_state();
    /// assert_eq!(s[0], 3.0);
    /// let w = ada.update(0.0, &mut s, 1.0, 1.0);
    /// assert!((w + 0.05).abs() < 1e-6); // 0.1 · 1 / sqrt(3 + 1)
    /// ```
    pub fn init_acc(self, init_acc: f32) -> AdaGrad {
        AdaGrad { init_acc, ..self }
    }
}

impl Optimizer for AdaGrad {
    type State = [f32; 1];
    const NAME: &'static str = "AdaGrad";

    /// The accumulator: summed, and it weighs and rescales the weight's changes.
    fn merge(_: usize) -> Merge {
        Merge::Root
    }

    fn lr(&self) -> f32 {
        self.lr
    }

    fn describe(&self) -> String {
        format!("AdaGrad(lr={}, init_acc={:e})", self.lr, self.init_acc)
    }

    fn check(&self) -> Result<(), String> {
        check::positive("AdaGrad", "learning rate", self.lr)?;
        // At 0, a first zero gradient would step by 0/0.
        check::positive("AdaGrad", "initial accumulator", self.init_acc)
    }

    fn init_state(&self) -> [f32; 1] {
        [self.init_acc]
    }

    #[inline(always)]
    fn update(&self, w: f32, s: &mut [f32; 1], g: f32, scale: f32) -> f32 {
        s[0] += g * g;
        // Exact on purpose: an estimate of 1/√ with one Newton step (0.18% off) measured
        // no faster in `examples/bench` (2 passes, 1 thread, medians of 5: LR 2.15M vs
        // 2.23M rows/s, MLP16 519k vs 511k, both within noise): a row's step waits on
        // its memory, not on the root and the division.
        w - self.lr * scale * g / s[0].sqrt()
    }
}
