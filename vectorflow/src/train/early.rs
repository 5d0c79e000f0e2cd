//! Early stopping: keep the weights of the best pass, stop after `patience` passes
//! without improvement.

/// The holdout losses seen so far and the weights of the best pass.
pub(crate) struct EarlyStop {
    patience: Option<usize>,
    best: Option<(f64, usize, Vec<f32>)>,
}

impl EarlyStop {
    /// Off when `patience` is `None`.
    pub fn new(patience: Option<usize>) -> EarlyStop {
        EarlyStop {
            patience,
            best: None,
        }
    }

    /// Records pass `pass`'s holdout loss `loss`, and the weights `params` gives when it
    /// is the best so far; true when training should stop. A NaN loss is never an
    /// improvement.
    pub fn stop_after(
        &mut self,
        pass: usize,
        loss: f64,
        params: impl FnOnce() -> Vec<f32>,
    ) -> bool {
        let Some(patience) = self.patience else {
            return false;
        };
        match &self.best {
            Some((best, best_pass, _)) if loss.is_nan() || loss >= *best => {
                pass - best_pass >= patience
            }
            _ if loss.is_nan() => false,
            _ => {
                self.best = Some((loss, pass, params()));
                false
            }
        }
    }

    /// The best pass and its weights, when early stopping is on and a pass scored.
    pub fn best(&self) -> Option<(usize, &[f32])> {
        self.best.as_ref().map(|(_, pass, w)| (*pass, w.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::EarlyStop;

    /// Each case: patience, the holdout losses of passes 1, 2, ..., the pass it stops
    /// after (None: it runs them all) and the best pass.
    #[test]
    fn stops_after_patience_passes_without_improvement() {
        let nan = f64::NAN;
        let cases: [(usize, &[f64], Option<usize>, usize); 6] = [
            (1, &[0.5, 0.4, 0.45], Some(3), 2),
            (2, &[0.5, 0.4, 0.45, 0.41], Some(4), 2),
            (2, &[0.5, 0.4, 0.45, 0.3], None, 4),
            (1, &[0.5, 0.5], Some(2), 1),
            (1, &[nan, 0.5, nan], Some(3), 2),
            (3, &[0.3, 0.2, 0.1], None, 3),
        ];
        for (patience, losses, stops, best) in cases {
            let mut e = EarlyStop::new(Some(patience));
            let mut stopped = None;
            for (i, &l) in losses.iter().enumerate() {
                let pass = i + 1;
                if e.stop_after(pass, l, || vec![pass as f32]) {
                    stopped = Some(pass);
                    break;
                }
            }
            assert_eq!(stopped, stops, "{patience} {losses:?}");
            assert_eq!(e.best(), Some((best, &[best as f32][..])), "{losses:?}");
        }
        let mut off = EarlyStop::new(None);
        assert!(!off.stop_after(1, 0.5, || vec![1.0]) && !off.stop_after(2, 0.9, || vec![2.0]));
        assert_eq!(off.best(), None);
    }
}
