//! Finite-difference gradient checks: does a layer's `backward` agree with its `forward`?
//!
//! [`check_gradients`] holds a [`Layer`] to the standard of the built-ins: for random
//! inputs `x`, the layer's own initial parameters `w` and the scalar loss
//! `L = Σ_k c_k · y_k` (so `dy = c`), the gradient `backward` reports for every parameter
//! and every input is compared with central differences of `L`, summed in f64 from the
//! layer's f32 outputs and Richardson-extrapolated over the steps `h` and `h/2`. Each
//! value's relative error `|a - n| / max(FLOOR, |a| + |n|)` must stay below [`TOL`] and
//! the cosine similarity of the whole gradients above [`COSINE`], in prediction and in
//! training mode.
//!
//! A kink (ReLU's at 0) within a step of the point makes central differences measure
//! neither side's slope. [`derivative`] tells such a point apart from the forward pass
//! alone, by the way the differences change with the step, so a wrong `backward` cannot
//! hide there: those values are left out, and only while they are at most a quarter of
//! the values with a gradient over the whole check.
//!
//! The same pieces ([`derivative`], [`compare`]) check whole networks in the crate's
//! tests (tests/gradients.rs).
//!
//! ```
//! use vectorflow::gradcheck::check_gradients;
//! use vectorflow::layers::{Act, Linear, TanH};
//!
//! let report = check_gradients::<Linear<4, 3, true>>().unwrap();
//! assert_eq!(report.params, 4 * 3 + 3);
//! check_gradients::<Act<TanH, 5>>().unwrap();
//! ```

use crate::init::Init;
use crate::layers::{Buf, Ctx, Layer, Zeroed};
use crate::params::Accumulate;
use crate::rng::Rng;
use std::fmt;

/// Relative step of the central differences: `h = STEP · max(1, |v|)`.
pub const STEP: f32 = 4e-2;
/// Denominator floor of the relative error, below which errors are absolute. The f32
/// forward pass rounds the loss by a few 1e-7 of its size, which is up to ~2e-5 in the
/// difference quotient.
pub const FLOOR: f64 = 5e-3;
/// The largest relative error allowed for any value.
pub const TOL: f64 = 1e-2;
/// The smallest cosine similarity allowed between the analytic and numeric gradients.
pub const COSINE: f64 = 0.9999;

/// A numeric derivative, and whether a kink lies within its step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Derivative {
    /// The Richardson-extrapolated central difference.
    pub value: f64,
    /// True when the function is not smooth within the step, so `value` measures no
    /// one-sided slope and must not be compared.
    pub kink: bool,
}

/// The derivative at `at` of `f`, a function of one f32 computed in f64 (such as a loss
/// summed from f32 outputs), with the step `h = STEP · max(1, |at|)`.
///
/// Central differences `D(h)` of a smooth function change with the step by O(h²), and
/// its second differences `S(h) = f(x+h) - 2f(x) + f(x-h)` scale as h². A kink at
/// distance `d < h` breaks one of the two: `D(h)` and `D(h/2)` differ by a share of the
/// slopes' jump unless `d` is near 0 or `h`, and near 0 `S(h) ≈ 2·S(h/2)` instead of
/// `4·S(h/2)`. Either mark the point as a kink.
pub fn derivative(mut f: impl FnMut(f32) -> f64, at: f32) -> Derivative {
    let h = STEP * at.abs().max(1.0);
    let f0 = f(at);
    let mut central = |h: f32| {
        let (up, down) = (at + h, at - h);
        let (fu, fd) = (f(up), f(down));
        // The step actually taken, after rounding to f32.
        let d = (fu - fd) / (up as f64 - down as f64);
        (d, fu - 2.0 * f0 + fd)
    };
    let (d1, s1) = central(h);
    let (d2, s2) = central(h / 2.0);
    // Richardson extrapolation cancels the h² error term of central differences, which
    // lets the step be large and so keeps the f32 rounding noise small.
    let value = (4.0 * d2 - d1) / 3.0;
    let scale = (d1.abs() + d2.abs()).max(FLOOR);
    // What f32 rounding alone can put in a second difference.
    let noise = 64.0 * f32::EPSILON as f64 * (1.0 + f0.abs());
    let kink =
        (d1 - d2).abs() > TOL * scale || (s1 - 4.0 * s2).abs() > TOL * scale * h as f64 + noise;
    Derivative { value, kink }
}

/// How well an analytic gradient matched a numeric one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Agreement {
    /// Values compared.
    pub checked: usize,
    /// Values left out (near a kink).
    pub skipped: usize,
    /// The largest relative error, and its index.
    pub worst: (f64, usize),
    /// `Σ a·n`, `Σ a²` and `Σ n²` over the compared values, for the cosine similarity.
    pub sums: [f64; 3],
}

impl Agreement {
    /// The cosine similarity of the compared gradients (0 if either is zero).
    pub fn cosine(&self) -> f64 {
        let [dot, aa, nn] = self.sums;
        if aa > 0.0 && nn > 0.0 {
            dot / (aa.sqrt() * nn.sqrt())
        } else {
            0.0
        }
    }
}

/// The first value whose analytic and numeric gradients disagree.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Disagreement {
    /// Its index.
    pub index: usize,
    /// The gradient `backward` reported.
    pub analytic: f32,
    /// The numeric gradient.
    pub numeric: f64,
    /// `|a - n| / max(FLOOR, |a| + |n|)`.
    pub relative: f64,
}

/// Compares `analytic` with `numeric` value by value, leaving out those with
/// `skip[i]` (values past the end of `skip` are all compared): every relative error must
/// be below [`TOL`], and every analytic value finite.
pub fn compare(
    analytic: &[f32],
    numeric: &[f64],
    skip: &[bool],
) -> Result<Agreement, Disagreement> {
    assert_eq!(
        analytic.len(),
        numeric.len(),
        "one numeric value per analytic"
    );
    let mut agreement = Agreement {
        checked: 0,
        skipped: 0,
        worst: (0.0, 0),
        sums: [0.0; 3],
    };
    for (i, (&a, &n)) in analytic.iter().zip(numeric).enumerate() {
        if skip.get(i) == Some(&true) {
            agreement.skipped += 1;
            continue;
        }
        let af = a as f64;
        let relative = (af - n).abs() / (af.abs() + n.abs()).max(FLOOR);
        if relative.is_nan() || relative >= TOL || !a.is_finite() {
            return Err(Disagreement {
                index: i,
                analytic: a,
                numeric: n,
                relative,
            });
        }
        if relative > agreement.worst.0 {
            agreement.worst = (relative, i);
        }
        agreement.checked += 1;
        let s = &mut agreement.sums;
        s[0] += af * n;
        s[1] += af * af;
        s[2] += n * n;
    }
    Ok(agreement)
}

/// What [`check_gradients`] compared.
#[derive(Clone, Debug, PartialEq)]
pub struct GradReport {
    /// The layer's description ([`Layer::describe`]).
    pub layer: String,
    /// The layer's parameter count.
    pub params: usize,
    /// Parameter and input gradients compared, over every trial and mode.
    pub checked: usize,
    /// Values left out because a kink was within the step.
    pub skipped: usize,
    /// The largest relative error seen.
    pub worst: f64,
    /// The lowest cosine similarity of a trial's gradients.
    pub cosine: f64,
}

/// Which gradient a [`GradError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// The layer's parameter `i`.
    Param(usize),
    /// The input `x[i]`.
    X(usize),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Value::Param(i) => write!(f, "parameter {i}"),
            Value::X(i) => write!(f, "input x[{i}]"),
        }
    }
}

/// What is wrong with the layer.
#[derive(Clone, Debug, PartialEq)]
pub enum GradErrorKind {
    /// `backward` reported a gradient central differences of `forward` do not confirm.
    Mismatch {
        /// The value.
        value: Value,
        /// The gradient `backward` reported.
        analytic: f32,
        /// The numeric gradient.
        numeric: f64,
        /// Their relative error.
        relative: f64,
    },
    /// The gradients agree value by value but not as a whole.
    Cosine(f64),
    /// `forward` left `y[i]` unset (a layer must write every output).
    OutputUnset(usize),
    /// `backward` left `dx[i]` unset (a layer must write every input gradient, not add
    /// to it).
    InputGradUnset(usize),
    /// So many values sit near a kink that too little is left to check (over the whole
    /// check: then `trial` is 0).
    Kinks {
        /// Values near a kink.
        skipped: usize,
        /// Values with a gradient.
        live: usize,
    },
    /// Every gradient was zero: nothing was checked.
    Zero,
}

/// A failed [`check_gradients`]: the layer, the trial and mode, and what failed.
#[derive(Clone, PartialEq)]
pub struct GradError {
    /// The layer's description ([`Layer::describe`]).
    pub layer: String,
    /// The trial (0-based): its seed is the check's seed plus the trial.
    pub trial: usize,
    /// True in training mode (dropout on), false in prediction mode.
    pub train: bool,
    /// What failed.
    pub kind: GradErrorKind,
}

impl fmt::Display for GradError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mode = if self.train { "training" } else { "prediction" };
        write!(f, "{} (trial {}, {mode}): ", self.layer, self.trial)?;
        match &self.kind {
            GradErrorKind::Mismatch {
                value,
                analytic,
                numeric,
                relative,
            } => write!(
                f,
                "the gradient of {value} is {analytic} by backward but {numeric} by finite differences of forward (relative error {relative:.2e}, tolerance {TOL:.0e})"
            ),
            GradErrorKind::Cosine(c) => write!(
                f,
                "the gradients' cosine similarity is {c}, below {COSINE}"
            ),
            GradErrorKind::OutputUnset(i) => {
                write!(f, "forward left y[{i}] unset; it must write every output")
            }
            GradErrorKind::InputGradUnset(i) => write!(
                f,
                "backward left dx[{i}] unset; it must write (not add to) every input gradient"
            ),
            GradErrorKind::Kinks { skipped, live } => write!(
                f,
                "{skipped} of {live} gradients are within a step of a kink, too many to check the rest; pick another seed"
            ),
            GradErrorKind::Zero => write!(f, "every gradient is zero: nothing was checked"),
        }
    }
}

debug_as_message!(GradError);

impl std::error::Error for GradError {}

/// Checks the gradients of `L` with the default settings: see the [module](self) and
/// [`GradCheck`]. Check a small instance of a layer (a few units wide): each parameter
/// and input costs five forward passes per trial and mode.
///
/// ```
/// use vectorflow::gradcheck::check_gradients;
/// use vectorflow::layers::Dropout;
///
/// // Dropout's masks are drawn again for each evaluation from the same seed.
/// check_gradients::<Dropout<8, 500_000>>().unwrap();
/// ```
pub fn check_gradients<L: Layer>() -> Result<GradReport, GradError> {
    GradCheck::new().check::<L>()
}

/// The settings of a gradient check: the seed, the number of trials (random points), and
/// how the layer's parameters are initialised.
///
/// ```
/// use vectorflow::gradcheck::GradCheck;
/// use vectorflow::init::Init;
/// use vectorflow::layers::{Act, SeLU};
///
/// let report = GradCheck::new().seed(9).trials(8).check::<Act<SeLU, 6>>().unwrap();
/// assert!(report.checked > 0);
/// ```
#[derive(Clone, Debug)]
pub struct GradCheck {
    seed: u64,
    trials: usize,
    init: Init,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck::new()
    }
}

impl GradCheck {
    /// Seed 1, 4 trials, parameters from the layer's `init` with `Init::normal(0.5)`.
    pub fn new() -> GradCheck {
        GradCheck {
            seed: 1,
            trials: 4,
            init: Init::normal(0.5),
        }
    }

    /// The seed of the first trial's inputs, loss and parameters.
    pub fn seed(self, seed: u64) -> GradCheck {
        GradCheck { seed, ..self }
    }

    /// The number of random points checked.
    pub fn trials(self, trials: usize) -> GradCheck {
        GradCheck { trials, ..self }
    }

    /// The `Init` handed to the layer's `init` (its seed is replaced by each trial's).
    pub fn init(self, init: Init) -> GradCheck {
        GradCheck { init, ..self }
    }

    /// Checks `L`, with inputs drawn from N(0, 1).
    pub fn check<L: Layer>(&self) -> Result<GradReport, GradError> {
        let mut layer = String::new();
        L::describe(&mut layer);
        let mut report = GradReport {
            layer: layer.clone(),
            params: L::PARAMS,
            checked: 0,
            skipped: 0,
            worst: 0.0,
            cosine: 1.0,
        };
        let mut any = false;
        let mut live_total = 0;
        for trial in 0..self.trials {
            let seed = self.seed.wrapping_add(trial as u64);
            let mut rng = Rng::new(seed);
            let mut w = vec![0.0f32; L::PARAMS];
            L::init(&mut w, &self.init.seed(seed), &mut rng);
            let mut x = L::In::zeroed();
            x.as_mut().iter_mut().for_each(|v| *v = rng.normal());
            let mut c = L::Out::zeroed();
            c.as_mut().iter_mut().for_each(|v| *v = rng.normal());
            for train in [false, true] {
                let fail = |kind| GradError {
                    layer: layer.clone(),
                    trial,
                    train,
                    kind,
                };
                let ctx = if train {
                    Ctx::train(seed ^ 0x5eed)
                } else {
                    Ctx::predict()
                };
                let trial = Trial::<L> { c, ctx };
                let (agreement, live) = trial.check(&w, &x).map_err(fail)?;
                live_total += live;
                any |= agreement.sums[1] > 0.0 && agreement.sums[2] > 0.0;
                report.checked += agreement.checked;
                report.skipped += agreement.skipped;
                report.worst = report.worst.max(agreement.worst.0);
                if agreement.sums[1] > 0.0 {
                    let cosine = agreement.cosine();
                    if cosine.is_nan() || cosine <= COSINE {
                        return Err(fail(GradErrorKind::Cosine(cosine)));
                    }
                    report.cosine = report.cosine.min(cosine);
                }
            }
        }
        let whole = |kind| GradError {
            layer: layer.clone(),
            trial: 0,
            train: false,
            kind,
        };
        if report.skipped * 4 > live_total {
            return Err(whole(GradErrorKind::Kinks {
                skipped: report.skipped,
                live: live_total,
            }));
        }
        if !any {
            return Err(whole(GradErrorKind::Zero));
        }
        Ok(report)
    }
}

/// One point: the loss coefficients and the context each forward pass starts from.
struct Trial<L: Layer> {
    c: L::Out,
    ctx: Ctx,
}

impl<L: Layer> Trial<L> {
    /// The forward pass from a fresh context and scratch, with `y` preset to NaN so an
    /// unset output shows.
    fn forward(&self, w: &[f32], x: &L::In) -> (L::Out, L::Scratch) {
        let mut y = L::Out::zeroed();
        y.as_mut().fill(f32::NAN);
        let mut s = L::Scratch::zeroed();
        L::forward(w, 0, x, &mut y, &mut s, &mut self.ctx.clone());
        (y, s)
    }

    /// `Σ c_k · y_k`, in f64.
    fn loss(&self, w: &[f32], x: &L::In) -> f64 {
        let (y, _) = self.forward(w, x);
        let c = self.c.as_ref();
        y.as_ref()
            .iter()
            .zip(c)
            .map(|(&y, &c)| y as f64 * c as f64)
            .sum()
    }

    /// The agreement of the gradients, and how many values have one.
    fn check(&self, w: &[f32], x: &L::In) -> Result<(Agreement, usize), GradErrorKind> {
        let (y, s) = self.forward(w, x);
        if let Some(i) = y.as_ref().iter().position(|v| v.is_nan()) {
            return Err(GradErrorKind::OutputUnset(i));
        }
        let mut dx = L::In::zeroed();
        dx.as_mut().fill(f32::NAN);
        let mut acc = Accumulate::new(w);
        L::backward(&mut acc, 0, x, &y, &s, &self.c, &mut dx);
        if let Some(i) = dx.as_ref().iter().position(|v| v.is_nan()) {
            return Err(GradErrorKind::InputGradUnset(i));
        }
        let analytic: Vec<f32> = acc.grad.iter().chain(dx.as_ref()).copied().collect();

        let mut wp = w.to_vec();
        let mut xp = *x;
        let mut numeric = Vec::with_capacity(analytic.len());
        let mut skip = Vec::with_capacity(analytic.len());
        for i in 0..w.len() {
            let d = derivative(
                |v| {
                    wp[i] = v;
                    let l = self.loss(&wp, x);
                    wp[i] = w[i];
                    l
                },
                w[i],
            );
            numeric.push(d.value);
            skip.push(d.kink);
        }
        for j in 0..L::In::WIDTH {
            let x0 = x.as_ref()[j];
            let d = derivative(
                |v| {
                    xp.as_mut()[j] = v;
                    let l = self.loss(w, &xp);
                    xp.as_mut()[j] = x0;
                    l
                },
                x0,
            );
            numeric.push(d.value);
            skip.push(d.kink);
        }
        let live = analytic.iter().filter(|&&g| g != 0.0).count();
        let agreement =
            compare(&analytic, &numeric, &skip).map_err(|d| GradErrorKind::Mismatch {
                value: if d.index < w.len() {
                    Value::Param(d.index)
                } else {
                    Value::X(d.index - w.len())
                },
                analytic: d.analytic,
                numeric: d.numeric,
                relative: d.relative,
            })?;
        Ok((agreement, live))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivative_of_smooth_functions() {
        let d = derivative(|x| (x as f64).sin(), 0.7);
        assert!((d.value - 0.7f64.cos()).abs() < 1e-5, "{d:?}");
        assert!(!d.kink);
        let d = derivative(|x| (x as f64).powi(3), -2.0);
        assert!((d.value - 12.0).abs() < 1e-3, "{d:?}");
        assert!(!d.kink);
    }

    #[test]
    fn kinks_within_the_step_are_flagged_at_every_distance() {
        // |x| has its kink at 0; the step at 0.5 is 0.04. Every distance below it, and 0
        // itself, must be flagged; one well beyond it must not.
        for d in [0.0f32, 1e-4, 0.005, 0.01, 0.013, 0.02, 0.03, 0.039] {
            let k = derivative(|x| (x as f64).abs(), d);
            assert!(k.kink || (k.value - 1.0).abs() < TOL, "distance {d}: {k:?}");
        }
        assert!(derivative(|x| (x as f64).abs(), 0.0).kink);
        assert!(!derivative(|x| (x as f64).abs(), 0.2).kink);
    }

    #[test]
    fn compare_reports_the_first_disagreement() {
        let ok = compare(&[1.0, 0.0, -2.0], &[1.001, 0.0, -2.0], &[]).unwrap();
        assert_eq!((ok.checked, ok.skipped), (3, 0));
        let bad = compare(&[1.0, 0.5, -2.0], &[1.0, 0.8, 9.0], &[]).unwrap_err();
        assert_eq!(bad.index, 1);
        // A skipped value is not compared.
        let ok = compare(&[1.0, 0.5], &[1.0, 0.8], &[false, true]).unwrap();
        assert_eq!((ok.checked, ok.skipped), (1, 1));
        assert_eq!(compare(&[f32::NAN], &[0.0], &[]).unwrap_err().index, 0);
    }
}
