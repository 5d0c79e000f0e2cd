//! Layers and activations written by the user: the `Layer` docs' LeakyReLU (`Act<Leaky>`)
//! and learned per-unit scale (`Scale<N>`) pass the gradient check alone and inside a
//! net, train, appear in the topology, and save and load like built-ins; a model file is
//! refused by a net whose user layers differ. The gradient check itself catches broken
//! layers, each with its own error.

use vectorflow::features::{group_id, DenseGroup, FeatureError, Features};
use vectorflow::file::ModelErrorKind;
use vectorflow::gradcheck::{
    check_gradients, compare, derivative, GradCheck, GradErrorKind, Value, COSINE,
};
use vectorflow::init::Init;
use vectorflow::layers::{Act, Activation, Ctx, Layer};
use vectorflow::network::Workspace;
use vectorflow::params::{Accumulate, Learn, Params};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

/// `x` for positive `x`, else `0.01 x`.
struct Leaky;

impl Activation for Leaky {
    const NAME: &'static str = "Leaky";
    fn f(x: f32) -> f32 {
        if x > 0.0 {
            x
        } else {
            0.01 * x
        }
    }
    fn df(x: f32, _y: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else {
            0.01
        }
    }
}

/// `y_k = s_k · x_k`, one learned `s_k` per unit, starting at 1.
struct Scale<const N: usize>;

impl<const N: usize> Layer for Scale<N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Scratch = ();
    const PARAMS: usize = N;

    fn describe(out: &mut String) {
        out.push_str(&format!("Scale({N})"));
    }
    fn init(w: &mut [f32], _init: &Init, _rng: &mut Rng) {
        w.fill(1.0);
    }
    fn forward<P: Params + ?Sized>(
        p: &P,
        off: usize,
        x: &[f32; N],
        y: &mut [f32; N],
        _s: &mut (),
        _ctx: &mut Ctx,
    ) {
        let s = p.row::<N>(off);
        *y = std::array::from_fn(|k| s[k] * x[k]);
    }
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        x: &[f32; N],
        _y: &[f32; N],
        _s: &(),
        dy: &[f32; N],
        dx: &mut [f32; N],
    ) {
        let s = p.row::<N>(off);
        *dx = std::array::from_fn(|k| s[k] * dy[k]);
        let ds: [f32; N] = std::array::from_fn(|k| x[k] * dy[k]);
        p.step(off, &ds);
    }
}

/// `y_k = x_k + b_k`: as many parameters as [`Scale`], another meaning.
struct Shift<const N: usize>;

impl<const N: usize> Layer for Shift<N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Scratch = ();
    const PARAMS: usize = N;

    fn describe(out: &mut String) {
        out.push_str(&format!("Shift({N})"));
    }
    fn forward<P: Params + ?Sized>(
        p: &P,
        off: usize,
        x: &[f32; N],
        y: &mut [f32; N],
        _s: &mut (),
        _ctx: &mut Ctx,
    ) {
        let b = p.row::<N>(off);
        *y = std::array::from_fn(|k| x[k] + b[k]);
    }
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        _x: &[f32; N],
        _y: &[f32; N],
        _s: &(),
        dy: &[f32; N],
        dx: &mut [f32; N],
    ) {
        *dx = *dy;
        p.step(off, dy);
    }
}

// ---------------------------------------------------------------------------------------
// Gradients.

#[test]
fn leaky_and_scale_pass_the_gradient_check() {
    let mut near_kink = 0;
    for seed in [1, 2, 3, 4, 5] {
        let check = GradCheck::new().seed(seed).trials(6);
        let leaky = check.check::<Act<Leaky, 16>>().unwrap();
        near_kink += leaky.skipped;
        assert_eq!(leaky.params, 0);
        // 16 inputs, 6 trials, two modes, a few near the kink at most.
        assert!(leaky.checked + leaky.skipped == 16 * 6 * 2, "{leaky:?}");
        assert!(leaky.skipped * 10 < leaky.checked, "{leaky:?}");
        let scale = check.check::<Scale<16>>().unwrap();
        assert_eq!((scale.params, scale.skipped), (16, 0));
        assert_eq!(scale.checked, (16 + 16) * 6 * 2);
        assert!(scale.worst < 1e-3 && scale.cosine > COSINE, "{scale:?}");
    }
    // Of 960 inputs from N(0, 1), some fell within a step (0.04) of the kink at 0.
    assert!(near_kink > 0);
    check_gradients::<Shift<5>>().unwrap();
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

#[test]
fn a_net_with_user_layers_passes_the_gradient_check() {
    type M = network![Dense<3> => Linear<5> => Act<Leaky> => Scale<5> => Shift<5> => Linear<2>];
    assert_eq!(M::PARAMS, 3 * 5 + 5 + 5 + 5 + 5 * 2 + 2);
    let mut rng = Rng::new(21);
    for trial in 0..6 {
        let mut net = M::new(Init::normal(0.7).seed(trial));
        // Scales away from 1 and shifts away from 0, so their gradients are not special.
        for w in net.params_mut().iter_mut().skip(20).take(10) {
            *w += 0.5 * rng.normal();
        }
        let w = net.params().to_vec();
        let row = DenseRow([rng.normal(), rng.normal(), rng.normal()]);
        let c = [rng.normal(), rng.normal()];
        let loss = |w: &[f32]| {
            let mut ws = Workspace::predict();
            let out = M::forward(w, &mut ws, &row).unwrap();
            out.iter()
                .zip(&c)
                .map(|(&o, &c)| o as f64 * c as f64)
                .sum::<f64>()
        };
        let mut ws = Workspace::predict();
        M::forward(w.as_slice(), &mut ws, &row).unwrap();
        let mut acc = Accumulate::new(&w);
        M::backward(&mut acc, &ws, &c);
        let mut wp = w.clone();
        let (numeric, skip): (Vec<f64>, Vec<bool>) = (0..w.len())
            .map(|i| {
                let d = derivative(
                    |v| {
                        wp[i] = v;
                        let l = loss(&wp);
                        wp[i] = w[i];
                        l
                    },
                    w[i],
                );
                (d.value, d.kink)
            })
            .unzip();
        let agreement =
            compare(&acc.grad, &numeric, &skip).unwrap_or_else(|d| panic!("trial {trial}: {d:?}"));
        assert!(agreement.cosine() > COSINE, "trial {trial}: {agreement:?}");
        assert!(agreement.skipped * 4 <= agreement.checked);
        // The gradient reaches the user layers' parameters.
        assert!(acc.grad[20..30].iter().all(|&g| g != 0.0));
    }
}

// ---------------------------------------------------------------------------------------
// The check catches broken layers.

/// Which mistake [`Broken`] makes.
trait Mistake: 'static {
    const NAME: &'static str;
}
/// `dx` without the scale.
struct ForgetsScale;
/// No gradient for the parameters.
struct NoStep;
/// `dx += ...` instead of `dx = ...`.
struct AddsToDx;
/// Writes only the first output.
struct OneOutput;
impl Mistake for ForgetsScale {
    const NAME: &'static str = "ForgetsScale";
}
impl Mistake for NoStep {
    const NAME: &'static str = "NoStep";
}
impl Mistake for AddsToDx {
    const NAME: &'static str = "AddsToDx";
}
impl Mistake for OneOutput {
    const NAME: &'static str = "OneOutput";
}

/// [`Scale`] with mistake `M`, its scales starting at 2.
struct Broken<M, const N: usize>(std::marker::PhantomData<M>);

impl<M: Mistake, const N: usize> Layer for Broken<M, N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Scratch = ();
    const PARAMS: usize = N;

    fn describe(out: &mut String) {
        out.push_str(M::NAME);
    }
    fn init(w: &mut [f32], _init: &Init, _rng: &mut Rng) {
        w.fill(2.0);
    }
    fn forward<P: Params + ?Sized>(
        p: &P,
        off: usize,
        x: &[f32; N],
        y: &mut [f32; N],
        s: &mut (),
        ctx: &mut Ctx,
    ) {
        if M::NAME == "OneOutput" {
            y[0] = p.get(off) * x[0];
        } else {
            Scale::<N>::forward(p, off, x, y, s, ctx);
        }
    }
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        x: &[f32; N],
        _y: &[f32; N],
        _s: &(),
        dy: &[f32; N],
        dx: &mut [f32; N],
    ) {
        let s = p.row::<N>(off);
        for k in 0..N {
            match M::NAME {
                "ForgetsScale" => dx[k] = dy[k],
                "AddsToDx" => dx[k] += s[k] * dy[k],
                _ => dx[k] = s[k] * dy[k],
            }
        }
        if M::NAME != "NoStep" {
            let ds: [f32; N] = std::array::from_fn(|k| x[k] * dy[k]);
            p.step(off, &ds);
        }
    }
}

#[test]
fn the_check_names_each_mistake() {
    let e = check_gradients::<Broken<ForgetsScale, 4>>().unwrap_err();
    assert_eq!((e.trial, e.train), (0, false));
    match e.kind {
        GradErrorKind::Mismatch {
            value: Value::X(0),
            analytic,
            numeric,
            ..
        } => assert!((numeric - 2.0 * analytic as f64).abs() < 1e-3 * numeric.abs()),
        k => panic!("{k:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.starts_with("ForgetsScale (trial 0, prediction): the gradient of input x[0] is "),
        "{msg}"
    );
    assert!(msg.contains("by backward but"), "{msg}");

    let e = check_gradients::<Broken<NoStep, 4>>().unwrap_err();
    assert!(
        matches!(
            e.kind,
            GradErrorKind::Mismatch { value: Value::Param(0), analytic, .. } if analytic == 0.0
        ),
        "{e}"
    );
    let e = check_gradients::<Broken<AddsToDx, 4>>().unwrap_err();
    assert_eq!(e.kind, GradErrorKind::InputGradUnset(0), "{e}");
    assert!(e.to_string().contains("must write (not add to)"), "{e}");
    let e = check_gradients::<Broken<OneOutput, 4>>().unwrap_err();
    assert_eq!(e.kind, GradErrorKind::OutputUnset(1), "{e}");

    /// A zigzag of period 0.05: every point is within a step of a kink.
    struct Zigzag;
    impl Activation for Zigzag {
        const NAME: &'static str = "Zigzag";
        fn f(x: f32) -> f32 {
            ((x * 20.0).rem_euclid(1.0) - 0.5).abs()
        }
        fn df(x: f32, _y: f32) -> f32 {
            if (x * 20.0).rem_euclid(1.0) < 0.5 {
                -20.0
            } else {
                20.0
            }
        }
    }
    let e = check_gradients::<Act<Zigzag, 4>>().unwrap_err();
    assert!(
        matches!(e.kind, GradErrorKind::Kinks { skipped, live } if skipped * 4 > live),
        "{e}"
    );
    /// Constant: there is no gradient to check.
    struct Flat;
    impl Activation for Flat {
        const NAME: &'static str = "Flat";
        fn f(_x: f32) -> f32 {
            0.5
        }
        fn df(_x: f32, _y: f32) -> f32 {
            0.0
        }
    }
    let e = check_gradients::<Act<Flat, 4>>().unwrap_err();
    assert_eq!(e.kind, GradErrorKind::Zero);
    assert_eq!(
        e.to_string(),
        "Flat (trial 0, prediction): every gradient is zero: nothing was checked"
    );
}

// ---------------------------------------------------------------------------------------
// Training, topology, model files.

/// Two categories whose label is their parity: only a hidden layer learns it.
#[derive(Features, Clone)]
struct XorRow {
    #[label]
    y: bool,
    #[hash]
    a: u16,
    #[hash]
    b: u16,
}

fn xor_rows(n: usize, seed: u64) -> Vec<XorRow> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let (a, b) = (rng.below(8) as u16, rng.below(8) as u16);
            XorRow {
                y: (a + b) % 2 == 1,
                a,
                b,
            }
        })
        .collect()
}

type Mlp = network![Sparse<{ 1 << 10 }> => Linear<8> => Act<Leaky> => Scale<8> => Linear<1>];
/// [`Mlp`] with another user layer of the same size in place of `Scale`.
type Shifted = network![Sparse<{ 1 << 10 }> => Linear<8> => Act<Leaky> => Shift<8> => Linear<1>];
/// [`Mlp`] with the built-in ReLU in place of `Act<Leaky>`.
type WithRelu = network![Sparse<{ 1 << 10 }> => Linear<8> => ReLU => Scale<8> => Linear<1>];

fn accuracy(net: &Mlp, rows: &[XorRow]) -> f64 {
    let right = rows
        .iter()
        .filter(|r| (net.predict(*r).unwrap()[0] > 0.0) == r.y)
        .count();
    right as f64 / rows.len() as f64
}

fn trained() -> Mlp {
    let mut net = Mlp::new(Init::uniform(0.1).seed(3));
    Trainer::new(AdaGrad::new(0.1))
        .threads(1)
        .progress(Progress::Silent)
        .passes(6)
        .fit(&mut net, &xor_rows(4000, 5), Logistic)
        .unwrap();
    net
}

#[test]
fn a_net_with_user_layers_learns_parity() {
    let net = trained();
    let acc = accuracy(&net, &xor_rows(1000, 6));
    assert!(acc > 0.95, "accuracy {acc}");
    // Training moved the scales: the trainer applies the user layer's gradient.
    let scales = &net.params().to_vec()[(1 << 10) * 8 + 8..][..8];
    assert!(scales.iter().all(|&s| s != 1.0), "{scales:?}");
    assert!(scales.iter().any(|&s| (s - 1.0).abs() > 0.05), "{scales:?}");
}

#[test]
fn user_layers_are_in_the_topology_and_model_files() {
    assert_eq!(
        Mlp::topology(),
        "Sparse(1024) => Linear(1024->8) => Leaky => Scale(8) => Linear(8->1)"
    );
    let net = trained();
    let mut file = Vec::new();
    net.to_writer(&mut file).unwrap();
    let back = Mlp::from_reader(&file[..]).unwrap();
    assert_eq!(back.params(), net.params());
    for row in xor_rows(50, 7) {
        assert_eq!(back.predict(&row).unwrap(), net.predict(&row).unwrap());
    }
    // Same parameter count, other layers: refused, naming both topologies.
    assert_eq!(Shifted::PARAMS, Mlp::PARAMS);
    assert_eq!(WithRelu::PARAMS, Mlp::PARAMS);
    for (err, other) in [
        (Shifted::from_reader(&file[..]).err(), Shifted::topology()),
        (WithRelu::from_reader(&file[..]).err(), WithRelu::topology()),
    ] {
        let err = err.expect("a file of another topology is refused");
        match err.kind {
            ModelErrorKind::Mismatch { what, file, net } => {
                assert_eq!(what, "topology");
                assert_eq!(file, Mlp::topology());
                assert_eq!(net, other);
            }
            k => panic!("{k:?}"),
        }
    }
}

#[test]
fn a_user_layer_output_feeds_the_next_layer() {
    /// Sums neighbouring units: `2N` in, `N` out.
    struct Pairs<const IN: usize, const OUT: usize>;
    impl<const IN: usize, const OUT: usize> Layer for Pairs<IN, OUT> {
        type In = [f32; IN];
        type Out = [f32; OUT];
        type Scratch = ();
        const PARAMS: usize = 0;
        fn describe(out: &mut String) {
            out.push_str(&format!("Pairs({IN}->{OUT})"));
        }
        fn forward<P: Params + ?Sized>(
            _p: &P,
            _off: usize,
            x: &[f32; IN],
            y: &mut [f32; OUT],
            _s: &mut (),
            _ctx: &mut Ctx,
        ) {
            *y = std::array::from_fn(|k| x[2 * k] + x[2 * k + 1]);
        }
        fn backward<L: Learn + ?Sized>(
            _p: &mut L,
            _off: usize,
            _x: &[f32; IN],
            _y: &[f32; OUT],
            _s: &(),
            dy: &[f32; OUT],
            dx: &mut [f32; IN],
        ) {
            *dx = std::array::from_fn(|j| dy[j / 2]);
        }
    }
    check_gradients::<Pairs<6, 3>>().unwrap();
    // `Pairs` halves the width: `Act<Leaky>` after it is 3 wide, and so is the output.
    type M = network![Dense<2> => Linear<6> => Pairs<6, 3> => Act<Leaky> => Scale<3>];
    assert_eq!(
        M::topology(),
        "Dense(2) => Linear(2->6) => Pairs(6->3) => Leaky => Scale(3)"
    );
    let net = M::from_params(vec![
        1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0, 2.0, 2.0, 0.5, -0.5, // W: 6 × 2
        0.0, 0.0, 0.0, 0.0, 0.0, 0.0, // bias
        1.0, 10.0, 100.0, // scales
    ])
    .unwrap();
    // z = [1, -2, -1, 2, -2, 1.5]; pairs [-1, 1, -0.5]; leaky [-0.01, 1, -0.005].
    let out: [f32; 3] = net.predict(&DenseRow([1.0, -2.0])).unwrap();
    let want = [-0.01f32, 10.0, -0.5];
    for k in 0..3 {
        assert!((out[k] - want[k]).abs() < 1e-6, "{out:?} vs {want:?}");
    }
}
