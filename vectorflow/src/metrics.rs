//! Evaluation of binary classifiers: log loss, accuracy, AUC.

/// Figures of a binary classifier on labelled rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Binary {
    /// Mean log loss of the probabilities (clamped to `[1e-7, 1 − 1e-7]`).
    pub logloss: f64,
    /// Share of rows whose probability is on the label's side of 0.5.
    pub accuracy: f64,
    /// Area under the ROC curve (ties count half).
    pub auc: f64,
}

/// Log loss, accuracy and AUC of probabilities `p` for labels `y` (0 or 1). With no rows
/// all three are NaN: there is nothing to measure, and a 0 would read as a figure.
///
/// ```
/// let m = vectorflow::metrics::binary(&[0.9, 0.2, 0.6, 0.4], &[1.0, 0.0, 0.0, 1.0]);
/// assert_eq!(m.accuracy, 0.5);
/// assert_eq!(m.auc, 0.75);
/// ```
pub fn binary(p: &[f32], y: &[f32]) -> Binary {
    assert_eq!(p.len(), y.len(), "one probability per label");
    if p.is_empty() {
        return Binary {
            logloss: f64::NAN,
            accuracy: f64::NAN,
            auc: f64::NAN,
        };
    }
    let n = p.len() as f64;
    let (mut ll, mut ok) = (0.0f64, 0usize);
    for (&p, &y) in p.iter().zip(y) {
        let q = (p as f64).clamp(1e-7, 1.0 - 1e-7);
        let pos = y > 0.5;
        ll -= if pos { q.ln() } else { (1.0 - q).ln() };
        ok += ((p > 0.5) == pos) as usize;
    }
    Binary {
        logloss: ll / n,
        accuracy: ok as f64 / n,
        auc: auc(p, y),
    }
}

/// Area under the ROC curve by average ranks (Mann-Whitney U); 0.5 when a class is
/// missing.
pub fn auc(p: &[f32], y: &[f32]) -> f64 {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let (mut rank_sum, mut pos) = (0.0f64, 0usize);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && p[idx[j + 1]] == p[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if y[k] > 0.5 {
                rank_sum += avg;
                pos += 1;
            }
        }
        i = j + 1;
    }
    let neg = p.len() - pos;
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    (rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_by_brute_force() {
        let p = [0.1f32, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2];
        let y = [0.0f32, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0];
        let (mut good, mut pairs) = (0.0, 0.0);
        for i in 0..p.len() {
            for j in 0..p.len() {
                if y[i] > 0.5 && y[j] < 0.5 {
                    pairs += 1.0;
                    good += if p[i] > p[j] {
                        1.0
                    } else if p[i] == p[j] {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        assert!((auc(&p, &y) - good / pairs).abs() < 1e-12);
    }

    #[test]
    fn no_rows_give_no_figures() {
        let m = binary(&[], &[]);
        assert!(
            m.logloss.is_nan() && m.accuracy.is_nan() && m.auc.is_nan(),
            "{m:?}"
        );
    }

    #[test]
    fn logloss_of_a_coin() {
        let m = binary(&[0.5, 0.5], &[0.0, 1.0]);
        assert!((m.logloss - std::f64::consts::LN_2).abs() < 1e-12);
    }
}
