// A user layer is width-checked like a built-in: `Scale<4>` takes 4, `Linear<8>` outputs 8.
use vectorflow::layers::{Ctx, Layer};
use vectorflow::params::{Learn, Params};
use vectorflow::prelude::*;

struct Scale<const N: usize>;

impl<const N: usize> Layer for Scale<N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Scratch = ();
    const PARAMS: usize = N;
    fn describe(out: &mut String) {
        out.push_str(&format!("Scale({N})"));
    }
    fn forward<P: Params + ?Sized>(
        p: &P,
        off: usize,
        x: &[f32; N],
        y: &mut [f32; N],
        _s: &mut (),
        _ctx: &mut Ctx,
    ) {
        *y = std::array::from_fn(|k| p.get(off + k) * x[k]);
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
        *dx = std::array::from_fn(|k| p.get(off + k) * dy[k]);
        let g: [f32; N] = std::array::from_fn(|k| x[k] * dy[k]);
        p.step(off, &g);
    }
}

type M = network![Sparse<64> => Linear<8> => ReLU => Scale<4> => Linear<1>];

fn main() {
    let net = M::new(Init::zeros());
    let _ = net.params();
}
