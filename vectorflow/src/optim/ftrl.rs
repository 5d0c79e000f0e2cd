use super::{check, Merge, Optimizer};

/// FTRL-proximal (McMahan et al., 2013), the usual choice for sparse logistic regression
/// with L1: weights of rare, weak features are exactly zero.
///
/// Its L1 and L2 are part of the update and, like it, touch only the row's weights.
///
/// ```
/// use vectorflow::optim::{Ftrl, Optimizer};
/// let ftrl = Ftrl::new(0.1).l1(1.0);
/// let mut s = ftrl.init_state();
/// // a small gradient stays inside the L1 ball: the weight stays exactly 0
/// assert_eq!(ftrl.update(0.0, &mut s, 0.5, 1.0), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ftrl {
    /// α, the learning rate.
    pub alpha: f32,
    /// β, smoothing of the per-coordinate rate.
    pub beta: f32,
    /// λ₁: L1 strength.
    pub l1: f32,
    /// λ₂: L2 strength.
    pub l2: f32,
}

impl Ftrl {
    /// FTRL-proximal with α = `alpha`, β = 1 and no regularisation.
    pub fn new(alpha: f32) -> Ftrl {
        Ftrl {
            alpha,
            beta: 1.0,
            l1: 0.0,
            l2: 0.0,
        }
    }
    /// The same with L1 strength `l1`.
    pub fn l1(self, l1: f32) -> Ftrl {
        Ftrl { l1, ..self }
    }
    /// The same with L2 strength `l2`.
    pub fn l2(self, l2: f32) -> Ftrl {
        Ftrl { l2, ..self }
    }
    /// The same with β = `beta`.
    pub fn beta(self, beta: f32) -> Ftrl {
        Ftrl { beta, ..self }
    }
}

impl Optimizer for Ftrl {
    /// `z` and `n` of the paper.
    type State = [f32; 2];
    const NAME: &'static str = "Ftrl";

    /// `z` and `n` are running sums over the steps, from which the weight follows: both
    /// add up, as one copy that took every copy's steps would have summed them; `n`'s
    /// growth weighs the weight's changes.
    fn merge(j: usize) -> Merge {
        [Merge::Add, Merge::Weighs][j]
    }

    fn lr(&self) -> f32 {
        self.alpha
    }

    fn describe(&self) -> String {
        format!(
            "FTRL(alpha={}, beta={}, l1={}, l2={})",
            self.alpha, self.beta, self.l1, self.l2
        )
    }

    /// FTRL's weight is a function of `z` and `n`; `z` starts where that function gives
    /// `w` (with `n = 0`), so training continues from existing weights instead of
    /// overwriting them on their first step.
    fn start(&self, w: f32) -> [f32; 2] {
        let z = if w == 0.0 {
            0.0
        } else {
            -(w * (self.beta / self.alpha + self.l2) + self.l1.copysign(w))
        };
        [z, 0.0]
    }

    fn check(&self) -> Result<(), String> {
        check::positive("FTRL", "alpha", self.alpha)?;
        check::non_negative("FTRL", "beta", self.beta)?;
        check::non_negative("FTRL", "l1", self.l1)?;
        check::non_negative("FTRL", "l2", self.l2)
    }

    #[inline(always)]
    fn update(&self, w: f32, s: &mut [f32; 2], g: f32, scale: f32) -> f32 {
        let alpha = self.alpha * scale;
        let n_new = s[1] + g * g;
        let sigma = (n_new.sqrt() - s[1].sqrt()) / alpha;
        s[0] += g - sigma * w;
        s[1] = n_new;
        let z = s[0];
        if z.abs() <= self.l1 {
            0.0
        } else {
            -(z - self.l1.copysign(z)) / ((self.beta + n_new.sqrt()) / alpha + self.l2)
        }
    }
}
