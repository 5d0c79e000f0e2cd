//! Finite-difference gradient checks of every layer and of their compositions.
//!
//! For a net, parameters `w`, a row and the scalar loss `L(out) = Σ_k c_k · out_k` (so the
//! output gradient is `dy = c`), the analytic gradient from `Net::backward` is compared,
//! for every single parameter, with central differences of `L` summed in f64 from the f32
//! outputs of the net at `w ± h·e_i` (Richardson-extrapolated over `h` and `h/2`). Two
//! metrics must hold: each parameter's relative error `|a - n| / max(FLOOR, |a| + |n|)`,
//! and the cosine similarity of the whole gradient vectors.
//!
//! ReLU and SeLU have a kink at 0, where central differences measure neither side's
//! derivative. The nets' first layer (whose parameters lead the buffer) is run alone to
//! find the parameters whose step moves a pre-activation across 0; only those are left out,
//! and only while they are few.
//!
//! The original Vectorflow's three backward bugs each have a named test as well:
//! [`relu_backpropagates`], [`tanh_backward_uses_one_minus_y_squared`] and
//! [`dropout_backward_applies_mask_and_scale`].
//!
//! The step, tolerances, numeric derivative and comparison are the public
//! [`vectorflow::gradcheck`]'s, which also checks each layer alone
//! ([`every_builtin_layer_passes_check_gradients`]).
//!
//! `GRAD_VERBOSE=1 cargo test --test gradients -- --nocapture` prints each check's worst
//! error.

use vectorflow::features::{group_id, DenseGroup, FeatureError, Features, SparseGroup};
use vectorflow::gradcheck::{check_gradients, compare, derivative, GradCheck, COSINE, STEP};
use vectorflow::layers::{Buf, InputFeed, InputLayer, Zeroed};
use vectorflow::network::{Stack, Workspace};
use vectorflow::params::Accumulate;
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

// ---------------------------------------------------------------------------------------
// Rows, written by hand.

/// Sparse features in the default group and a dense pair in `ctx`.
struct Row {
    ids: Vec<(u32, f32)>,
    ctx: [f32; 2],
}

impl Features for Row {}

impl SparseGroup<{ group_id("") }> for Row {
    fn visit<F: FnMut(u32, f32)>(&self, mut f: F) -> Result<(), FeatureError> {
        self.ids.iter().for_each(|&(i, v)| f(i, v));
        Ok(())
    }
}

impl DenseGroup<{ group_id("ctx") }, 2> for Row {
    fn dense(&self, out: &mut [f32; 2]) -> Result<(), FeatureError> {
        *out = self.ctx;
        Ok(())
    }
}

fn sparse(ids: &[(u32, f32)]) -> Row {
    Row {
        ids: ids.to_vec(),
        ctx: [0.0; 2],
    }
}

/// A dense row of width `N` in the default group.
struct DenseRow<const N: usize>([f32; N]);

impl<const N: usize> Features for DenseRow<N> {}

impl<const N: usize> DenseGroup<{ group_id("") }, N> for DenseRow<N> {
    fn dense(&self, out: &mut [f32; N]) -> Result<(), FeatureError> {
        *out = self.0;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// The harness.

#[derive(Clone, Copy, Debug)]
enum Mode {
    Predict,
    /// A training workspace (dropout on) re-created with this seed before every forward
    /// pass, so every evaluation draws the same masks.
    Train(u64),
}

fn workspace<I: InputLayer, S: Stack>(mode: Mode) -> Workspace<I, S> {
    match mode {
        Mode::Predict => Workspace::predict(),
        Mode::Train(seed) => Workspace::train(seed),
    }
}

/// The net's output at parameters `w`.
fn outputs<I, S, R>(w: &[f32], row: &R, mode: Mode) -> Vec<f32>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
{
    let mut ws = workspace::<I, S>(mode);
    let out = Net::<I, S>::forward(w, &mut ws, row).expect("finite row");
    out.as_ref().to_vec()
}

/// The output of `net` on `row`.
fn run<I, S, R>(net: &Net<I, S>, row: &R, mode: Mode) -> Vec<f32>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
{
    outputs::<I, S, R>(&net.params().to_vec(), row, mode)
}

/// `Σ c_k · out_k`, in f64.
fn loss(out: &[f32], c: &[f32]) -> f64 {
    assert_eq!(out.len(), c.len());
    out.iter().zip(c).map(|(&o, &c)| o as f64 * c as f64).sum()
}

/// The gradient `Net::backward` hands to an [`Accumulate`] for output gradient `dy`.
fn analytic<I, S, R>(w: &[f32], row: &R, dy: &[f32], mode: Mode) -> Vec<f32>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
{
    let mut ws = workspace::<I, S>(mode);
    Net::<I, S>::forward(w, &mut ws, row).expect("finite row");
    let mut d = S::Out::zeroed();
    d.as_mut().copy_from_slice(dy);
    let mut acc = Accumulate::new(w);
    Net::<I, S>::backward(&mut acc, &ws, &d);
    acc.grad
}

/// Central differences of `loss(out(w), c)` for every parameter.
fn numeric<I, S, R>(w: &[f32], row: &R, c: &[f32], mode: Mode) -> Vec<f64>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
{
    let mut wp = w.to_vec();
    (0..w.len())
        .map(|i| {
            let at = |v: f32| {
                wp[i] = v;
                let l = loss(&outputs::<I, S, R>(&wp, row, mode), c);
                wp[i] = w[i];
                l
            };
            derivative(at, w[i]).value
        })
        .collect()
}

/// Checks the gradient of `Σ c_k out_k` of `net` on `row` against finite differences and
/// returns the analytic gradient.
fn check<I, S, R>(net: &Net<I, S>, row: &R, c: &[f32], mode: Mode) -> Vec<f32>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
{
    check_skipping(net, row, c, mode, &[])
}

/// [`check`], but leaving out of the comparison the parameters `i` with `skip[i]` (a
/// prefix of the parameters; those past its end are all compared).
fn check_skipping<I, S, R>(
    net: &Net<I, S>,
    row: &R,
    c: &[f32],
    mode: Mode,
    skip: &[bool],
) -> Vec<f32>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
{
    let w = &net.params().to_vec()[..];
    let a = analytic::<I, S, R>(w, row, c, mode);
    let n = numeric::<I, S, R>(w, row, c, mode);
    assert_eq!(a.len(), n.len());
    // Skipping must leave the bulk of the gradient checked.
    let skipped = skip.iter().filter(|&&s| s).count();
    let live = a.iter().filter(|&&g| g != 0.0).count();
    assert!(
        skipped * 4 <= live,
        "{}: {skipped} parameters near a kink, of {live} with a gradient; pick another row",
        Net::<I, S>::topology(),
    );
    let agreement = compare(&a, &n, skip).unwrap_or_else(|d| {
        panic!(
            "{} ({mode:?}): parameter {} of {}: analytic {} vs numeric {} (relative error {:.2e})",
            Net::<I, S>::topology(),
            d.index,
            a.len(),
            d.analytic,
            d.numeric,
            d.relative,
        )
    });
    let (rel, i) = agreement.worst;
    if std::env::var_os("GRAD_VERBOSE").is_some() {
        eprintln!(
            "{} ({mode:?}): {} parameters, {skipped} skipped, worst relative error {rel:.2e} at {i} ({} vs {})",
            Net::<I, S>::topology(),
            a.len(),
            a[i],
            n[i],
        );
    }
    let [_, aa, nn] = agreement.sums;
    assert!(
        aa > 0.0 && nn > 0.0,
        "{}: zero gradient, nothing checked",
        Net::<I, S>::topology()
    );
    let cosine = agreement.cosine();
    assert!(
        cosine > COSINE,
        "{} ({mode:?}): cosine similarity {cosine}",
        Net::<I, S>::topology()
    );
    a
}

/// `n` standard-normal loss coefficients.
fn coefficients(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.normal()).collect()
}

/// Which parameters of `first`, the net's first layer (whose parameters lead the net's),
/// move a pre-activation across 0, where ReLU and SeLU have their kink, when they take
/// their finite-difference step up or down. Central differences across a kink measure
/// neither side's derivative, so the checks skip those parameters (and only those).
fn kinks<I, S, R>(first: &Net<I, S>, row: &R) -> Vec<bool>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
{
    let z = run(first, row, Mode::Predict);
    let mut w = first.params().to_vec();
    (0..w.len())
        .map(|i| {
            let w0 = w[i];
            let h = STEP * w0.abs().max(1.0);
            let crosses = [w0 + h, w0 - h].into_iter().any(|wi| {
                w[i] = wi;
                let zp = outputs::<I, S, R>(&w, row, Mode::Predict);
                // Also treat landing on 0 or starting within rounding of it as a crossing.
                z.iter().zip(&zp).any(|(a, b)| a * b <= 1e-12)
            });
            w[i] = w0;
            crosses
        })
        .collect()
}

/// Asserts that every parameter outside `touched` has exactly zero gradient.
fn assert_zero_outside(grad: &[f32], touched: impl Fn(usize) -> bool, what: &str) {
    for (i, &g) in grad.iter().enumerate() {
        if !touched(i) {
            assert!(g == 0.0, "{what}: untouched parameter {i} has gradient {g}");
        }
    }
}

/// Whether parameter `i` lies in the sparse input layer's row of a slot the row uses, or
/// past the sparse weights (its bias and the dense layers).
fn touched_by(row: &Row, dim: usize, out: usize) -> impl Fn(usize) -> bool + '_ {
    move |i| i >= dim * out || row.ids.iter().any(|&(id, _)| id as usize % dim == i / out)
}

/// Rows used by the sparse nets of width `D`: single features, several, negative and
/// large values, and a repeated slot (the same id twice, and an id that wraps onto it).
fn rows(dim: u32) -> Vec<Row> {
    vec![
        sparse(&[(3, 1.0)]),
        sparse(&[(1, 0.7), (5, -1.3), (11, 0.4)]),
        sparse(&[(2, 1.5), (7, -0.6), (2 + dim, 0.9), (7, 0.35), (13, -1.1)]),
        sparse(&[(dim - 1, 2.0), (4 * dim + 6, -0.8)]),
    ]
}

// ---------------------------------------------------------------------------------------
// Linear models.

#[test]
fn sparse_linear() {
    type M = network![Sparse<16> => Linear<1>];
    let net = M::new(Init::normal(0.5).seed(1));
    for (r, row) in rows(16).iter().enumerate() {
        let g = check(&net, row, &[1.3], Mode::Predict);
        assert_zero_outside(&g, touched_by(row, 16, 1), "Sparse => Linear<1>");
        // L = c (b + Σ v w): a slot's gradient is c times the sum of its values.
        for (slot, &gs) in g[..16].iter().enumerate() {
            let want: f32 = row
                .ids
                .iter()
                .filter(|(id, _)| *id as usize % 16 == slot)
                .map(|(_, v)| 1.3 * v)
                .sum();
            assert!(
                (gs - want).abs() < 1e-6,
                "row {r} slot {slot}: {gs} vs {want}"
            );
        }
        assert_eq!(g[16], 1.3);
    }
}

#[test]
fn sparse_linear_without_bias() {
    type M = network![Sparse<16> => Linear<1, bias = false>];
    assert_eq!(M::PARAMS, 16);
    let net = M::new(Init::normal(0.5).seed(2));
    for row in &rows(16) {
        let g = check(&net, row, &[-0.7], Mode::Predict);
        assert_zero_outside(
            &g,
            |i| row.ids.iter().any(|&(id, _)| id as usize % 16 == i),
            "Sparse => Linear<1, bias = false>",
        );
    }
}

#[test]
fn sparse_linear_wide() {
    type M = network![Sparse<16> => Linear<8>];
    let net = M::new(Init::normal(0.5).seed(3));
    for (r, row) in rows(16).iter().enumerate() {
        let c = coefficients(8, 30 + r as u64);
        let g = check(&net, row, &c, Mode::Predict);
        assert_zero_outside(&g, touched_by(row, 16, 8), "Sparse => Linear<8>");
    }
}

#[test]
fn dense_input() {
    type M = network![Dense<4> => Linear<3> => TanH => Linear<2>];
    type S = network![Dense<4> => Linear<3> => Sigmoid => Linear<3> => TanH => Linear<2>];
    let m = M::new(Init::normal(0.5).seed(4));
    let s = S::new(Init::normal(0.8).seed(5));
    for (r, x) in [
        [1.0, -0.5, 0.25, 2.0],
        [-1.5, 0.3, 0.9, -0.2],
        [0.0, 0.0, 1.2, 0.0],
    ]
    .into_iter()
    .enumerate()
    {
        let row = DenseRow(x);
        let c = coefficients(2, 40 + r as u64);
        let g = check(&m, &row, &c, Mode::Predict);
        check(&s, &row, &c, Mode::Predict);
        // The first layer's weight (o, j) has gradient dz_o · x_j: zero where x_j is.
        for o in 0..3 {
            for (j, &xj) in x.iter().enumerate() {
                assert_eq!(g[o * 4 + j] == 0.0, xj == 0.0, "weight ({o}, {j})");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Each layer alone, through the public check a user's layer takes.

#[test]
fn every_builtin_layer_passes_check_gradients() {
    use vectorflow::layers::{Act, Dropout, Linear, ReLU, SeLU, Sigmoid, TanH};
    for seed in [1, 2, 3] {
        let check = GradCheck::new().seed(seed).trials(4);
        let linear = check.check::<Linear<5, 3, true>>().unwrap();
        // Smooth: nothing near a kink, every value compared.
        assert_eq!((linear.params, linear.skipped), (5 * 3 + 3, 0));
        assert_eq!(linear.checked, (18 + 5) * 4 * 2);
        check.check::<Linear<4, 2, false>>().unwrap();
        check.check::<Act<TanH, 8>>().unwrap();
        check.check::<Act<Sigmoid, 8>>().unwrap();
        // Kinked at 0: a few inputs may be left out.
        let relu = check.check::<Act<ReLU, 8>>().unwrap();
        assert!(relu.skipped * 8 < relu.checked, "{relu:?}");
        check.check::<Act<SeLU, 8>>().unwrap();
        check.check::<Dropout<8, 500_000>>().unwrap();
    }
    // Xavier-initialised weights, as a net starts from.
    GradCheck::new()
        .init(Init::xavier())
        .check::<Linear<6, 6, true>>()
        .unwrap();
    check_gradients::<Dropout<16, 100_000>>().unwrap();
}

// ---------------------------------------------------------------------------------------
// One hidden layer, every activation.

/// The first layer of the nets below, whose parameters lead theirs.
type First = network![Sparse<32> => Linear<8>];

/// Checks `net`, whose first layer is [`First`] and whose first activation is kinked at 0
/// when `kinked`, on every row of [`rows`].
fn check_hidden<I, S>(net: &Net<I, S>, kinked: bool, mode: Mode) -> Vec<[f32; 8]>
where
    I: InputFeed<Row>,
    S: Stack<In = I::Out>,
{
    let first = First::from_params(net.params().to_vec()[..First::PARAMS].to_vec()).unwrap();
    rows(32)
        .iter()
        .enumerate()
        .map(|(r, row)| {
            let z = first.predict(row).unwrap();
            let skip = if kinked { kinks(&first, row) } else { vec![] };
            let c = coefficients(S::Out::WIDTH, 50 + r as u64);
            let g = check_skipping(net, row, &c, mode, &skip);
            assert_zero_outside(&g, touched_by(row, 32, 8), &Net::<I, S>::topology());
            z
        })
        .collect()
}

#[test]
fn relu_net() {
    type M = network![Sparse<32> => Linear<8> => ReLU => Linear<1>];
    let z = check_hidden(&M::new(Init::normal(0.5).seed(6)), true, Mode::Predict);
    // Both sides of the kink are exercised.
    assert!(z.iter().flatten().any(|&z| z > 0.0) && z.iter().flatten().any(|&z| z < 0.0));
}

#[test]
fn tanh_net() {
    type M = network![Sparse<32> => Linear<8> => TanH => Linear<1>];
    check_hidden(&M::new(Init::normal(0.5).seed(7)), false, Mode::Predict);
}

#[test]
fn sigmoid_net() {
    type M = network![Sparse<32> => Linear<8> => Sigmoid => Linear<1>];
    check_hidden(&M::new(Init::normal(0.5).seed(8)), false, Mode::Predict);
}

#[test]
fn selu_net() {
    type M = network![Sparse<32> => Linear<8> => SeLU => Linear<1>];
    let z = check_hidden(&M::new(Init::normal(0.5).seed(9)), true, Mode::Predict);
    assert!(z.iter().flatten().any(|&z| z > 0.0) && z.iter().flatten().any(|&z| z < 0.0));
}

#[test]
fn dropout_net() {
    type M = network![Sparse<32> => Linear<8> => ReLU => Dropout<0.5> => Linear<2>];
    let net = M::new(Init::normal(0.5).seed(10));
    for seed in [1, 2, 3] {
        check_hidden(&net, true, Mode::Train(seed));
    }
    // At prediction dropout is the identity.
    check_hidden(&net, true, Mode::Predict);
}

#[test]
fn multi_root() {
    type M = network![Sparse<16>, ctx: Dense<2> => Linear<4> => ReLU => Linear<2>];
    type First = network![Sparse<16>, ctx: Dense<2> => Linear<4>];
    assert_eq!(M::PARAMS, 18 * 4 + 4 + 4 * 2 + 2);
    let net = M::new(Init::normal(0.5).seed(11));
    let first = First::from_params(net.params().to_vec()[..First::PARAMS].to_vec()).unwrap();
    let mut rows = rows(16);
    rows[0].ctx = [0.5, -1.0];
    rows[1].ctx = [1.5, 0.25];
    rows[3].ctx = [-0.75, 0.0];
    for (r, row) in rows.iter().enumerate() {
        let c = coefficients(2, 60 + r as u64);
        let g = check_skipping(&net, row, &c, Mode::Predict, &kinks(&first, row));
        // Sparse rows 0..16, then the dense root's 4 × 2 matrix, the bias, layer 2.
        assert_zero_outside(&g, touched_by(row, 16, 4), "multi-root");
        for o in 0..4 {
            for j in 0..2 {
                let gw = g[16 * 4 + o * 2 + j];
                assert_eq!(gw == 0.0, row.ctx[j] == 0.0 || g[18 * 4 + o] == 0.0);
            }
        }
    }
}

#[test]
fn deep_net() {
    type M = network![Sparse<32> => Linear<16> => ReLU => Linear<8> => TanH => Linear<3>];
    type First = network![Sparse<32> => Linear<16>];
    let net = M::new(Init::normal(0.5).seed(12));
    let first = First::from_params(net.params().to_vec()[..First::PARAMS].to_vec()).unwrap();
    for (r, row) in rows(32).iter().enumerate() {
        let c = coefficients(3, 70 + r as u64);
        let g = check_skipping(&net, row, &c, Mode::Predict, &kinks(&first, row));
        assert_zero_outside(&g, touched_by(row, 32, 16), "deep net");
    }
}

// ---------------------------------------------------------------------------------------
// Sparse output gradients.

#[test]
fn sparse_output_gradient_touches_one_column() {
    type M = network![Sparse<16> => Linear<8>];
    let net = M::new(Init::normal(0.5).seed(13));
    for row in &rows(16) {
        for k in [0, 5, 7] {
            let mut c = [0.0f32; 8];
            c[k] = -1.7;
            let g = check(&net, row, &c, Mode::Predict);
            let slots = |i: usize| row.ids.iter().any(|&(id, _)| id as usize % 16 == i / 8);
            // Only column k of the touched feature rows, and bias k.
            assert_zero_outside(
                &g,
                |i| i % 8 == k && (i >= 16 * 8 || slots(i)),
                "one output of Sparse => Linear<8>",
            );
            assert!(g[16 * 8 + k] == -1.7);
            // Two non-zeros take the whole-row path: still only those columns.
            c[(k + 3) % 8] = 0.6;
            let g = check(&net, row, &c, Mode::Predict);
            assert_zero_outside(
                &g,
                |i| (i % 8 == k || i % 8 == (k + 3) % 8) && (i >= 16 * 8 || slots(i)),
                "two outputs of Sparse => Linear<8>",
            );
        }
    }
}

#[test]
fn sparse_output_gradient_touches_one_row_of_the_last_layer() {
    type M = network![Sparse<16> => Linear<8> => TanH => Linear<8>];
    let net = M::new(Init::normal(0.5).seed(14));
    // The last layer: an 8 × 8 matrix, then its bias.
    let last = 16 * 8 + 8;
    for row in &rows(16) {
        let k = 6;
        let mut c = [0.0f32; 8];
        c[k] = 1.1;
        let g = check(&net, row, &c, Mode::Predict);
        assert_zero_outside(
            &g,
            |i| {
                if i >= last + 64 {
                    i == last + 64 + k
                } else if i >= last {
                    (i - last) / 8 == k
                } else {
                    touched_by(row, 16, 8)(i)
                }
            },
            "one output of the last layer",
        );
        assert!(g[last + 64 + k] == 1.1);
        // The gradient still reaches every unit of the hidden layer.
        assert!(g[16 * 8..last].iter().all(|&g| g != 0.0));
    }
}

// ---------------------------------------------------------------------------------------
// The original's bugs.

/// The original's ReLU never back-propagated. Units with a positive pre-activation must
/// pass the gradient through unchanged and the others must block it.
#[test]
fn relu_backpropagates() {
    type M = network![Sparse<4> => Linear<4> => ReLU => Linear<1>];
    #[rustfmt::skip]
    let net = M::from_params(vec![
        1.0, -1.0, 0.5, -0.5,   // slot 0
        0.0, 0.0, 0.0, 0.0,     // slot 1
        0.0, 0.0, 0.0, 0.0,     // slot 2
        0.0, 0.0, 0.0, 0.0,     // slot 3
        0.1, 0.1, -0.1, 0.2,    // bias 1: z = [1.1, -0.9, 0.4, -0.3]
        0.5, -2.0, 1.5, 3.0,    // layer 2
        0.25,                   // bias 2
    ])
    .unwrap();
    let row = sparse(&[(0, 2.0)]);
    let z = [2.1f32, -1.9, 0.9, -0.8];
    let g = check(&net, &row, &[1.0], Mode::Predict);
    let w2 = [0.5f32, -2.0, 1.5, 3.0];
    for k in 0..4 {
        let (feature, bias1, weight2) = (g[k], g[16 + k], g[20 + k]);
        if z[k] > 0.0 {
            assert!(
                (bias1 - w2[k]).abs() < 1e-6,
                "unit {k}: {bias1} != {}",
                w2[k]
            );
            assert!((feature - 2.0 * w2[k]).abs() < 1e-6, "unit {k}");
            assert!((weight2 - z[k]).abs() < 1e-6, "unit {k}");
        } else {
            assert_eq!((feature, bias1, weight2), (0.0, 0.0, 0.0), "unit {k}");
        }
    }
    assert_eq!(g[24], 1.0);
}

/// The original's TanH backward used the wrong quantity: `d tanh(z)/dz = 1 - y²` with
/// `y = tanh(z)` the output, not a function of the pre-activation or of `tanh(y)`.
#[test]
fn tanh_backward_uses_one_minus_y_squared() {
    type M = network![Dense<1> => Linear<1> => TanH => Linear<1>];
    // z = 2 · 0.6 - 0.4 = 0.8, then 1.5 · tanh(z) + 0.1.
    let net = M::from_params(vec![2.0, -0.4, 1.5, 0.1]).unwrap();
    let row = DenseRow([0.6]);
    let g = check(&net, &row, &[1.0], Mode::Predict);
    let z = 0.8f64;
    let y = z.tanh();
    let want = 1.5 * (1.0 - y * y);
    assert!((g[1] as f64 - want).abs() < 1e-6, "{} vs {want}", g[1]);
    assert!((g[0] as f64 - 0.6 * want).abs() < 1e-6);
    assert!((g[2] as f64 - y).abs() < 1e-6);
    // The plausible wrong quantities are far from it, so the check above tells them apart.
    for wrong in [1.0 - z * z, 1.0 - y.tanh().powi(2), y * (1.0 - y), 1.0 - y] {
        assert!((g[1] as f64 - 1.5 * wrong).abs() > 0.05, "{wrong}");
    }
    // Saturation: far from 0 the gradient vanishes as 1 - y² does.
    let net = M::from_params(vec![2.0, 3.0, 1.5, 0.1]).unwrap();
    let g = check(&net, &row, &[1.0], Mode::Predict);
    let y = 4.2f64.tanh();
    assert!((g[1] as f64 - 1.5 * (1.0 - y * y)).abs() < 1e-5);
}

/// The original's dropout backward ignored its mask and scale. With inverted dropout at
/// rate 0.5 a dropped unit must get no gradient and a kept one twice the gradient.
#[test]
fn dropout_backward_applies_mask_and_scale() {
    type M = network![Sparse<8> => Linear<16> => Dropout<0.5> => Linear<1>];
    let net = M::new(Init::normal(0.5).seed(15));
    let w = net.params();
    let (bias1, w2, b2) = (8 * 16, 8 * 16 + 16, 8 * 16 + 32);
    let row = sparse(&[(3, 1.0), (5, -0.5)]);
    for seed in [7, 8, 9] {
        let mode = Mode::Train(seed);
        let g = check(&net, &row, &[1.0], mode);
        // The gradient of bias 1 is dy at the dropout's input: mask_k · w2_k.
        let mut mask = [0.0f32; 16];
        for k in 0..16 {
            let (gb, w2k) = (g[bias1 + k], w[w2 + k]);
            mask[k] = if gb == 0.0 {
                0.0
            } else {
                assert!(
                    (gb - 2.0 * w2k).abs() < 1e-6,
                    "seed {seed}, unit {k}: kept unit's gradient {gb}, want 2 · {w2k}"
                );
                2.0
            };
            // A dropped unit gets nothing at all: its feature weights, its bias, and the
            // weight that reads it.
            if mask[k] == 0.0 {
                assert_eq!((g[3 * 16 + k], g[5 * 16 + k], g[w2 + k]), (0.0, 0.0, 0.0));
            }
        }
        let dropped = mask.iter().filter(|&&m| m == 0.0).count();
        assert!(
            (3..=13).contains(&dropped),
            "seed {seed}: {dropped} of 16 dropped"
        );
        // The same mask and scale as the forward pass: rebuild its output from them.
        let h: Vec<f32> = (0..16)
            .map(|k| w[bias1 + k] + w[3 * 16 + k] - 0.5 * w[5 * 16 + k])
            .collect();
        let want: f32 = w[b2] + (0..16).map(|k| w[w2 + k] * mask[k] * h[k]).sum::<f32>();
        let out = run(&net, &row, mode);
        assert!((out[0] - want).abs() < 1e-5, "{} vs {want}", out[0]);
        // And the gradient of the last layer's weights is the dropout's output.
        for k in 0..16 {
            assert!((g[w2 + k] - mask[k] * h[k]).abs() < 1e-6, "unit {k}");
        }
    }
    // At prediction nothing is dropped or scaled.
    let g = check(&net, &row, &[1.0], Mode::Predict);
    for k in 0..16 {
        assert!((g[bias1 + k] - w[w2 + k]).abs() < 1e-7);
    }
}

// ---------------------------------------------------------------------------------------
// Accumulation and workspace reuse.

/// Backward passes add into the gradient (a mini-batch is the sum of its rows), and a
/// workspace reused across rows keeps nothing of the previous row.
#[test]
fn gradients_add_up_and_workspaces_forget() {
    type M = network![Sparse<16>, ctx: Dense<2> => Linear<4> => TanH => Linear<2>];
    type I = <M as Parts>::I;
    type S = <M as Parts>::S;
    let net = M::new(Init::normal(0.5).seed(16));
    let w = &net.params().to_vec()[..];
    let mut rows = rows(16);
    rows[1].ctx = [0.5, -2.0];
    rows[2].ctx = [1.0, 0.0];
    let c = [0.8f32, -1.4];
    let mut sum = vec![0.0f32; w.len()];
    for row in &rows {
        for (s, g) in sum
            .iter_mut()
            .zip(analytic::<I, S, Row>(w, row, &c, Mode::Predict))
        {
            *s += g;
        }
    }
    // One accumulator, one workspace, every row in turn.
    let mut acc = Accumulate::new(w);
    let mut ws = Workspace::<I, S>::predict();
    for row in &rows {
        let out = M::forward(w, &mut ws, row).unwrap();
        assert_eq!(out.to_vec(), run(&net, row, Mode::Predict));
        M::backward(&mut acc, &ws, &c);
    }
    for (i, (a, b)) in acc.grad.iter().zip(&sum).enumerate() {
        assert!(
            (a - b).abs() <= 1e-6 * (1.0 + b.abs()),
            "parameter {i}: {a} vs {b}"
        );
    }
}

/// A net type's input layer and stack.
trait Parts {
    type I;
    type S;
}

impl<I, S> Parts for Net<I, S> {
    type I = I;
    type S = S;
}
