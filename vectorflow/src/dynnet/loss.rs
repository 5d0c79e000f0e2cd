//! Losses chosen at run time: each case runs the built-in loss's own code.

use super::spec::SpecError;
use crate::features::Labeled;
use crate::loss::{check_class, softmax_loss, Hinge, LabelError, Logistic, Loss, Poisson, Square};

/// A built-in loss named at run time, for a [`super::DynNet`]'s output: `logistic`,
/// `square`, `hinge` and `poisson` on one output, `multinomial` on `K` outputs (the
/// net's width; labels are class indices in `[0, K)`).
///
/// ```
/// use vectorflow::dynnet::DynLoss;
///
/// assert_eq!(DynLoss::parse("logistic", 1).unwrap(), DynLoss::Logistic);
/// assert_eq!(DynLoss::parse("multinomial", 3).unwrap(), DynLoss::Multinomial(3));
/// let e = DynLoss::parse("logistic", 3).unwrap_err();
/// assert_eq!(e.to_string(), r#"at "logistic": logistic needs 1 output, but the net has 3"#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynLoss {
    /// [`Logistic`].
    Logistic,
    /// [`Square`].
    Square,
    /// [`Hinge`].
    Hinge,
    /// [`Poisson`].
    Poisson,
    /// [`crate::loss::Multinomial`] over this many classes.
    Multinomial(usize),
}

/// The names [`DynLoss::parse`] takes.
const NAMES: [&str; 5] = ["logistic", "square", "hinge", "poisson", "multinomial"];

impl DynLoss {
    /// The loss named `name` (any case; `multinomial:K` checks `K`) for a net of
    /// `outputs` outputs, or why it does not fit.
    pub fn parse(name: &str, outputs: usize) -> Result<DynLoss, SpecError> {
        let fail = |what: String| SpecError {
            at: name.to_string(),
            what,
        };
        let low = name.trim().to_lowercase();
        let (base, k) = match low.split_once(':') {
            Some((b, k)) => {
                let k = k
                    .trim()
                    .parse::<usize>()
                    .map_err(|_| fail(format!("{k} is not a number of classes")))?;
                (b.trim(), Some(k))
            }
            None => (low.as_str(), None),
        };
        let loss = match base {
            "logistic" => DynLoss::Logistic,
            "square" => DynLoss::Square,
            "hinge" => DynLoss::Hinge,
            "poisson" => DynLoss::Poisson,
            "multinomial" => DynLoss::Multinomial(k.unwrap_or(outputs)),
            _ => {
                let hint = NAMES
                    .iter()
                    .find(|n| n.starts_with(base.get(..2).unwrap_or(base)))
                    .map(|n| format!("; did you mean {n}?"))
                    .unwrap_or_default();
                return Err(fail(format!(
                    "unknown loss {base}{hint} (logistic, square, hinge, poisson or multinomial)"
                )));
            }
        };
        if k.is_some() && base != "multinomial" {
            return Err(fail(format!("{base} takes no number of classes")));
        }
        match loss {
            DynLoss::Multinomial(k) if k < 2 => Err(fail(format!(
                "multinomial needs at least 2 classes, but has {k}"
            ))),
            DynLoss::Multinomial(k) if k != outputs => Err(fail(format!(
                "multinomial:{k} needs {k} outputs, but the net has {outputs}"
            ))),
            DynLoss::Multinomial(_) => Ok(loss),
            _ if outputs != 1 => Err(fail(format!(
                "{base} needs 1 output, but the net has {outputs}"
            ))),
            _ => Ok(loss),
        }
    }

    /// The number of outputs it reads.
    pub fn width(self) -> usize {
        match self {
            DynLoss::Multinomial(k) => k,
            _ => 1,
        }
    }
}

/// The one output of a single-output loss.
#[inline(always)]
fn one(v: &[f32]) -> &[f32; 1] {
    v.try_into().expect("output width checked before training")
}

#[inline(always)]
fn one_mut(v: &mut [f32]) -> &mut [f32; 1] {
    v.try_into().expect("output width checked before training")
}

impl<R: Labeled> Loss<R, [f32]> for DynLoss {
    #[inline(always)]
    fn loss(&self, out: &[f32], row: &R, grad: &mut [f32]) -> f32 {
        match self {
            DynLoss::Logistic => Logistic.loss(one(out), row, one_mut(grad)),
            DynLoss::Square => Square.loss(one(out), row, one_mut(grad)),
            DynLoss::Hinge => Hinge.loss(one(out), row, one_mut(grad)),
            DynLoss::Poisson => Poisson.loss(one(out), row, one_mut(grad)),
            DynLoss::Multinomial(_) => softmax_loss(out, row, grad),
        }
    }

    #[inline(always)]
    fn check_row(&self, row: &R) -> Result<(), LabelError> {
        match self {
            DynLoss::Logistic => Loss::<R, [f32; 1]>::check_row(&Logistic, row),
            DynLoss::Square => Loss::<R, [f32; 1]>::check_row(&Square, row),
            DynLoss::Hinge => Loss::<R, [f32; 1]>::check_row(&Hinge, row),
            DynLoss::Poisson => Loss::<R, [f32; 1]>::check_row(&Poisson, row),
            DynLoss::Multinomial(k) => check_class(row, *k),
        }
    }

    fn outputs(&self) -> Option<usize> {
        Some(self.width())
    }
}
