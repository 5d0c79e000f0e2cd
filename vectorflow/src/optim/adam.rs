use super::{check, Merge, Optimizer};

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
    type State = [f32; 3];
    const NAME: &'static str = "Adam";

    /// The moments are averaged, weighted by each copy's steps, counted by `t`, which adds.
    fn merge(j: usize) -> Merge {
        [Merge::Average, Merge::Average, Merge::Weighs][j]
    }

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
    fn update(&self, w: f32, s: &mut [f32; 3], g: f32, scale: f32) -> f32 {
        // First, unconditionally: they depend on the settings alone, and the compiler
        // computes them once per row (a loop over weights) only if every pass of the
        // loop body does.
        let (l1, l2) = (self.beta1.log2(), self.beta2.log2());
        // A weight without gradient keeps its state: updates are sparse, like the rows.
        if g == 0.0 {
            return w;
        }
        s[2] += 1.0;
        s[0] = self.beta1 * s[0] + (1.0 - self.beta1) * g;
        s[1] = self.beta2 * s[1] + (1.0 - self.beta2) * g * g;
        let t = s[2];
        let m = s[0] / one_minus_exp2(t * l1);
        let v = s[1] / one_minus_exp2(t * l2);
        w - self.lr * scale * m / (v.sqrt() + self.eps)
    }
}

/// `1 − 2^x` for `x ≤ 0` (a bias correction `1 − β^t`, `x = t·log2 β`), within an ulp
/// or two, branch-free and without calls so that a row's corrections vectorise (`powf`
/// is a libm call per weight, which dominated Adam's training time).
///
/// `2^x = 2^n·2^f` with `n` the nearest whole number and `|f| ≤ 1/2`, and
/// `1 − 2^x = (1 − 2^n) − 2^n·(2^f − 1)`: the first part is exact and `2^f − 1` comes
/// from its Taylor series, so the small corrections of the first steps keep their
/// relative precision. Below `2^-40` the power counts as 0: `1 − 2^x` is 1 in f32 from
/// `2^-25` down.
#[inline(always)]
fn one_minus_exp2(x: f32) -> f32 {
    let x = x.max(-40.0);
    let n = x.round_ties_even();
    let f = (x - n) * std::f32::consts::LN_2;
    // e^f − 1 to f^7: the next term is below 2e-8 of it for |f| ≤ ln2/2.
    let p = f
        * (1.0
            + f * (1.0 / 2.0
                + f * (1.0 / 6.0
                    + f * (1.0 / 24.0
                        + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f * (1.0 / 5040.0)))))));
    // 2^n from its exponent bits: n is in [-40, 0].
    let e = f32::from_bits(((n as i32 + 127) as u32) << 23);
    (1.0 - e) - e * p
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    /// One Adam step as the paper writes it, in f64 with `powf`, from the f32 state `s`.
    fn reference(adam: &Adam, w: f32, s: &[f32; 3], g: f32) -> f64 {
        let (b1, b2) = (adam.beta1 as f64, adam.beta2 as f64);
        let (g, t) = (g as f64, s[2] as f64 + 1.0);
        let m = b1 * s[0] as f64 + (1.0 - b1) * g;
        let v = b2 * s[1] as f64 + (1.0 - b2) * g * g;
        let (m, v) = (m / (1.0 - b1.powf(t)), v / (1.0 - b2.powf(t)));
        w as f64 - adam.lr as f64 * m / (v.sqrt() + adam.eps as f64)
    }

    /// The f32 step this module computed before, with `powf` per weight.
    fn with_powf(adam: &Adam, w: f32, s: &[f32; 3], g: f32) -> f32 {
        let t = s[2] + 1.0;
        let m = adam.beta1 * s[0] + (1.0 - adam.beta1) * g;
        let v = adam.beta2 * s[1] + (1.0 - adam.beta2) * g * g;
        let (m, v) = (
            m / (1.0 - adam.beta1.powf(t)),
            v / (1.0 - adam.beta2.powf(t)),
        );
        w - adam.lr * m / (v.sqrt() + adam.eps)
    }

    #[test]
    fn steps_match_the_reference_over_many_sparse_steps() {
        let (mut worst_ref, mut worst_powf) = (0.0f64, 0.0f64);
        for adam in [
            Adam::new(0.01),
            Adam::new(0.1).betas(0.5, 0.99),
            Adam::new(0.001).betas(0.0, 0.9999),
        ] {
            let mut rng = Rng::new(7);
            let (mut w, mut s) = (0.3f32, adam.init_state());
            for _ in 0..20_000 {
                // A quarter of the steps have no gradient: the weight and its step
                // count stay, as a sparse row's untouched outputs do.
                let g = if rng.below(4) == 0 { 0.0 } else { rng.normal() };
                let (s_before, w_before) = (s, w);
                w = adam.update(w, &mut s, g, 1.0);
                if g == 0.0 {
                    assert_eq!((w, s), (w_before, s_before));
                    continue;
                }
                // The step, against the reference step from the same state; the
                // weight's own rounding (an ulp of w) is allowed on top.
                let exact = reference(&adam, w_before, &s_before, g) - w_before as f64;
                let step = w as f64 - w_before as f64;
                let slack = 2.0 * f32::EPSILON as f64 * w_before.abs() as f64;
                let rel = ((step - exact).abs() - slack).max(0.0) / exact.abs();
                assert!(rel < 1e-6, "{adam:?} at t = {}: {step} vs {exact}", s[2]);
                worst_ref = worst_ref.max(rel);
                let old = with_powf(&adam, w_before, &s_before, g) as f64 - w_before as f64;
                worst_powf = worst_powf.max(((step - old).abs() - slack).max(0.0) / old.abs());
            }
        }
        // The figures the change was stated with (`cargo test -- --nocapture`).
        eprintln!("relative step error: {worst_ref:e} vs f64, {worst_powf:e} vs powf in f32");
        assert!(worst_powf < 1e-6);
    }

    #[test]
    fn corrections_keep_their_relative_precision() {
        for beta in [0.0f32, 0.5, 0.9, 0.99, 0.999, 0.9999, 0.999_999] {
            let l = beta.log2();
            let mut t = 1.0f32;
            while t <= 16_777_216.0 {
                for t in [t, t + 1.0, t * 1.5] {
                    let exact = 1.0 - (beta as f64).powf(t as f64);
                    let got = one_minus_exp2(t * l) as f64;
                    let rel = (got - exact).abs() / exact;
                    assert!(rel < 1e-6, "1 - {beta}^{t}: {got} vs {exact}");
                }
                t *= 2.0;
            }
        }
    }
}
