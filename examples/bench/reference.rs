//! Hand-written single-threaded reference training loops.
//!
//! These are deliberately plain: straight loops over the CSR rows with
//! per-row AdaGrad updates and no library machinery, as a skilled engineer
//! would write them by hand. They set the speed and quality bar that the
//! library's own training paths are benchmarked against.

use vectorflow::io::SparseRows;

/// Added to AdaGrad accumulators so the first step never divides by zero.
const ADAGRAD_EPS: f32 = 1e-8;

/// Width of the MLP hidden layer.
const HIDDEN: usize = 16;

/// The logistic function `1 / (1 + e^-z)`.
#[inline]
fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Panics with a clear message if `data` has a feature id outside `0..dim`.
fn check_dim(data: &SparseRows, dim: usize) {
    let need = data.min_dim();
    assert!(
        need <= dim,
        "feature id {} is out of range for dim {dim}",
        need - 1
    );
}

/// `sum(w[id] * v)` over a sparse row, with four independent partial sums
/// so consecutive multiply-adds do not wait on each other.
#[inline]
fn sparse_dot(w: &[f32], ids: &[u32], vals: &[f32]) -> f32 {
    let mut acc = [0.0f32; 4];
    let id_chunks = ids.chunks_exact(4);
    let val_chunks = vals.chunks_exact(4);
    let (id_rest, val_rest) = (id_chunks.remainder(), val_chunks.remainder());
    for (i4, v4) in id_chunks.zip(val_chunks) {
        for k in 0..4 {
            acc[k] += w[i4[k] as usize] * v4[k];
        }
    }
    let mut z = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for (&id, &v) in id_rest.iter().zip(val_rest) {
        z += w[id as usize] * v;
    }
    z
}

/// A sparse logistic-regression model with a bias term.
#[derive(Debug, Clone, PartialEq)]
pub struct LrModel {
    /// One weight per feature.
    pub w: Vec<f32>,
    /// The bias (intercept).
    pub bias: f32,
}

impl LrModel {
    /// The predicted probability of the positive class for one sparse row.
    ///
    /// Feature ids outside the model's dimension are ignored.
    pub fn predict(&self, ids: &[u32], vals: &[f32]) -> f32 {
        let mut z = self.bias;
        for (&id, &v) in ids.iter().zip(vals) {
            if let Some(w) = self.w.get(id as usize) {
                z += w * v;
            }
        }
        sigmoid(z)
    }

    /// Predicted probabilities for every row of `data`.
    pub fn predict_all(&self, data: &SparseRows) -> Vec<f32> {
        (0..data.len())
            .map(|i| {
                let row = data.row(i);
                self.predict(row.ids(), row.values())
            })
            .collect()
    }
}

/// Trains sparse logistic regression with per-row AdaGrad.
///
/// Weights and bias start at zero; rows are visited in file order for
/// `passes` passes. For each row the log-loss gradient `g = p - y` is
/// applied to every present feature (and to the bias, an always-on
/// feature) as `g2 += g*g; w -= lr * g / sqrt(g2)`, with `g2` starting at a
/// tiny epsilon.
///
/// # Panics
///
/// Panics if a feature id in `data` is `>= dim`.
pub fn train_lr(data: &SparseRows, dim: usize, passes: usize, lr: f32) -> LrModel {
    check_dim(data, dim);
    let mut w = vec![0.0f32; dim];
    let mut g2 = vec![ADAGRAD_EPS; dim];
    let mut bias = 0.0f32;
    let mut bias_g2 = ADAGRAD_EPS;

    for _ in 0..passes {
        for (i, &y) in data.labels().iter().enumerate() {
            let row = data.row(i);
            let (ids, vals) = (row.ids(), row.values());

            let g = sigmoid(bias + sparse_dot(&w, ids, vals)) - y;

            for (&id, &v) in ids.iter().zip(vals) {
                let j = id as usize;
                let gi = g * v;
                g2[j] += gi * gi;
                w[j] -= lr * gi / g2[j].sqrt();
            }
            bias_g2 += g * g;
            bias -= lr * g / bias_g2.sqrt();
        }
    }
    LrModel { w, bias }
}

/// A sparse one-hidden-layer network:
/// `Sparse(dim) -> Linear(16) -> ReLU -> Linear(1) -> sigmoid`.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpModel {
    /// First-layer weights, one contiguous row of 16 per feature.
    pub w1: Vec<[f32; HIDDEN]>,
    /// First-layer biases.
    pub b1: [f32; HIDDEN],
    /// Second-layer weights.
    pub w2: [f32; HIDDEN],
    /// Second-layer bias.
    pub b2: f32,
}

impl MlpModel {
    /// First-layer pre-activations for one sparse row (ids out of range are
    /// ignored).
    #[inline]
    fn hidden(&self, ids: &[u32], vals: &[f32]) -> [f32; HIDDEN] {
        let mut h = self.b1;
        for (&id, &v) in ids.iter().zip(vals) {
            if let Some(row) = self.w1.get(id as usize) {
                for k in 0..HIDDEN {
                    h[k] += row[k] * v;
                }
            }
        }
        h
    }

    /// The predicted probability of the positive class for one sparse row.
    ///
    /// Feature ids outside the model's dimension are ignored.
    pub fn predict(&self, ids: &[u32], vals: &[f32]) -> f32 {
        let h = self.hidden(ids, vals);
        let mut z = self.b2;
        for (&w, &x) in self.w2.iter().zip(&h) {
            z += w * x.max(0.0);
        }
        sigmoid(z)
    }

    /// Predicted probabilities for every row of `data`.
    pub fn predict_all(&self, data: &SparseRows) -> Vec<f32> {
        (0..data.len())
            .map(|i| {
                let row = data.row(i);
                self.predict(row.ids(), row.values())
            })
            .collect()
    }
}

/// One AdaGrad step on 16 parameters: `g2 += grad^2; w -= lr * grad / sqrt(g2)`.
///
/// A separate function so the three arrays are known not to alias, which
/// lets the 16-wide loop vectorise.
#[inline]
fn adagrad16(w: &mut [f32; HIDDEN], g2: &mut [f32; HIDDEN], grad: &[f32; HIDDEN], lr: f32) {
    for k in 0..HIDDEN {
        g2[k] += grad[k] * grad[k];
        w[k] -= lr * grad[k] / g2[k].sqrt();
    }
}

/// A tiny splitmix64 generator, enough for weight initialisation.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[-scale, scale)`.
    fn uniform(&mut self, scale: f32) -> f32 {
        // 24 random bits -> [0, 1), exactly representable in f32.
        let unit = (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32);
        (2.0 * unit - 1.0) * scale
    }
}

/// Trains the sparse 16-unit MLP with per-row AdaGrad on every parameter a
/// row touches (the rows of its features, both biases and layer 2).
///
/// First-layer rows are initialised uniform in `±0.1`, second-layer weights
/// uniform in `±1/sqrt(16)`, biases at zero, from a splitmix64 generator
/// seeded by `seed`. Rows are visited in file order for `passes` passes.
///
/// # Panics
///
/// Panics if a feature id in `data` is `>= dim`.
pub fn train_mlp16(data: &SparseRows, dim: usize, passes: usize, lr: f32, seed: u64) -> MlpModel {
    check_dim(data, dim);
    let mut rng = SplitMix64(seed);
    let mut w1: Vec<[f32; HIDDEN]> = (0..dim)
        .map(|_| std::array::from_fn(|_| rng.uniform(0.1)))
        .collect();
    let mut g1 = vec![[ADAGRAD_EPS; HIDDEN]; dim];
    let mut b1 = [0.0f32; HIDDEN];
    let mut gb1 = [ADAGRAD_EPS; HIDDEN];
    let w2_scale = 1.0 / (HIDDEN as f32).sqrt();
    let mut w2: [f32; HIDDEN] = std::array::from_fn(|_| rng.uniform(w2_scale));
    let mut gw2 = [ADAGRAD_EPS; HIDDEN];
    let mut b2 = 0.0f32;
    let mut gb2 = ADAGRAD_EPS;

    for _ in 0..passes {
        for (i, &y) in data.labels().iter().enumerate() {
            let row = data.row(i);
            let (ids, vals) = (row.ids(), row.values());

            // Forward.
            let mut h = b1;
            for (&id, &v) in ids.iter().zip(vals) {
                let row = &w1[id as usize];
                for k in 0..HIDDEN {
                    h[k] += row[k] * v;
                }
            }
            let a: [f32; HIDDEN] = std::array::from_fn(|k| h[k].max(0.0));
            let mut z = b2;
            for (&w, &x) in w2.iter().zip(&a) {
                z += w * x;
            }
            let g = sigmoid(z) - y;

            // Backward: gradient at the hidden pre-activations (old w2).
            let dh: [f32; HIDDEN] =
                std::array::from_fn(|k| if h[k] > 0.0 { g * w2[k] } else { 0.0 });

            // Layer 2 and its bias.
            let grad_w2: [f32; HIDDEN] = std::array::from_fn(|k| g * a[k]);
            adagrad16(&mut w2, &mut gw2, &grad_w2, lr);
            gb2 += g * g;
            b2 -= lr * g / gb2.sqrt();

            // Layer 1 bias and the rows of the present features.
            adagrad16(&mut b1, &mut gb1, &dh, lr);
            for (&id, &v) in ids.iter().zip(vals) {
                let j = id as usize;
                let grad: [f32; HIDDEN] = std::array::from_fn(|k| dh[k] * v);
                adagrad16(&mut w1[j], &mut g1[j], &grad, lr);
            }
        }
    }
    MlpModel { w1, b1, w2, b2 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_learn_a_separable_toy_problem() {
        let mut d = SparseRows::new();
        for i in 0..400u32 {
            let y = (i % 2) as f32;
            let features = [(i % 7 + 10, 0.5), (y as u32, 1.0)];
            let features = features.map(|(id, value)| vectorflow::SparseF { id, value });
            d.push(y, 1.0, features, u64::from(i) + 1, "");
        }
        let lr = train_lr(&d, 32, 3, 0.5);
        let m = vectorflow::metrics::binary(&lr.predict_all(&d), d.labels());
        assert!(m.accuracy > 0.99 && m.logloss < 0.1, "{m:?}");
        let mlp = train_mlp16(&d, 32, 3, 0.1, 7);
        let m = vectorflow::metrics::binary(&mlp.predict_all(&d), d.labels());
        assert!(m.accuracy > 0.99 && m.logloss < 0.1, "{m:?}");
    }
}
