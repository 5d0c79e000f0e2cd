use super::{check, Merge, Optimizer};

/// Row-wise AdaGrad: one accumulator per sparse row, shared by the row's weights.
///
/// A sparse row of `out` weights stepped with gradient `g` adds the mean square of `g`
/// to its accumulator `a` and moves every weight by `lr · g_k / sqrt(a)`, as FBGEMM's
/// `rowwise_adagrad` does for embedding tables. Dense weights (hidden layers, biases,
/// dense inputs) keep one accumulator each, as with [`super::AdaGrad`].
///
/// A row of 16 weights is then one cache line with no state beside it, and its state
/// one float instead of 16: the 16-unit net over 2^20 features keeps 4 MB of sparse
/// state instead of 64 MB while it trains, and each row's step touches one line instead
/// of two. A row of one weight (logistic regression) steps exactly as
/// [`super::AdaGrad`], whose interleaved layout suits it better.
///
/// In the net's state planes (and model files) a row's accumulator is state 0 of its
/// first weight.
///
/// ```
/// use vectorflow::optim::{Optimizer, RowAdaGrad};
/// let opt = RowAdaGrad::new(0.1);
/// let mut acc = opt.init_state()[0];
/// // A row of two weights with gradient (3, 4): mean square 12.5, on top of the
/// // initial 0.01.
/// let rate = opt.row_rate(&mut acc, 12.5, 1.0);
/// assert!((acc - 12.51).abs() < 1e-5);
/// assert!((rate - 0.1 / 12.51f32.sqrt()).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RowAdaGrad {
    /// The learning rate.
    pub lr: f32,
    /// The initial accumulator of every row (and dense weight), as
    /// [`super::AdaGrad::init_acc`].
    pub init_acc: f32,
}

impl RowAdaGrad {
    /// Row-wise AdaGrad with learning rate `lr`, starting every accumulator at
    /// [`super::INIT_ACC`].
    pub fn new(lr: f32) -> RowAdaGrad {
        RowAdaGrad {
            lr,
            init_acc: super::INIT_ACC,
        }
    }

    /// The same with initial accumulator `init_acc` (finite and above 0), as
    /// [`super::AdaGrad::init_acc`].
    ///
    /// ```
    /// use vectorflow::optim::{Optimizer, RowAdaGrad};
    /// let opt = RowAdaGrad::new(0.1).init_acc(3.0);
    /// let mut acc = opt.init_state()[0];
    /// let rate = opt.row_rate(&mut acc, 1.0, 1.0);
    /// assert!((rate - 0.05).abs() < 1e-6); // 0.1 / sqrt(3 + 1)
    /// ```
    pub fn init_acc(self, init_acc: f32) -> RowAdaGrad {
        RowAdaGrad { init_acc, ..self }
    }
}

impl Optimizer for RowAdaGrad {
    type State = [f32; 1];
    const NAME: &'static str = "RowAdaGrad";
    const ROW_WISE: bool = true;

    /// The row's accumulator: summed, and it weighs and rescales its weights' changes.
    fn merge(_: usize) -> Merge {
        Merge::Root
    }

    fn lr(&self) -> f32 {
        self.lr
    }

    fn describe(&self) -> String {
        format!("RowAdaGrad(lr={}, init_acc={:e})", self.lr, self.init_acc)
    }

    fn check(&self) -> Result<(), String> {
        check::positive("RowAdaGrad", "learning rate", self.lr)?;
        check::positive("RowAdaGrad", "initial accumulator", self.init_acc)
    }

    fn init_state(&self) -> [f32; 1] {
        [self.init_acc]
    }

    #[inline(always)]
    fn update(&self, w: f32, s: &mut [f32; 1], g: f32, scale: f32) -> f32 {
        s[0] += g * g;
        w - self.lr * scale * g / s[0].sqrt()
    }

    #[inline(always)]
    fn row_rate(&self, s: &mut f32, mean_sq: f32, scale: f32) -> f32 {
        *s += mean_sq;
        self.lr * scale / s.sqrt()
    }
}
