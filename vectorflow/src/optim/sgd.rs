use super::{check, Optimizer};

/// Plain stochastic gradient descent, `w ← w − lr·g`. It keeps no state, so a sparse
/// row trains in its weights' bytes alone; [`Sgd::momentum`] gives SGD with momentum.
///
/// ```
/// use vectorflow::optim::{Optimizer, Sgd};
/// let sgd = Sgd::new(0.5);
/// assert_eq!(Sgd::STATE, 0);
/// assert_eq!(sgd.update(1.0, &mut sgd.init_state(), 2.0, 1.0), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sgd {
    /// The learning rate.
    pub lr: f32,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f32) -> Sgd {
        Sgd { lr }
    }
    /// SGD at the same rate with (heavy-ball) momentum `mu`: velocity `v ← mu·v + g`,
    /// step `w ← w − lr·v`.
    pub fn momentum(self, mu: f32) -> Momentum {
        Momentum {
            lr: self.lr,
            momentum: mu,
        }
    }
}

impl Optimizer for Sgd {
    type State = [f32; 0];
    /// The kind it shares with [`Momentum`]: see there.
    const NAME: &'static str = "Sgd";

    fn lr(&self) -> f32 {
        self.lr
    }

    fn describe(&self) -> String {
        format!("SGD(lr={})", self.lr)
    }

    fn check(&self) -> Result<(), String> {
        check::positive("SGD", "learning rate", self.lr)
    }

    #[inline(always)]
    fn update(&self, w: f32, _: &mut [f32; 0], g: f32, scale: f32) -> f32 {
        w - self.lr * scale * g
    }
}

/// SGD with (heavy-ball) momentum, made by [`Sgd::momentum`]. It keeps one state float
/// per weight, the velocity.
///
/// It is the same kind of optimizer as [`Sgd`] ([`Optimizer::NAME`] `"Sgd"`): a training
/// state passes between the two, plain SGD dropping the velocity and momentum starting
/// it at zero where the state has none. (Model files written when plain SGD still kept
/// a velocity plane continue with either, as they did.)
///
/// ```
/// use vectorflow::optim::{Optimizer, Sgd};
/// let m = Sgd::new(0.5).momentum(0.5);
/// let mut s = m.init_state();
/// assert_eq!(m.update(1.0, &mut s, 2.0, 1.0), 0.0); // v = 2
/// assert_eq!(m.update(0.0, &mut s, 2.0, 1.0), -1.5); // v = 0.5·2 + 2
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Momentum {
    /// The learning rate.
    pub lr: f32,
    /// The momentum coefficient, in [0, 1).
    pub momentum: f32,
}

impl Optimizer for Momentum {
    type State = [f32; 1];
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
    fn update(&self, w: f32, s: &mut [f32; 1], g: f32, scale: f32) -> f32 {
        // A weight without gradient keeps its velocity: updates are sparse, like the rows.
        if g == 0.0 {
            return w;
        }
        s[0] = self.momentum * s[0] + g;
        w - self.lr * scale * s[0]
    }
}
