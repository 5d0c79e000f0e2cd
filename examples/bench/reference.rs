//! Hand-written single-threaded reference training loops, two of each model.
//!
//! - The *plain* loops (`lr-reference`, `mlp16-reference`) are what a skilled engineer
//!   writes first: straight loops over the CSR rows with per-row AdaGrad, each feature's
//!   weights and AdaGrad accumulators side by side in one array, no prefetching.
//! - The *tuned* loops (`lr-tuned`, `mlp16-tuned`) are the best hand-written versions we
//!   could make of the same arithmetic: the plain layout, rows aligned to cache lines,
//!   the next rows' features prefetched while this row trains, and (MLP) the whole loop
//!   compiled for AVX-512 or AVX2 when the CPU has it.
//! - `mlp16-rowwise-reference` and `mlp16-rowwise-tuned` are the same two loops with
//!   row-wise AdaGrad on the first layer (`RowAdaGrad`'s arithmetic): each feature's 16
//!   weights on one cache line, its one accumulator in an array of its own.
//!
//! Both compute exactly what the library computes (same initialisation, same order, same
//! AdaGrad), so the test figures agree. Models are built by `new`, outside the timer;
//! `train` is what the bench times, as it times `fit` for the library.

use vectorflow::io::SparseRows;

/// AdaGrad's initial accumulator: the library's default, so that the loops stay the
/// library's algorithm (the bench's `--init-acc` applies to the library's models only).
const ADAGRAD_EPS: f32 = vectorflow::optim::INIT_ACC;

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

/// Sparse logistic regression with a bias term: each feature's weight and AdaGrad
/// accumulator side by side (`[w, g2]`), so a feature costs one cache line.
#[derive(Debug, Clone, PartialEq)]
pub struct LrModel {
    /// `[weight, accumulator]` per feature.
    pub wg: Vec<[f32; 2]>,
    /// The bias (intercept) and its accumulator.
    pub bias: [f32; 2],
}

impl LrModel {
    /// A model of `dim` features at zero.
    pub fn new(dim: usize) -> LrModel {
        LrModel {
            wg: vec![[0.0, ADAGRAD_EPS]; dim],
            bias: [0.0, ADAGRAD_EPS],
        }
    }

    #[inline]
    fn margin(&self, ids: &[u32], vals: &[f32]) -> f32 {
        let mut acc = [0.0f32; 4];
        let (i4, v4) = (ids.chunks_exact(4), vals.chunks_exact(4));
        let (ir, vr) = (i4.remainder(), v4.remainder());
        for (i, v) in i4.zip(v4) {
            for k in 0..4 {
                acc[k] += self.wg[i[k] as usize][0] * v[k];
            }
        }
        let mut z = self.bias[0] + (acc[0] + acc[2]) + (acc[1] + acc[3]);
        for (&id, &v) in ir.iter().zip(vr) {
            z += self.wg[id as usize][0] * v;
        }
        z
    }

    /// One AdaGrad step on every feature of a row, for the margin's gradient `g`.
    #[inline]
    fn step(&mut self, ids: &[u32], vals: &[f32], g: f32, lr: f32) {
        for (&id, &v) in ids.iter().zip(vals) {
            let [w, g2] = &mut self.wg[id as usize];
            let gi = g * v;
            *g2 += gi * gi;
            *w -= lr * gi / g2.sqrt();
        }
        let [b, g2] = &mut self.bias;
        *g2 += g * g;
        *b -= lr * g / g2.sqrt();
    }

    /// The plain loop: rows in file order, `passes` times.
    pub fn train(&mut self, data: &SparseRows, passes: usize, lr: f32) {
        check_dim(data, self.wg.len());
        for _ in 0..passes {
            for (i, &y) in data.labels().iter().enumerate() {
                let row = data.row(i);
                let (ids, vals) = (row.ids(), row.values());
                let g = sigmoid(self.margin(ids, vals)) - y;
                self.step(ids, vals, g, lr);
            }
        }
    }

    /// The tuned loop: the same steps, with the features of the row two ahead
    /// prefetched (a row's 55 features are 55 cache misses otherwise met one by one).
    pub fn train_tuned(&mut self, data: &SparseRows, passes: usize, lr: f32) {
        check_dim(data, self.wg.len());
        let n = data.len();
        for _ in 0..passes {
            for (i, &y) in data.labels().iter().enumerate() {
                if i + 2 < n {
                    for &id in data.row(i + 2).ids() {
                        prefetch(&self.wg, id as usize);
                    }
                }
                let row = data.row(i);
                let (ids, vals) = (row.ids(), row.values());
                let g = sigmoid(self.margin(ids, vals)) - y;
                self.step(ids, vals, g, lr);
            }
        }
    }

    /// The predicted probability of the positive class for one sparse row.
    ///
    /// Feature ids outside the model's dimension are ignored.
    pub fn predict(&self, ids: &[u32], vals: &[f32]) -> f32 {
        let mut z = self.bias[0];
        for (&id, &v) in ids.iter().zip(vals) {
            if let Some(wg) = self.wg.get(id as usize) {
                z += wg[0] * v;
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

/// Hints the CPU to load `v[i]`'s cache line; nothing when `i` is out of bounds.
#[inline(always)]
fn prefetch<T>(v: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = v.get(i) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch only hints the cache; it never faults or changes memory.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x as *const T).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, i);
}

/// One feature's first-layer row and its AdaGrad accumulators: 128 bytes, two whole
/// cache lines.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct Row16 {
    /// Weights.
    pub w: [f32; HIDDEN],
    /// Accumulators.
    pub g: [f32; HIDDEN],
}

/// One feature's first-layer weights alone: 64 bytes, one cache line.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(64))]
pub struct W16(pub [f32; HIDDEN]);

/// The first layer's rows and how AdaGrad steps them.
pub trait FirstLayer {
    /// `rows` of weights with fresh accumulators.
    fn new(rows: Vec<[f32; HIDDEN]>) -> Self;
    /// The rows.
    fn len(&self) -> usize;
    /// Row `id`'s weights.
    fn row(&self, id: usize) -> &[f32; HIDDEN];
    /// Steps the rows of a data row's features, `ids` with `vals`, whose gradient at the
    /// hidden pre-activations is `dh`.
    fn step(&mut self, ids: &[u32], vals: &[f32], dh: &[f32; HIDDEN], lr: f32);
    /// Prefetches row `id` and its accumulators.
    fn prefetch(&self, id: usize);
}

/// Per-coordinate AdaGrad: each weight beside its own accumulator.
pub type PerWeight = Vec<Row16>;

impl FirstLayer for PerWeight {
    fn new(rows: Vec<[f32; HIDDEN]>) -> Self {
        let g = [ADAGRAD_EPS; HIDDEN];
        rows.into_iter().map(|w| Row16 { w, g }).collect()
    }
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    #[inline(always)]
    fn row(&self, id: usize) -> &[f32; HIDDEN] {
        &self[id].w
    }
    #[inline(always)]
    fn step(&mut self, ids: &[u32], vals: &[f32], dh: &[f32; HIDDEN], lr: f32) {
        for (&id, &v) in ids.iter().zip(vals) {
            let grad: [f32; HIDDEN] = std::array::from_fn(|k| dh[k] * v);
            adagrad16(&mut self[id as usize], &grad, lr);
        }
    }
    #[inline(always)]
    fn prefetch(&self, id: usize) {
        if let Some(r) = self.get(id) {
            prefetch(std::slice::from_ref(&r.w), 0);
            prefetch(std::slice::from_ref(&r.g), 0);
        }
    }
}

/// Row-wise AdaGrad: one accumulator per row, which takes the mean square of the row's
/// gradient, as `RowAdaGrad` does.
pub struct PerRow {
    /// The rows' weights.
    pub w: Vec<W16>,
    /// One accumulator per row.
    pub acc: Vec<f32>,
}

impl FirstLayer for PerRow {
    fn new(rows: Vec<[f32; HIDDEN]>) -> Self {
        let acc = vec![ADAGRAD_EPS; rows.len()];
        PerRow {
            w: rows.into_iter().map(W16).collect(),
            acc,
        }
    }
    fn len(&self) -> usize {
        self.w.len()
    }
    #[inline(always)]
    fn row(&self, id: usize) -> &[f32; HIDDEN] {
        &self.w[id].0
    }
    #[inline(always)]
    fn step(&mut self, ids: &[u32], vals: &[f32], dh: &[f32; HIDDEN], lr: f32) {
        // A row's gradient is v·dh: its mean square is v² times dh's (in 8 lanes).
        let mut lanes = [0.0f32; 8];
        for (k, d) in dh.iter().enumerate() {
            lanes[k % 8] += d * d;
        }
        let dh_sq = lanes.iter().sum::<f32>() / HIDDEN as f32;
        for (&id, &v) in ids.iter().zip(vals) {
            let acc = &mut self.acc[id as usize];
            *acc += v * v * dh_sq;
            let rate = lr * v / acc.sqrt();
            for (w, d) in self.w[id as usize].0.iter_mut().zip(dh) {
                *w -= rate * d;
            }
        }
    }
    #[inline(always)]
    fn prefetch(&self, id: usize) {
        if id < self.w.len() {
            prefetch(&self.w, id);
            prefetch(&self.acc, id);
        }
    }
}

/// A sparse one-hidden-layer network:
/// `Sparse(dim) -> Linear(16) -> ReLU -> Linear(1) -> sigmoid`, its first layer stepped
/// by per-coordinate ([`PerWeight`]) or row-wise ([`PerRow`]) AdaGrad.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpModel<F = PerWeight> {
    /// First-layer rows with their accumulators, one per feature.
    pub w1: F,
    /// First-layer biases and their accumulators.
    pub b1: Row16,
    /// Second-layer weights and their accumulators.
    pub w2: Row16,
    /// Second-layer bias and its accumulator.
    pub b2: [f32; 2],
}

impl<F: FirstLayer> MlpModel<F> {
    /// A model of `dim` features: first-layer rows uniform in `±0.1`, second-layer
    /// weights uniform in `±1/sqrt(16)`, biases at zero, from a splitmix64 generator
    /// seeded by `seed`.
    pub fn new(dim: usize, seed: u64) -> MlpModel<F> {
        let mut rng = SplitMix64(seed);
        let zero = Row16 {
            w: [0.0; HIDDEN],
            g: [ADAGRAD_EPS; HIDDEN],
        };
        let w1 = (0..dim)
            .map(|_| std::array::from_fn(|_| rng.uniform(0.1)))
            .collect();
        let w2_scale = 1.0 / (HIDDEN as f32).sqrt();
        let w2 = Row16 {
            w: std::array::from_fn(|_| rng.uniform(w2_scale)),
            g: [ADAGRAD_EPS; HIDDEN],
        };
        MlpModel {
            w1: F::new(w1),
            b1: zero,
            w2,
            b2: [0.0, ADAGRAD_EPS],
        }
    }

    /// First-layer pre-activations for one sparse row (ids out of range are
    /// ignored).
    #[inline]
    fn hidden(&self, ids: &[u32], vals: &[f32]) -> [f32; HIDDEN] {
        let mut h = self.b1.w;
        for (&id, &v) in ids.iter().zip(vals) {
            if (id as usize) < self.w1.len() {
                for (h, &w) in h.iter_mut().zip(self.w1.row(id as usize)) {
                    *h += w * v;
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
        let mut z = self.b2[0];
        for (&w, &x) in self.w2.w.iter().zip(&h) {
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

    /// One row's forward and backward pass with per-row AdaGrad on every parameter it
    /// touches (the rows of its features, both biases and layer 2).
    #[inline(always)]
    fn train_row(&mut self, ids: &[u32], vals: &[f32], y: f32, lr: f32) {
        let mut h = self.b1.w;
        for (&id, &v) in ids.iter().zip(vals) {
            let row = self.w1.row(id as usize);
            for (h, &w) in h.iter_mut().zip(row) {
                *h += w * v;
            }
        }
        let a: [f32; HIDDEN] = std::array::from_fn(|k| h[k].max(0.0));
        let mut z = self.b2[0];
        for (&w, &x) in self.w2.w.iter().zip(&a) {
            z += w * x;
        }
        let g = sigmoid(z) - y;
        // Gradient at the hidden pre-activations, with the old layer 2.
        let dh: [f32; HIDDEN] =
            std::array::from_fn(|k| if h[k] > 0.0 { g * self.w2.w[k] } else { 0.0 });
        let grad_w2: [f32; HIDDEN] = std::array::from_fn(|k| g * a[k]);
        adagrad16(&mut self.w2, &grad_w2, lr);
        let [b2, gb2] = &mut self.b2;
        *gb2 += g * g;
        *b2 -= lr * g / gb2.sqrt();
        adagrad16(&mut self.b1, &dh, lr);
        self.w1.step(ids, vals, &dh, lr);
    }

    /// The plain loop: rows in file order, `passes` times.
    pub fn train(&mut self, data: &SparseRows, passes: usize, lr: f32) {
        check_dim(data, self.w1.len());
        for _ in 0..passes {
            for (i, &y) in data.labels().iter().enumerate() {
                let row = data.row(i);
                self.train_row(row.ids(), row.values(), y, lr);
            }
        }
    }

    /// The tuned loop: the plain loop with the next row's feature rows prefetched,
    /// compiled for the best vector level the CPU has.
    pub fn train_tuned(&mut self, data: &SparseRows, passes: usize, lr: f32) {
        check_dim(data, self.w1.len());
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, the only feature the function enables.
                return unsafe { self.tuned_avx512(data, passes, lr) };
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has AVX2 and FMA, the features the function enables.
                return unsafe { self.tuned_avx2(data, passes, lr) };
            }
        }
        self.tuned(data, passes, lr)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn tuned_avx512(&mut self, data: &SparseRows, passes: usize, lr: f32) {
        self.tuned(data, passes, lr)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tuned_avx2(&mut self, data: &SparseRows, passes: usize, lr: f32) {
        self.tuned(data, passes, lr)
    }

    #[inline(always)]
    fn tuned(&mut self, data: &SparseRows, passes: usize, lr: f32) {
        let n = data.len();
        for _ in 0..passes {
            for (i, &y) in data.labels().iter().enumerate() {
                if i + 1 < n {
                    for &id in data.row(i + 1).ids() {
                        self.w1.prefetch(id as usize);
                    }
                }
                let row = data.row(i);
                self.train_row(row.ids(), row.values(), y, lr);
            }
        }
    }
}

/// One AdaGrad step on a row of 16: `g += grad^2; w -= lr * grad / sqrt(g)`.
#[inline(always)]
fn adagrad16(row: &mut Row16, grad: &[f32; HIDDEN], lr: f32) {
    for ((w, g), &d) in row.w.iter_mut().zip(&mut row.g).zip(grad) {
        *g += d * d;
        *w -= lr * d / g.sqrt();
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain and the tuned MLP loop with first layer `F` trained on `d`, the plain
    /// one checked to have learnt it.
    fn mlp_both<F: FirstLayer>(d: &SparseRows) -> (MlpModel<F>, MlpModel<F>) {
        let mut plain = MlpModel::<F>::new(32, 7);
        plain.train(d, 3, 0.1);
        let m = vectorflow::metrics::binary(&plain.predict_all(d), d.labels());
        assert!(m.accuracy > 0.99 && m.logloss < 0.1, "{m:?}");
        let mut tuned = MlpModel::<F>::new(32, 7);
        tuned.train_tuned(d, 3, 0.1);
        (plain, tuned)
    }

    #[test]
    fn models_learn_a_separable_toy_problem() {
        let mut d = SparseRows::new();
        for i in 0..400u32 {
            let y = (i % 2) as f32;
            let features = [(i % 7 + 10, 0.5), (y as u32, 1.0)];
            let features = features.map(|(id, value)| vectorflow::SparseF { id, value });
            d.push(y, 1.0, features, u64::from(i) + 1, "");
        }
        let mut lr = LrModel::new(32);
        lr.train(&d, 3, 0.5);
        let m = vectorflow::metrics::binary(&lr.predict_all(&d), d.labels());
        assert!(m.accuracy > 0.99 && m.logloss < 0.1, "{m:?}");
        let mut tuned = LrModel::new(32);
        tuned.train_tuned(&d, 3, 0.5);
        assert_eq!(tuned, lr, "the tuned loop computes what the plain one does");
        let (mlp, tuned) = mlp_both::<PerWeight>(&d);
        let m = vectorflow::metrics::binary(&mlp.predict_all(&d), d.labels());
        let m2 = vectorflow::metrics::binary(&tuned.predict_all(&d), d.labels());
        assert!((m2.logloss - m.logloss).abs() < 1e-4, "{m2:?} vs {m:?}");
        let (rows, tuned) = mlp_both::<PerRow>(&d);
        assert_eq!(
            tuned.w1.w, rows.w1.w,
            "the tuned row-wise loop computes the plain one"
        );
    }
}
