//! The figures `vf predict` prints for labelled rows, as fit the loss: log loss, AUC and
//! accuracy for logistic, log loss and accuracy for multinomial, RMSE and MAE for
//! square, accuracy for hinge, the mean loss for Poisson.

use vectorflow::dynnet::DynLoss;

/// Figures accumulated over the labelled rows.
pub struct Metrics {
    loss: DynLoss,
    /// Logistic: each labelled row's probability and 0/1 label (AUC needs them all).
    probs: Vec<f32>,
    labels: Vec<f32>,
    /// Rows with a label, the sum of their losses (or squared errors), of absolute
    /// errors, and the rows right.
    rows: u64,
    sum: f64,
    abs: f64,
    right: u64,
}

impl Metrics {
    /// Nothing seen yet.
    pub fn new(loss: DynLoss) -> Metrics {
        Metrics {
            loss,
            probs: Vec::new(),
            labels: Vec::new(),
            rows: 0,
            sum: 0.0,
            abs: 0.0,
            right: 0,
        }
    }

    /// Adds a row of scores `s` and label `y` (NaN: unlabelled, skipped); a multinomial
    /// label that is not a class is an error.
    pub fn add(&mut self, s: &[f32], y: f32) -> Result<(), String> {
        if y.is_nan() {
            return Ok(());
        }
        self.rows += 1;
        match self.loss {
            DynLoss::Logistic => {
                self.probs.push(vectorflow::predict::probability([s[0]]));
                self.labels.push(if y > 0.5 { 1.0 } else { 0.0 });
            }
            DynLoss::Multinomial(k) => {
                if y < 0.0 || y.fract() != 0.0 || y as usize >= k {
                    return Err(format!("label {y} is not a class of 0 to {}", k - 1));
                }
                let p = softmax(s);
                self.sum -= f64::from(p[y as usize].max(1e-7)).ln();
                let best = (0..k).fold(0, |b, j| if s[j] > s[b] { j } else { b });
                self.right += u64::from(best == y as usize);
            }
            DynLoss::Square => {
                let e = f64::from(s[0] - y);
                self.sum += e * e;
                self.abs += e.abs();
            }
            DynLoss::Hinge => self.right += u64::from((s[0] > 0.0) == (y > 0.5)),
            DynLoss::Poisson => {
                let s = f64::from(s[0]);
                self.sum += s.exp() - f64::from(y) * s;
            }
        }
        Ok(())
    }

    /// The figures, if any row had a label.
    pub fn summary(&self) -> Option<String> {
        if self.rows == 0 {
            return None;
        }
        let n = self.rows as f64;
        let acc = self.right as f64 / n;
        Some(match self.loss {
            DynLoss::Logistic => {
                let m = vectorflow::metrics::binary(&self.probs, &self.labels);
                format!(
                    "{} labelled rows: logloss {:.6}  AUC {:.6}  accuracy {:.6}",
                    self.rows, m.logloss, m.auc, m.accuracy
                )
            }
            DynLoss::Multinomial(_) => format!(
                "{} labelled rows: logloss {:.6}  accuracy {acc:.6}",
                self.rows,
                self.sum / n
            ),
            DynLoss::Square => format!(
                "{} labelled rows: RMSE {:.6}  MAE {:.6}",
                self.rows,
                (self.sum / n).sqrt(),
                self.abs / n
            ),
            DynLoss::Hinge => format!("{} labelled rows: accuracy {acc:.6}", self.rows),
            DynLoss::Poisson => format!(
                "{} labelled rows: mean Poisson loss {:.6}",
                self.rows,
                self.sum / n
            ),
        })
    }
}

/// Class probabilities from scores, max-shifted so large scores do not overflow.
pub fn softmax(s: &[f32]) -> Vec<f32> {
    let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = s.iter().map(|&x| (x - max).exp()).collect();
    let total: f32 = e.iter().sum();
    e.into_iter().map(|x| x / total).collect()
}
