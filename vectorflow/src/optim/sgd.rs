use super::{check, Optimizer, MAX_STATE};

/// Stochastic gradient descent, with optional (heavy-ball) momentum.
///
/// ```
/// use vectorflow::optim::{Optimizer, Sgd};
/// let sgd = Sgd::new(0.5);
/// let mut s = [0.0; 3];
/// assert_eq!(sgd.update(1.0, &mut s, 2.0, 1.0), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// The learning rate.
    pub lr: f32,
    /// The momentum coefficient (0: none).
    pub momentum: f32,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f32) -> Sgd {
        Sgd { lr, momentum: 0.0 }
    }
    /// The same with momentum `mu` (velocity `v ← mu·v + g`, step `w ← w − lr·v`).
    pub fn momentum(self, mu: f32) -> Sgd {
        Sgd {
            momentum: mu,
            ..self
        }
    }
}

impl Optimizer for Sgd {
    const STATE: usize = 1;
    const NAME: &'static str = "Sgd";

    fn lr(&self) -> f32 {
        self.lr
    }

    fn describe(&self) -> String {
        format!("SGD(lr={}, momentum={})", self.lr, self.momentum)
    }

    fn check(&self) -> Result<(), String> {
        check::positive("SGD", "learning rate", self.lr)?;
        check::fraction("SGD", "momentum", self.momentum)
    }

    #[inline(always)]
    fn update(&self, w: f32, s: &mut [f32; MAX_STATE], g: f32, scale: f32) -> f32 {
        // A weight without gradient keeps its velocity: updates are sparse, like the rows.
        if g == 0.0 {
            return w;
        }
        s[0] = self.momentum * s[0] + g;
        w - self.lr * scale * s[0]
    }
}
