//! Checks of settings before training and of each row during it, so that bad input
//! stops training with an error that says where instead of corrupting the weights.
//!
//! The per-row checks cost a compare or two; messages are formatted only on failure.

use super::{TrainError, Trainer};
use crate::features::{FeatureError, Features};
use crate::layers::RowInputs;
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::trainable::LoadRow;

impl<O: Optimizer> Trainer<O> {
    /// The optimizer's settings and the prior strengths.
    pub(super) fn check_values(&self) -> Result<(), String> {
        self.opt.check()?;
        self.prior_all.check("the prior")?;
        for (layer, prior) in &self.priors {
            prior.check(&format!("the prior of layer {layer}"))?;
        }
        Ok(())
    }
}

/// The error for row `r` (number `row`) whose inputs `net` could not load: a feature id
/// beyond a `Sparse<DIM>` input is named with the row's file and line where the row
/// knows them.
#[cold]
pub(super) fn feature<M: LoadRow<R>, R>(
    net: &M,
    pass: usize,
    row: usize,
    r: &R,
    source: FeatureError,
) -> TrainError {
    if source.field == FeatureError::ID_BEYOND_INPUT {
        if let Some(message) = net.why_refused(r) {
            return TrainError::IdBeyondInput { pass, row, message };
        }
    }
    TrainError::Feature { pass, row, source }
}

/// Checks row `row`'s weight (finite, at least 0) and its label (as `loss` wants it).
#[inline]
pub(super) fn row<R: Features, O: ?Sized, L: Loss<R, O>>(
    loss: &L,
    r: &R,
    pass: usize,
    row: usize,
) -> Result<(), TrainError> {
    let w = r.weight();
    if !(w.is_finite() && w >= 0.0) {
        return Err(TrainError::InvalidWeight {
            pass,
            row,
            field: R::WEIGHT_FIELD,
            value: w,
        });
    }
    loss.check_row(r)
        .map_err(|source| TrainError::InvalidLabel { pass, row, source })
}

/// Checks the gradient a loss wrote for row `row`: every entry must be finite.
#[inline]
pub(super) fn gradient(dy: &[f32], pass: usize, row: usize) -> Result<(), TrainError> {
    // One pass of compares; the position is looked up only on failure.
    if dy.iter().all(|g| g.is_finite()) {
        return Ok(());
    }
    let output = dy.iter().position(|g| !g.is_finite()).unwrap_or(0);
    Err(TrainError::NonFiniteGradient {
        pass,
        row,
        output,
        value: dy[output],
    })
}

/// Checks the holdout rows once before training, as training checks its rows: their
/// features, weights and labels. (The holdout loss is taken after pass 1, so errors name
/// pass 1.)
pub(super) fn holdout<M, R, L>(net: &M, rows: &[R], idx: &[u32], loss: &L) -> Result<(), TrainError>
where
    M: LoadRow<R>,
    R: Features,
    L: Loss<R, M::Out>,
{
    let mut inputs = RowInputs::default();
    for &i in idx {
        let r = &rows[i as usize];
        net.load(r, &mut inputs)
            .map_err(|source| feature(net, 1, i as usize, r, source))?;
        row(loss, r, 1, i as usize)?;
    }
    Ok(())
}
