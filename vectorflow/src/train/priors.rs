//! L1 and L2 priors, applied lazily to sparse rows.
//!
//! The prior step is `P(w) = sign(w) · max(|w|(1 − a) − b, 0)` with `a = lr·λ₂` and
//! `b = lr·λ₁`, once per training row, on every weight. Applying it to all of a 2^24-row
//! table on every row would cost O(DIM) per row, so a sparse row keeps a stamp — how many
//! steps it has had — and catches up just before a row that has the feature reads it,
//! with `k` steps at once in closed form:
//! `|w| ← q|w| − b(1 − q)/a` with `q = (1 − a)^k` (or `|w| − k·b` when `a = 0`), then
//! clamped at 0, since `P` never crosses zero. At the end of a pass every row catches up.
//! Dense weights, which every row touches, take the step eagerly. With a constant
//! learning rate the result equals applying `P` to every weight after every row.

use super::store::Store;
use crate::layers::{Block, RowInputs};

/// L1 and L2 strengths of a layer's prior.
///
/// ```
/// use vectorflow::train::Prior;
/// let p = Prior::l2(1e-4).and_l1(1e-6);
/// assert_eq!((p.l1, p.l2), (1e-6, 1e-4));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Prior {
    /// L1 (Laplace prior) strength.
    pub l1: f32,
    /// L2 (Gaussian prior) strength.
    pub l2: f32,
}

impl Prior {
    /// An L1 prior.
    pub fn l1(l1: f32) -> Prior {
        Prior { l1, l2: 0.0 }
    }
    /// An L2 prior.
    pub fn l2(l2: f32) -> Prior {
        Prior { l1: 0.0, l2 }
    }
    /// The same with L1 strength `l1`.
    pub fn and_l1(self, l1: f32) -> Prior {
        Prior { l1, ..self }
    }
    /// The same with L2 strength `l2`.
    pub fn and_l2(self, l2: f32) -> Prior {
        Prior { l2, ..self }
    }
    /// `Ok` if both strengths are finite and at least 0 (0 is no prior); else why not,
    /// naming the prior as `what`.
    pub(crate) fn check(&self, what: &str) -> Result<(), String> {
        for (name, v) in [("l1", self.l1), ("l2", self.l2)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!(
                    "the {name} strength of {what} must be finite and at least 0, not {v}"
                ));
            }
        }
        Ok(())
    }
    fn is_zero(&self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0
    }
}

/// `k` prior steps at once on `w`, with `a = lr·λ₂` and `b = lr·λ₁`.
#[inline]
pub(crate) fn decay(w: f32, k: u32, a: f32, b: f32) -> f32 {
    if k == 0 || w == 0.0 {
        return w;
    }
    if a >= 1.0 {
        // One step of decay already reaches zero, and P never leaves it.
        return 0.0f32.copysign(w);
    }
    let q = (1.0 - a as f64).powf(k as f64);
    let shrink = if a > 0.0 {
        b as f64 * (1.0 - q) / a as f64
    } else {
        b as f64 * k as f64
    };
    let m = (q * w.abs() as f64 - shrink).max(0.0) as f32;
    m.copysign(w)
}

struct Entry {
    block: Block,
    prior: Prior,
    /// Index of the block's first row stamp, for sparse blocks.
    stamp: usize,
}

/// The priors of a net's weight blocks.
pub(crate) struct Priors {
    entries: Vec<Entry>,
    /// The optimizer's base learning rate.
    lr: f32,
    /// How many row stamps the sparse blocks need.
    pub stamps: usize,
}

impl Priors {
    /// Priors for `blocks`, with `prior(layer)` each layer's prior.
    pub fn new(blocks: Vec<Block>, prior: impl Fn(usize) -> Prior, lr: f32) -> Priors {
        let mut stamps = 0;
        let entries = blocks
            .into_iter()
            .map(|block| {
                let prior = prior(block.layer);
                let stamp = stamps;
                if let (Some(width), false) = (block.row, prior.is_zero()) {
                    stamps += block.len / width;
                }
                Entry {
                    block,
                    prior,
                    stamp,
                }
            })
            .collect();
        Priors {
            entries,
            lr,
            stamps,
        }
    }

    /// Whether any prior is set.
    pub fn active(&self) -> bool {
        self.entries.iter().any(|e| !e.prior.is_zero())
    }

    fn ab(&self, p: Prior, scale: f32) -> (f32, f32) {
        (self.lr * scale * p.l2, self.lr * scale * p.l1)
    }

    /// Brings the rows of the cached sparse features up to `now` steps.
    pub fn catch_up<S: Store>(&self, store: &mut S, cache: &RowInputs, now: u32, scale: f32) {
        let (mut start, mut root) = (0, 0);
        for e in self.entries.iter().filter(|e| e.block.layer == 0) {
            let Some(width) = e.block.row else { continue };
            let n = cache.counts[root];
            root += 1;
            if !e.prior.is_zero() {
                let (a, b) = self.ab(e.prior, scale);
                for &(r, _) in &cache.sparse[start..start + n] {
                    let k = now.saturating_sub(store.swap_stamp(e.stamp + r as usize, now));
                    if k > 0 {
                        let off = e.block.offset + r as usize * width;
                        for i in off..off + width {
                            store.map(i, |w| decay(w, k, a, b));
                        }
                    }
                }
            }
            start += n;
        }
    }

    /// One prior step on every dense weight.
    pub fn step_dense<S: Store>(&self, store: &mut S, scale: f32) {
        for e in self
            .entries
            .iter()
            .filter(|e| e.block.row.is_none() && !e.prior.is_zero())
        {
            let (a, b) = self.ab(e.prior, scale);
            for i in e.block.offset..e.block.offset + e.block.len {
                store.map(i, |w| decay(w, 1, a, b));
            }
        }
    }

    /// Brings every sparse row up to `now` steps (end of a pass).
    pub fn flush<S: Store>(&self, store: &mut S, now: u32, scale: f32) {
        for e in &self.entries {
            let Some(width) = e.block.row else { continue };
            if e.prior.is_zero() {
                continue;
            }
            let (a, b) = self.ab(e.prior, scale);
            for r in 0..e.block.len / width {
                let k = now.saturating_sub(store.swap_stamp(e.stamp + r, now));
                if k > 0 {
                    let off = e.block.offset + r * width;
                    for i in off..off + width {
                        store.map(i, |w| decay(w, k, a, b));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::decay;

    #[test]
    fn closed_form_equals_repeated_steps() {
        for &(w, a, b) in &[
            (0.8f32, 0.01f32, 0.001f32),
            (-0.5, 0.0, 0.002),
            (0.3, 0.05, 0.0),
            (0.01, 0.01, 0.01),
        ] {
            let mut x = w;
            for k in 1..200u32 {
                x = decay(x, 1, a, b);
                let y = decay(w, k, a, b);
                assert!((x - y).abs() < 1e-5, "w={w} a={a} b={b} k={k}: {x} vs {y}");
            }
        }
    }
}
