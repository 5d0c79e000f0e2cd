//! Losses: built-in ones and closures, with dense or sparse output gradients.
//!
//! A loss sees the network's output, the row and a gradient buffer of the same width:
//! `Loss<R, [f32; OUT]>`. A loss written for another width, such as
//! `Multinomial<10>` on a net with 5 outputs or a closure over `[f32; 2]` on a net with
//! one, does not implement the trait for the net's output, so `fit` does not compile.
//!
//! Built-in losses multiply both the loss and its gradient by the row's `#[weight]`.
//! A closure sees the row and weighs it as it likes. Trained from a stream, whose rows
//! are hashed as they are read, the row a loss sees is a
//! [`StreamRow<A>`](crate::train::StreamRow): the label, the weight and `A`, the struct
//! of the row's `#[aux]` fields ([`crate::features::aux`]).
//!
//! Training checks every row's label with [`Loss::check_row`] (`Logistic` and `Hinge`
//! take 0/1 or ±1, `Multinomial<K>` a class index below K, ...) and stops, naming the
//! row, on a label the loss does not take or on a non-finite gradient.
//!
//! The gradient buffer is all zeros when a loss is called, and outputs whose gradient
//! stays zero are skipped by the backward pass: a loss over many outputs that sets only a
//! few entries (a sampled softmax, a one-vs-rest target) touches only those outputs'
//! weights.
//!
//! ```
//! use vectorflow::loss::Loss;
//! // squared error on the target output only
//! let l = |out: &[f32; 4], target: &usize, grad: &mut [f32; 4]| -> f32 {
//!     grad[*target] = out[*target] - 1.0;
//!     0.5 * grad[*target] * grad[*target]
//! };
//! let mut g = [0.0; 4];
//! assert_eq!(l.loss(&[0.0, 3.0, 0.0, 0.0], &1, &mut g), 2.0);
//! assert_eq!(g, [0.0, 2.0, 0.0, 0.0]);
//! ```

use crate::features::Labeled;
use std::fmt;

/// A label a loss does not accept, with the field it came from.
#[derive(Clone, PartialEq)]
pub struct LabelError {
    /// The `#[label]` field ([`Labeled::LABEL_FIELD`]).
    pub field: &'static str,
    /// The label.
    pub value: f32,
    /// What the loss expects, e.g. `0 or 1 (or -1/+1)`.
    pub expected: String,
}

impl LabelError {
    /// The error for row type `R`'s label `value`; `expected` is formatted only here,
    /// on failure.
    #[cold]
    fn new<R: Labeled>(value: f32, expected: impl fmt::Display) -> LabelError {
        LabelError {
            field: R::LABEL_FIELD,
            value,
            expected: expected.to_string(),
        }
    }
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the label `{}` is {}; expected {}",
            self.field, self.value, self.expected
        )
    }
}

debug_as_message!(LabelError);

impl std::error::Error for LabelError {}

/// `Ok` if `label` is 0, 1 or ±1: the labels of a binary loss.
#[inline]
fn binary<R: Labeled>(label: f32, loss: &str) -> Result<(), LabelError> {
    if label == 0.0 || label == 1.0 || label == -1.0 {
        Ok(())
    } else {
        Err(LabelError::new::<R>(
            label,
            format_args!("0 or 1 (or -1 or +1) for `{loss}`"),
        ))
    }
}

/// A loss for rows of type `R` on a network whose output is `O` (`[f32; OUT]`).
// rustc cannot say which of the two cases below applies (the closure impl competes with
// every built-in one, so it reports this trait, not the missing `Labeled`): the label
// and the first note name the label, the likelier mistake, first.
#[diagnostic::on_unimplemented(
    message = "the loss `{Self}` does not fit rows of type `{R}` on a network whose output is `{O}`",
    label = "this loss needs rows with a #[label], or another output width",
    note = "the built-in losses read the row's label: does `{R}` have a field marked #[label]? `Logistic`, `Square`, `Hinge` and `Poisson` need one output, `Multinomial<K>` needs K",
    note = "a closure loss is `|out: &{O}, row: &{R}, grad: &mut {O}| -> f32`"
)]
pub trait Loss<R, O: ?Sized>: Sync {
    /// Sets `grad` (all zeros on entry) to the gradient of the loss with respect to
    /// `out` and returns the loss. Entries left at zero are skipped by the backward pass.
    fn loss(&self, out: &O, row: &R, grad: &mut O) -> f32;

    /// Checks the row's label before training on it: the trainer calls it on every row
    /// and stops, naming the pass, the row and the field, on an error. By default every
    /// row passes (a closure loss reads the row as it likes).
    ///
    /// ```
    /// use vectorflow::loss::{Loss, Multinomial};
    /// # use vectorflow::{Features, Labeled};
    /// # struct Row(f32);
    /// # impl Features for Row {}
    /// # impl Labeled for Row {
    /// #     const LABEL_FIELD: &'static str = "class";
    /// #     fn label(&self) -> f32 { self.0 }
    /// # }
    /// let e = Loss::<Row, [f32; 3]>::check_row(&Multinomial::<3>, &Row(3.0)).unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "the label `class` is 3; expected an integer class index in [0, 3) for `Multinomial<3>`"
    /// );
    /// ```
    #[inline]
    fn check_row(&self, row: &R) -> Result<(), LabelError> {
        let _ = row;
        Ok(())
    }

    /// The output width the loss needs, when it says (a loss chosen at run time,
    /// [`crate::dynnet::DynLoss`], does): a net built at run time is checked against it
    /// before training. `None` by default.
    fn outputs(&self) -> Option<usize> {
        None
    }
}

/// A numerically stable `ln(1 + e^x)`.
#[inline(always)]
pub fn softplus(x: f32) -> f32 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// The logistic function `1 / (1 + e^-x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Logistic loss on a score (log-odds) for labels 0/1 (-1/+1 labels work too: -1 is the
/// negative class). Any other label stops training with an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct Logistic;

impl<R: Labeled> Loss<R, [f32; 1]> for Logistic {
    #[inline]
    fn loss(&self, out: &[f32; 1], row: &R, grad: &mut [f32; 1]) -> f32 {
        let label = row.label();
        if label.is_nan() {
            return f32::NAN;
        }
        let y = if label > 0.5 { 1.0 } else { 0.0 };
        let w = row.weight();
        grad[0] = w * (sigmoid(out[0]) - y);
        w * (softplus(out[0]) - y * out[0])
    }
    #[inline]
    fn check_row(&self, row: &R) -> Result<(), LabelError> {
        binary::<R>(row.label(), "Logistic")
    }
}

/// Half the squared error, `(out − y)² / 2`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Square;

impl<R: Labeled> Loss<R, [f32; 1]> for Square {
    #[inline]
    fn loss(&self, out: &[f32; 1], row: &R, grad: &mut [f32; 1]) -> f32 {
        let d = out[0] - row.label();
        let w = row.weight();
        grad[0] = w * d;
        0.5 * w * d * d
    }
    #[inline]
    fn check_row(&self, row: &R) -> Result<(), LabelError> {
        let y = row.label();
        if y.is_finite() {
            Ok(())
        } else {
            Err(LabelError::new::<R>(y, "a finite number for `Square`"))
        }
    }
}

/// Hinge loss `max(0, 1 − y·out)` with `y` in {−1, +1} (0/1 labels work too: 0 is −1).
/// Any other label stops training with an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hinge;

impl<R: Labeled> Loss<R, [f32; 1]> for Hinge {
    #[inline]
    fn loss(&self, out: &[f32; 1], row: &R, grad: &mut [f32; 1]) -> f32 {
        let label = row.label();
        if label.is_nan() {
            return f32::NAN;
        }
        let y = if label > 0.5 { 1.0 } else { -1.0 };
        let w = row.weight();
        let m = 1.0 - y * out[0];
        if m > 0.0 {
            grad[0] = -w * y;
            w * m
        } else {
            grad[0] = 0.0;
            0.0
        }
    }
    #[inline]
    fn check_row(&self, row: &R) -> Result<(), LabelError> {
        binary::<R>(row.label(), "Hinge")
    }
}

/// Poisson regression with a log link: `out` is the log of the rate, the label a count;
/// the loss is the negative log-likelihood without its constant, `e^out − y·out`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Poisson;

impl<R: Labeled> Loss<R, [f32; 1]> for Poisson {
    #[inline]
    fn loss(&self, out: &[f32; 1], row: &R, grad: &mut [f32; 1]) -> f32 {
        let y = row.label();
        let w = row.weight();
        let rate = out[0].exp();
        grad[0] = w * (rate - y);
        w * (rate - y * out[0])
    }
    #[inline]
    fn check_row(&self, row: &R) -> Result<(), LabelError> {
        let y = row.label();
        if y.is_finite() && y >= 0.0 {
            Ok(())
        } else {
            Err(LabelError::new::<R>(
                y,
                "a finite count at least 0 for `Poisson`",
            ))
        }
    }
}

/// Softmax cross-entropy over `K` classes; the label is the class index. The softmax is
/// shifted by the largest score, so large scores do not overflow.
#[derive(Clone, Copy, Debug, Default)]
pub struct Multinomial<const K: usize>;

impl<R: Labeled, const K: usize> Loss<R, [f32; K]> for Multinomial<K> {
    #[inline]
    fn loss(&self, out: &[f32; K], row: &R, grad: &mut [f32; K]) -> f32 {
        softmax_loss(out, row, grad)
    }
    #[inline]
    fn check_row(&self, row: &R) -> Result<(), LabelError> {
        check_class(row, K)
    }
}

/// [`Multinomial`]'s loss over `out.len()` classes, whatever their number (a loss chosen
/// at run time calls it too).
#[inline(always)]
pub(crate) fn softmax_loss<R: Labeled>(out: &[f32], row: &R, grad: &mut [f32]) -> f32 {
    let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for (g, o) in grad.iter_mut().zip(out) {
        *g = (o - max).exp();
        sum += *g;
    }
    let w = row.weight();
    let label = row.label();
    // A label outside 0..K has no class: the loss is NaN (training checks the label
    // with `check_row` first and names it).
    let Some(class) = class_of(label, out.len()) else {
        return f32::NAN;
    };
    for g in grad.iter_mut() {
        *g = w * *g / sum;
    }
    grad[class] -= w;
    w * (sum.ln() - (out[class] - max))
}

/// [`Multinomial`]'s label check for `k` classes.
#[inline]
pub(crate) fn check_class<R: Labeled>(row: &R, k: usize) -> Result<(), LabelError> {
    let label = row.label();
    match class_of(label, k) {
        Some(_) => Ok(()),
        None => Err(LabelError::new::<R>(
            label,
            format_args!("an integer class index in [0, {k}) for `Multinomial<{k}>`"),
        )),
    }
}

/// The class a label names, if it is an integer in `[0, k)`.
#[inline]
fn class_of(label: f32, k: usize) -> Option<usize> {
    (label >= 0.0 && label.fract() == 0.0 && (label as usize) < k).then_some(label as usize)
}

impl<R, const N: usize, F> Loss<R, [f32; N]> for F
where
    F: Fn(&[f32; N], &R, &mut [f32; N]) -> f32 + Sync,
{
    #[inline]
    fn loss(&self, out: &[f32; N], row: &R, grad: &mut [f32; N]) -> f32 {
        self(out, row, grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Features;

    struct Y(f32, f32);
    impl Features for Y {
        fn weight(&self) -> f32 {
            self.1
        }
    }
    impl Labeled for Y {
        const LABEL_FIELD: &'static str = "y";
        fn label(&self) -> f32 {
            self.0
        }
    }

    /// Central differences in f64 of the loss against its analytic gradient.
    fn check<L: Loss<Y, [f32; K]>, const K: usize>(l: &L, out: [f32; K], row: &Y) {
        let mut g = [0.0f32; K];
        let v = l.loss(&out, row, &mut g);
        assert!(v.is_finite());
        for k in 0..K {
            let h = 1e-2f32;
            let (mut a, mut b) = (out, out);
            a[k] += h;
            b[k] -= h;
            let mut s = [0.0; K];
            let num = (l.loss(&a, row, &mut s) as f64 - l.loss(&b, row, &mut s) as f64)
                / (2.0 * h as f64);
            assert!(
                (num - g[k] as f64).abs() < 2e-3 * (1.0 + num.abs()),
                "k={k}: {num} vs {}",
                g[k]
            );
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        for &(y, w) in &[(0.0, 1.0), (1.0, 2.5)] {
            for s in [-3.0f32, -0.2, 0.7, 4.0] {
                check(&Logistic, [s], &Y(y, w));
                check(&Square, [s], &Y(y, w));
                check(&Poisson, [s * 0.3], &Y(y * 3.0, w));
                if (1.0 - (2.0 * y - 1.0) * s).abs() > 0.05 {
                    check(&Hinge, [s], &Y(y, w));
                }
            }
        }
        check(&Multinomial::<4>, [0.3, -1.0, 2.0, 0.1], &Y(2.0, 1.5));
        check(&Multinomial::<3>, [5.0, -1.0, 0.5], &Y(0.0, 1.0));
    }

    #[test]
    fn known_values() {
        let mut g = [0.0];
        let l = Logistic.loss(&[0.0], &Y(1.0, 1.0), &mut g);
        assert!((l - std::f32::consts::LN_2).abs() < 1e-6);
        assert_eq!(g, [-0.5]);
        assert_eq!(Square.loss(&[3.0], &Y(1.0, 2.0), &mut g), 4.0);
        assert_eq!(g, [4.0]);
        assert_eq!(Hinge.loss(&[2.0], &Y(1.0, 1.0), &mut g), 0.0);
        let mut g3 = [0.0; 3];
        let l = Multinomial::<3>.loss(&[1.0, 1.0, 1.0], &Y(1.0, 1.0), &mut g3);
        assert!((l - 3f32.ln()).abs() < 1e-6);
    }

    #[test]
    fn softmax_is_shifted() {
        let mut g = [0.0; 2];
        let l = Multinomial::<2>.loss(&[1000.0, 0.0], &Y(0.0, 1.0), &mut g);
        assert!(l.is_finite() && l < 1e-6);
        assert!(g.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn bad_class_index_is_nan() {
        let mut g = [0.0; 2];
        assert!(Multinomial::<2>
            .loss(&[0.0, 0.0], &Y(2.0, 1.0), &mut g)
            .is_nan());
        assert!(Multinomial::<2>
            .loss(&[0.0, 0.0], &Y(0.5, 1.0), &mut g)
            .is_nan());
    }

    #[test]
    fn check_row_accepts_exactly_the_labels_of_each_loss() {
        let ok = |l: &dyn Fn(&Y) -> Result<(), LabelError>, y: f32| l(&Y(y, 1.0)).is_ok();
        let logistic = |r: &Y| Loss::<Y, [f32; 1]>::check_row(&Logistic, r);
        let hinge = |r: &Y| Loss::<Y, [f32; 1]>::check_row(&Hinge, r);
        for y in [0.0, 1.0, -1.0] {
            assert!(ok(&logistic, y) && ok(&hinge, y), "{y}");
        }
        for y in [0.5, 2.0, -0.0001, f32::NAN, f32::INFINITY] {
            assert!(!ok(&logistic, y) && !ok(&hinge, y), "{y}");
        }
        let square = |r: &Y| Loss::<Y, [f32; 1]>::check_row(&Square, r);
        assert!(ok(&square, -3.5) && !ok(&square, f32::NAN) && !ok(&square, f32::INFINITY));
        let poisson = |r: &Y| Loss::<Y, [f32; 1]>::check_row(&Poisson, r);
        assert!(ok(&poisson, 0.0) && ok(&poisson, 2.5) && !ok(&poisson, -1.0));
        let multi = |r: &Y| Loss::<Y, [f32; 3]>::check_row(&Multinomial::<3>, r);
        assert!(ok(&multi, 0.0) && ok(&multi, 2.0));
        for y in [3.0, -1.0, 0.5, f32::NAN, 1e20] {
            assert!(!ok(&multi, y), "{y}");
        }
        let e = Loss::<Y, [f32; 1]>::check_row(&Logistic, &Y(0.5, 1.0)).unwrap_err();
        assert_eq!((e.field, e.value), ("y", 0.5));
    }

    #[test]
    fn weights_scale_loss_and_gradient() {
        let (mut g1, mut g2) = ([0.0], [0.0]);
        let a = Logistic.loss(&[0.4], &Y(1.0, 1.0), &mut g1);
        let b = Logistic.loss(&[0.4], &Y(1.0, 3.0), &mut g2);
        assert!((b - 3.0 * a).abs() < 1e-6 && (g2[0] - 3.0 * g1[0]).abs() < 1e-6);
    }
}
