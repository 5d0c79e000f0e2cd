//! User layers and activations build through `network!`, run, and their generated code
//! is warning-free under `#![deny(warnings)]`. A user layer's output width feeds the next
//! layer, checked or inferred.
#![deny(warnings)]

use vectorflow::init::Init;
use vectorflow::layers::{Activation, Ctx, Layer};
use vectorflow::params::{Learn, Params};
use vectorflow::prelude::*;
use vectorflow::rng::Rng;

struct Leaky;
impl Activation for Leaky {
    const NAME: &'static str = "Leaky";
    fn f(x: f32) -> f32 {
        if x > 0.0 { x } else { 0.1 * x }
    }
    fn df(x: f32, _y: f32) -> f32 {
        if x > 0.0 { 1.0 } else { 0.1 }
    }
}

mod my {
    use super::*;

    /// Sums pairs of units: width N in, N / 2 out.
    pub struct Pairs<const N: usize, const H: usize>;
    impl<const N: usize, const H: usize> Layer for Pairs<N, H> {
        type In = [f32; N];
        type Out = [f32; H];
        type Scratch = ();
        const PARAMS: usize = 0;
        fn describe(out: &mut String) {
            out.push_str(&format!("Pairs({N}->{H})"));
        }
        fn init(_w: &mut [f32], _init: &Init, _rng: &mut Rng) {}
        fn forward<P: Params + ?Sized>(_p: &P, _off: usize, x: &[f32; N], y: &mut [f32; H], _s: &mut (), _ctx: &mut Ctx) {
            for k in 0..H {
                y[k] = x[2 * k] + x[2 * k + 1];
            }
        }
        fn backward<L: Learn + ?Sized>(_p: &mut L, _off: usize, _x: &[f32; N], _y: &[f32; H], _s: &(), dy: &[f32; H], dx: &mut [f32; N]) {
            for k in 0..H {
                dx[2 * k] = dy[k];
                dx[2 * k + 1] = dy[k];
            }
        }
    }
}

const H: usize = 4;

type Model = network![
    Sparse<64> => Linear<8> => Act<Leaky> => my::Pairs<8, H> => Act<Leaky, 4> => Linear<H, 2>
        => my::Pairs<2, 1>
];

#[derive(Features)]
struct Row {
    #[label]
    y: bool,
    #[hash]
    word: &'static str,
}

fn main() {
    let net = Model::new(Init::uniform(0.1).seed(7));
    let [p] = net.predict(&Row { y: true, word: "a" }).unwrap();
    assert!(p.is_finite());
    assert_eq!(
        Model::topology(),
        "Sparse(64) => Linear(64->8) => Leaky => Pairs(8->4) => Leaky => Linear(4->2) => Pairs(2->1)"
    );
    assert_eq!(Model::PARAMS, 64 * 8 + 8 + 4 * 2 + 2);
}
