//! Layers: one per file. Widths are const generics, so every activation is a
//! `[f32; N]` on the stack and a shape mistake is a type error.
//!
//! A [`Layer`] is a type-level description (it holds no data): its parameters live in the
//! net's flat buffer at an offset the stack computes, and its per-row state lives in the
//! thread's workspace.

pub(crate) mod activation;
pub(crate) mod dim;
pub(crate) mod dropout;
// `pub(crate)`: the macros' stand-in layer and the roots' machinery are named through
// `crate::__private`, not here.
pub(crate) mod fallback;
pub(crate) mod input;
pub(crate) mod linear;

pub use activation::{Act, Activation, ReLU, SeLU, Sigmoid, TanH};
pub use dropout::Dropout;
pub(crate) use input::InputLayout;
pub use input::{Dense, Input, InputFeed, InputLayer, RowInputs, Sparse, MAX_SPARSE_DIM};
pub use linear::Linear;

/// A block of weights in the flat buffer, for priors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// The layer's index among the layers with parameters (0 is the input layer).
    pub layer: usize,
    /// The first weight.
    pub offset: usize,
    /// The number of weights.
    pub len: usize,
    /// `Some(width)` for a sparse root's rows of `width` weights, touched only by rows
    /// that have the feature; `None` for weights every row touches.
    pub row: Option<usize>,
}

use crate::init::Init;
use crate::params::{Learn, Params};
use crate::rng::Rng;

/// A value that has an all-zero state: activation buffers and their tuples.
pub trait Zeroed {
    /// The all-zero value.
    fn zeroed() -> Self;
}

impl<const N: usize> Zeroed for [f32; N] {
    #[inline(always)]
    fn zeroed() -> Self {
        [0.0; N]
    }
}
impl Zeroed for () {
    #[inline(always)]
    fn zeroed() -> Self {}
}
impl<A: Zeroed, B: Zeroed, C: Zeroed> Zeroed for (A, B, C) {
    #[inline(always)]
    fn zeroed() -> Self {
        (A::zeroed(), B::zeroed(), C::zeroed())
    }
}

mod sealed {
    pub trait Sealed {}
    impl<const N: usize> Sealed for [f32; N] {}
}

/// A fixed-width activation vector: `[f32; N]` and nothing else, since the layers of a
/// stack meet at arrays (the trait is sealed).
pub trait Buf: Zeroed + Copy + AsRef<[f32]> + AsMut<[f32]> + sealed::Sealed + 'static {
    /// The width.
    const WIDTH: usize;
}

impl<const N: usize> Buf for [f32; N] {
    const WIDTH: usize = N;
}

/// Whether a pass trains (dropout draws masks) or predicts (dropout is the identity).
#[derive(Clone, Debug)]
pub struct Ctx {
    /// True while training.
    pub train: bool,
    /// The thread's random stream (dropout masks).
    pub rng: Rng,
}

impl Ctx {
    /// A prediction context.
    pub fn predict() -> Ctx {
        Ctx {
            train: false,
            rng: Rng::new(0),
        }
    }
    /// A training context with its own seeded stream.
    pub fn train(seed: u64) -> Ctx {
        Ctx {
            train: true,
            rng: Rng::new(seed),
        }
    }
}

/// A layer of the dense stack that follows the input layer.
///
/// The built-in layers implement this trait, and so can yours. In `network!`, a path that
/// is not a built-in name (`Scale<8>`, `my::Residual<16>`) is a type implementing
/// `Layer`; an element-wise function is an [`Activation`] `F`, written `Act<F>` (its
/// width follows the previous layer, like `ReLU`'s). A user layer is width-checked like
/// a built-in: if its `In` is not the previous layer's output, the compiler says so at
/// the layer's name; its `Out` is the next layer's input.
///
/// A layer holds no data. Its `PARAMS` parameters live in the net's flat buffer from the
/// offset `off` the stack hands it, read through `p` (under Hogwild, other threads may
/// update them between its forward and backward passes: no locking is needed, each read is
/// atomic); per-row state kept from forward to backward is its `Scratch`. The rules, all checked by [`check_gradients`]:
///
/// - `forward` writes every output;
/// - `backward` writes (not adds to) every entry of `dx`, then hands the parameters'
///   gradient to `p` with [`Learn::step`]; a trainer may apply it at once, so `dx` must
///   not depend on anything read after the step;
/// - `describe` writes the layer's name and shape: model files store the topology and
///   refuse to load into a net whose topology differs, so make it tell apart any two
///   layers whose parameters mean different things.
///
/// [`check_gradients`]: crate::gradcheck::check_gradients
///
/// # Example: a LeakyReLU and a learned per-unit scale
///
/// ```
/// use vectorflow::gradcheck::check_gradients;
/// use vectorflow::init::Init;
/// use vectorflow::layers::{Act, Activation, Ctx, Layer};
/// use vectorflow::params::{Learn, Params};
/// use vectorflow::prelude::*;
/// use vectorflow::rng::Rng;
///
/// /// `x` for positive `x`, else `0.01 x`.
/// struct Leaky;
///
/// impl Activation for Leaky {
///     const NAME: &'static str = "Leaky";
///     fn f(x: f32) -> f32 {
///         if x > 0.0 { x } else { 0.01 * x }
///     }
///     fn df(x: f32, _y: f32) -> f32 {
///         if x > 0.0 { 1.0 } else { 0.01 }
///     }
/// }
///
/// /// `y_k = s_k · x_k`, with one learned `s_k` per unit, starting at 1.
/// struct Scale<const N: usize>;
///
/// impl<const N: usize> Layer for Scale<N> {
///     type In = [f32; N];
///     type Out = [f32; N];
///     type Scratch = ();
///     const PARAMS: usize = N;
///     // `WEIGHTS` stays 0: priors (L1, L2) leave the scales alone, as they do biases.
///
///     fn describe(out: &mut String) {
///         out.push_str(&format!("Scale({N})"));
///     }
///
///     fn init(w: &mut [f32], _init: &Init, _rng: &mut Rng) {
///         w.fill(1.0);
///     }
///
///     fn forward<P: Params + ?Sized>(
///         p: &P, off: usize, x: &[f32; N], y: &mut [f32; N], _s: &mut (), _ctx: &mut Ctx,
///     ) {
///         let s = p.row::<N>(off);
///         *y = std::array::from_fn(|k| s[k] * x[k]);
///     }
///
///     fn backward<L: Learn + ?Sized>(
///         p: &mut L, off: usize, x: &[f32; N], _y: &[f32; N], _s: &(),
///         dy: &[f32; N], dx: &mut [f32; N],
///     ) {
///         let s = p.row::<N>(off);
///         *dx = std::array::from_fn(|k| s[k] * dy[k]);
///         let ds: [f32; N] = std::array::from_fn(|k| x[k] * dy[k]);
///         p.step(off, &ds);
///     }
/// }
///
/// // Both agree with finite differences of their forward pass.
/// check_gradients::<Act<Leaky, 8>>().unwrap();
/// check_gradients::<Scale<8>>().unwrap();
///
/// type Model = network![Sparse<{ 1 << 10 }> => Linear<8> => Act<Leaky> => Scale<8> => Linear<1>];
/// assert_eq!(
///     Model::topology(),
///     "Sparse(1024) => Linear(1024->8) => Leaky => Scale(8) => Linear(8->1)"
/// );
/// assert_eq!(Model::PARAMS, 1024 * 8 + 8 + 8 + 8 + 1);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a layer: `network!` takes any path other than its built-ins as a type implementing `vectorflow::layers::Layer`",
    label = "not a `Layer`",
    note = "implement `Layer` for it, or, for an element-wise function, implement `Activation` and write `Act<{Self}>`"
)]
pub trait Layer: 'static {
    /// The input vector.
    type In: Buf;
    /// The output vector.
    type Out: Buf;
    /// Per-row state kept from forward to backward (the dropout mask), `()` if none.
    type Scratch: Zeroed;
    /// The number of parameters.
    const PARAMS: usize;
    /// How many of its leading parameters are weights (the rest are biases, which priors
    /// leave alone).
    const WEIGHTS: usize = 0;

    /// Appends the layer's name and shape to a topology description.
    fn describe(out: &mut String);

    /// Initialises the layer's parameters `w` (exactly `PARAMS` floats).
    fn init(_w: &mut [f32], _init: &Init, _rng: &mut Rng) {}

    /// Computes `y` from `x` with the parameters at `off`.
    fn forward<P: Params + ?Sized>(
        p: &P,
        off: usize,
        x: &Self::In,
        y: &mut Self::Out,
        s: &mut Self::Scratch,
        ctx: &mut Ctx,
    );

    /// Sets `dx` to the gradient of the loss with respect to `x`, given `dy`, and hands the
    /// gradient of the parameters to `p` (after `dx` is computed). Outputs whose `dy` is 0
    /// are skipped, so a sparse output gradient touches only its rows.
    #[allow(clippy::too_many_arguments)]
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        x: &Self::In,
        y: &Self::Out,
        s: &Self::Scratch,
        dy: &Self::Out,
        dx: &mut Self::In,
    );
}
