use super::{check, Optimizer, MAX_STATE};

/// Adam with bias correction. Its step count is kept per weight, so a rare feature's
/// first update is corrected like a frequent one's (sparse rows touch few weights).
///
/// ```
/// use vectorflow::optim::{Adam, Optimizer};
/// let adam = Adam::new(0.01);
/// let mut s = adam.init_state();
/// let w = adam.update(1.0, &mut s, 3.0, 1.0);
/// assert!((w - 0.99).abs() < 1e-5); // the first corrected step has length lr
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Adam {
    /// The learning rate.
    pub lr: f32,
    /// Decay of the first moment.
    pub beta1: f32,
    /// Decay of the second moment.
    pub beta2: f32,
    /// Added to the root of the second moment.
    pub eps: f32,
}

impl Adam {
    /// Adam with learning rate `lr` and the usual β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    pub fn new(lr: f32) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
    /// The same with other moment decays.
    pub fn betas(self, beta1: f32, beta2: f32) -> Adam {
        Adam {
            beta1,
            beta2,
            ..self
        }
    }
}

impl Optimizer for Adam {
    const STATE: usize = 3;
    const NAME: &'static str = "Adam";

    fn lr(&self) -> f32 {
        self.lr
    }

    fn describe(&self) -> String {
        format!(
            "Adam(lr={}, beta1={}, beta2={})",
            self.lr, self.beta1, self.beta2
        )
    }

    fn check(&self) -> Result<(), String> {
        check::positive("Adam", "learning rate", self.lr)?;
        check::fraction("Adam", "beta1", self.beta1)?;
        check::fraction("Adam", "beta2", self.beta2)?;
        check::non_negative("Adam", "eps", self.eps)
    }

    #[inline(always)]
    fn update(&self, w: f32, s: &mut [f32; MAX_STATE], g: f32, scale: f32) -> f32 {
        // A weight without gradient keeps its state: updates are sparse, like the rows.
        if g == 0.0 {
            return w;
        }
        s[2] += 1.0;
        s[0] = self.beta1 * s[0] + (1.0 - self.beta1) * g;
        s[1] = self.beta2 * s[1] + (1.0 - self.beta2) * g * g;
        let m = s[0] / (1.0 - self.beta1.powf(s[2]));
        let v = s[1] / (1.0 - self.beta2.powf(s[2]));
        w - self.lr * scale * m / (v.sqrt() + self.eps)
    }
}
