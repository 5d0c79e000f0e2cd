//! Element-wise activations: ReLU, TanH, Sigmoid, SeLU.

use super::{Buf, Ctx, Layer};
use crate::params::{Learn, Params};
use std::marker::PhantomData;

/// An element-wise function and its derivative.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an activation: `Act<{Self}>` needs `{Self}: vectorflow::layers::Activation`",
    label = "not an `Activation`",
    note = "implement `Activation` (a `NAME`, `f` and `df`) for it; a layer of your own with parameters or its own shape is a `Layer`, written in `network!` without `Act<...>`"
)]
pub trait Activation: 'static {
    /// The name shown in topology descriptions.
    const NAME: &'static str;
    /// `f(x)`.
    fn f(x: f32) -> f32;
    /// `f'(x)`, given `x` and `y = f(x)`.
    fn df(x: f32, y: f32) -> f32;
}

/// Rectified linear unit: `max(x, 0)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReLU;
impl Activation for ReLU {
    const NAME: &'static str = "ReLU";
    #[inline(always)]
    fn f(x: f32) -> f32 {
        x.max(0.0)
    }
    #[inline(always)]
    fn df(x: f32, _y: f32) -> f32 {
        if x > 0.0 {
            1.0
        } else {
            0.0
        }
    }
}

/// Hyperbolic tangent; its derivative is `1 - y²` (the original used the wrong quantity).
#[derive(Clone, Copy, Debug, Default)]
pub struct TanH;
impl Activation for TanH {
    const NAME: &'static str = "TanH";
    #[inline(always)]
    fn f(x: f32) -> f32 {
        x.tanh()
    }
    #[inline(always)]
    fn df(_x: f32, y: f32) -> f32 {
        1.0 - y * y
    }
}

/// Logistic sigmoid `1 / (1 + e^-x)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sigmoid;
impl Activation for Sigmoid {
    const NAME: &'static str = "Sigmoid";
    #[inline(always)]
    fn f(x: f32) -> f32 {
        1.0 / (1.0 + (-x).exp())
    }
    #[inline(always)]
    fn df(_x: f32, y: f32) -> f32 {
        y * (1.0 - y)
    }
}

/// Scaled exponential linear unit (Klambauer et al., 2017).
#[derive(Clone, Copy, Debug, Default)]
pub struct SeLU;
const SELU_LAMBDA: f32 = 1.050_701;
const SELU_ALPHA: f32 = 1.673_263_2;
impl Activation for SeLU {
    const NAME: &'static str = "SeLU";
    #[inline(always)]
    fn f(x: f32) -> f32 {
        if x > 0.0 {
            SELU_LAMBDA * x
        } else {
            SELU_LAMBDA * SELU_ALPHA * x.exp_m1()
        }
    }
    #[inline(always)]
    fn df(x: f32, y: f32) -> f32 {
        if x > 0.0 {
            SELU_LAMBDA
        } else {
            y + SELU_LAMBDA * SELU_ALPHA
        }
    }
}

/// The layer applying activation `F` to a vector of width `N`.
pub struct Act<F, const N: usize>(PhantomData<F>);

impl<F: Activation, const N: usize> Layer for Act<F, N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Scratch = ();
    const PARAMS: usize = 0;

    fn describe(out: &mut String) {
        out.push_str(F::NAME);
    }

    #[inline(always)]
    fn forward<P: Params + ?Sized>(
        _p: &P,
        _off: usize,
        x: &[f32; N],
        y: &mut [f32; N],
        _s: &mut (),
        _ctx: &mut Ctx,
    ) {
        forward::<F>(x, y);
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        _p: &mut L,
        _off: usize,
        x: &[f32; N],
        y: &[f32; N],
        _s: &(),
        dy: &[f32; N],
        dx: &mut [f32; N],
    ) {
        backward::<F>(x, y, dy, dx);
    }
}

/// `y = F(x)` element-wise: [`Act`]'s forward pass, on any width (a net of run-time
/// widths calls it too).
#[inline(always)]
pub(crate) fn forward<F: Activation>(x: &[f32], y: &mut [f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y = F::f(*x);
    }
}

/// `dx = dy · F'(x)` element-wise: [`Act`]'s backward pass, on any width.
#[inline(always)]
pub(crate) fn backward<F: Activation>(x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for (((dx, dy), x), y) in dx.iter_mut().zip(dy).zip(x).zip(y) {
        *dx = dy * F::df(*x, *y);
    }
}

const _: () = assert!(<[f32; 3] as Buf>::WIDTH == 3);
