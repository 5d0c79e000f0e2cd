//! A spec's layers laid out in the flat buffer, and the seam ([`Trainable`]) the trainer
//! drives them through.
//!
//! Every layer runs the typed layer's own code, written once over [`Dim`]s. At the
//! widths the `network!` nets commonly use (a sparse input's width, [`with_width!`]; a
//! `Linear`'s pair of widths, [`with_pair!`]) the widths are turned into consts, so the
//! kernels (and the weights a seed trains) are the typed net's, bit for bit; other
//! widths run as `usize`, through the kernels' plain loops.

use super::spec::{ActFn, LayerSpec, Spec};
use super::DynRow;
use crate::features::{group_id, FeatureError};
use crate::init::Init;
use crate::layers::dim::{Const, Dim};
use crate::layers::input::{
    dense_backward, dense_compute, init_input, sparse_backward, sparse_compute, start, step_bias,
    RootLayout,
};
use crate::layers::{activation, dropout, linear, Block, Ctx, RowInputs};
use crate::layers::{ReLU, SeLU, Sigmoid, TanH};
use crate::params::{Learn, Params};
use crate::rng::Rng;
use crate::trainable::{LoadRow, Trainable};
use std::cell::RefCell;

/// Runs `$body` with `$N` a const equal to `$n` when `$n` is a width the input layer
/// commonly has (the powers of two up to 64), else `$other`.
macro_rules! with_width {
    ($n:expr, $N:ident => $body:expr, _ => $other:expr) => {
        with_width!(@arms $n, $N, $body, $other, [1, 2, 4, 8, 16, 32, 64])
    };
    (@arms $n:expr, $N:ident, $body:expr, $other:expr, [$($w:literal),*]) => {
        match $n {
            $($w => {
                const $N: usize = $w;
                $body
            })*
            _ => $other,
        }
    };
}

/// Runs `$body` with `$I`, `$O` consts equal to a `Linear`'s widths `$pair` when the
/// pair is one the `network!` nets commonly have (a hidden layer into one output, a
/// square or halving hidden layer), else `$other`. Each pair compiles the layer for
/// every optimizer, store and CPU level, so the list is short: every pair of the widths
/// above took a release build over an hour.
macro_rules! with_pair {
    ($pair:expr, ($I:ident, $O:ident) => $body:expr, _ => $other:expr) => {
        with_pair!(@arms $pair, $I, $O, $body, $other,
            [(2, 1), (4, 1), (8, 1), (16, 1), (32, 1), (64, 1),
             (16, 16), (32, 32), (16, 8), (32, 16), (64, 32), (8, 4), (32, 4)])
    };
    (@arms $pair:expr, $I:ident, $O:ident, $body:expr, $other:expr,
        [$(($i:literal, $o:literal)),*]) => {
        match $pair {
            $(($i, $o) => {
                const $I: usize = $i;
                const $O: usize = $o;
                $body
            })*
            _ => $other,
        }
    };
}

/// A layer of the stack, where its parameters are.
#[derive(Clone, Debug)]
pub(crate) struct Op {
    pub spec: LayerSpec,
    /// Its first parameter.
    pub off: usize,
    /// Its input and output widths.
    pub inp: usize,
    pub out: usize,
}

impl Op {
    /// Its number of parameters and of weights (the rest are biases).
    fn params(&self) -> (usize, usize) {
        match self.spec {
            LayerSpec::Linear { inp, out, bias } => {
                (inp * out + if bias { out } else { 0 }, inp * out)
            }
            _ => (0, 0),
        }
    }
}

/// A spec laid out: every layer's offset and widths.
#[derive(Clone, Debug)]
pub(crate) struct Shape {
    pub spec: Spec,
    /// Each root's weights (and group).
    pub roots: Vec<RootLayout>,
    /// The input layer's width and its biases' offset.
    pub width: usize,
    pub bias: Option<usize>,
    pub input_params: usize,
    pub ops: Vec<Op>,
    pub params: usize,
    /// The widest activation: the backward pass's scratch.
    pub widest: usize,
}

impl Shape {
    /// The layout of `spec` (whose widths chain: [`Spec::parse`] checks them).
    pub fn new(spec: Spec) -> Shape {
        let mut off = 0;
        let roots = spec
            .roots
            .iter()
            .map(|r| {
                let l = RootLayout {
                    group: group_id(&r.name),
                    sparse: r.sparse,
                    width: r.width,
                    offset: off,
                };
                off += r.width * spec.width;
                l
            })
            .collect();
        let bias = spec.bias.then_some(off);
        off += if spec.bias { spec.width } else { 0 };
        let input_params = off;
        let (mut ops, mut prev, mut widest) = (Vec::new(), spec.width, spec.width);
        for &l in &spec.layers {
            let out = match l {
                LayerSpec::Linear { out, .. } => out,
                _ => prev,
            };
            let op = Op {
                spec: l,
                off,
                inp: prev,
                out,
            };
            off += op.params().0;
            ops.push(op);
            widest = widest.max(out);
            prev = out;
        }
        Shape {
            width: spec.width,
            spec,
            roots,
            bias,
            input_params,
            ops,
            params: off,
            widest,
        }
    }

    /// The output width.
    pub fn outputs(&self) -> usize {
        self.ops.last().map_or(self.width, |o| o.out)
    }

    /// Draws the weights `w` of every layer from `init`, in the typed net's order.
    pub fn init(&self, w: &mut [f32], init: &Init) {
        let mut rng = Rng::new(init.seed);
        self.init_input(&mut w[..self.input_params], init, &mut rng);
        for op in &self.ops {
            if let LayerSpec::Linear { inp, out, .. } = op.spec {
                let n = op.params().0;
                crate::layers::linear::init_linear(
                    &mut w[op.off..op.off + n],
                    inp,
                    out,
                    init,
                    &mut rng,
                );
            }
        }
    }

    /// Draws the input layer's weights.
    pub fn init_input(&self, w: &mut [f32], init: &Init, rng: &mut Rng) {
        init_input(w, &self.roots, self.width, init, rng)
    }

    /// The weight blocks, as the typed net of this shape has them.
    pub fn blocks(&self) -> Vec<Block> {
        let mut v: Vec<Block> = self
            .roots
            .iter()
            .map(|r| Block {
                layer: 0,
                offset: r.offset,
                len: r.width * self.width,
                row: r.sparse.then_some(self.width),
            })
            .collect();
        let mut layer = 1;
        for op in &self.ops {
            let weights = op.params().1;
            if weights > 0 {
                v.push(Block {
                    layer,
                    offset: op.off,
                    len: weights,
                    row: None,
                });
                layer += 1;
            }
        }
        v
    }

    /// The input layer's output from the loaded `inputs`.
    #[inline(always)]
    fn input_forward<P: Params + ?Sized>(&self, p: &P, inputs: &RowInputs, y: &mut [f32]) {
        with_width!(self.width, O => self.input_at(p, Const::<O>, inputs, y),
            _ => self.input_at(p, self.width, inputs, y))
    }

    /// [`crate::layers::Input`]'s compute, with the roots listed at run time.
    #[inline(always)]
    pub(super) fn input_at<P: Params + ?Sized, O: Dim>(
        &self,
        p: &P,
        out: O,
        inputs: &RowInputs,
        y: &mut [f32],
    ) {
        start(p, out, self.bias, y);
        let mut cursor = [0; 3];
        for r in &self.roots {
            if r.sparse {
                sparse_compute(p, out, r.offset, inputs, &mut cursor, y);
            } else {
                dense_compute(p, r.width, out, r.offset, inputs, &mut cursor, y)
            }
        }
    }

    /// The input layer's backward pass.
    #[inline(always)]
    fn input_backward<L: Learn + ?Sized>(&self, l: &mut L, inputs: &RowInputs, dy: &[f32]) {
        with_width!(self.width, O => self.input_back_at(l, Const::<O>, inputs, dy),
            _ => self.input_back_at(l, self.width, inputs, dy))
    }

    /// [`crate::layers::Input`]'s backward pass, with the roots listed at run time.
    #[inline(always)]
    pub(super) fn input_back_at<L: Learn + ?Sized, O: Dim>(
        &self,
        l: &mut L,
        out: O,
        inputs: &RowInputs,
        dy: &[f32],
    ) {
        let mut cursor = [0; 3];
        for r in &self.roots {
            if r.sparse {
                sparse_backward(l, out, r.offset, inputs, &mut cursor, dy);
            } else {
                dense_backward(l, r.width, out, r.offset, inputs, &mut cursor, dy)
            }
        }
        step_bias(l, out, self.bias, dy);
    }
}

/// One layer's forward pass: the typed layer's, at a common width.
#[inline(always)]
fn forward<P: Params + ?Sized>(
    p: &P,
    op: &Op,
    x: &[f32],
    y: &mut [f32],
    mask: &mut [f32],
    ctx: &mut Ctx,
) {
    match op.spec {
        LayerSpec::Linear { bias, .. } => with_pair!((op.inp, op.out), (I, O) =>
            linear::forward(p, op.off, Const::<I>, Const::<O>, bias, x, y),
            _ => linear::forward(p, op.off, op.inp, op.out, bias, x, y)),
        LayerSpec::Act(f) => match f {
            ActFn::ReLU => activation::forward::<ReLU>(x, y),
            ActFn::TanH => activation::forward::<TanH>(x, y),
            ActFn::Sigmoid => activation::forward::<Sigmoid>(x, y),
            ActFn::SeLU => activation::forward::<SeLU>(x, y),
        },
        LayerSpec::Dropout { ppm } => dropout::forward(dropout::rate(ppm), x, y, mask, ctx),
    }
}

/// One layer's backward pass: the typed layer's, at a common width.
#[inline(always)]
fn backward<L: Learn + ?Sized>(
    l: &mut L,
    op: &Op,
    x: &[f32],
    y: &[f32],
    mask: &[f32],
    dy: &[f32],
    dx: &mut [f32],
) {
    match op.spec {
        LayerSpec::Linear { bias, .. } => with_pair!((op.inp, op.out), (I, O) =>
            linear::backward(l, op.off, Const::<I>, Const::<O>, bias, x, dy, dx),
            _ => linear::backward(l, op.off, op.inp, op.out, bias, x, dy, dx)),
        LayerSpec::Act(f) => match f {
            ActFn::ReLU => activation::backward::<ReLU>(x, y, dy, dx),
            ActFn::TanH => activation::backward::<TanH>(x, y, dy, dx),
            ActFn::Sigmoid => activation::backward::<Sigmoid>(x, y, dy, dx),
            ActFn::SeLU => activation::backward::<SeLU>(x, y, dy, dx),
        },
        LayerSpec::Dropout { .. } => dropout::backward(mask, dy, dx),
    }
}

/// One thread's buffers for a net built at run time.
pub(crate) struct DynWorkspace {
    pub(super) inputs: RowInputs,
    /// The input layer's output.
    pub(super) x: Vec<f32>,
    /// Each layer's output, and its dropout mask (empty for other layers).
    acts: Vec<Vec<f32>>,
    masks: Vec<Vec<f32>>,
    pub(super) dy: Vec<f32>,
    /// The input layer's output of a prefetch, never read.
    pub(super) ahead: Vec<f32>,
    ctx: Ctx,
    /// Two gradients of the widest activation, for the backward pass to pass down
    /// (behind a `RefCell`: backward sees the workspace as shared).
    grads: RefCell<[Vec<f32>; 2]>,
}

impl Trainable for Shape {
    type Workspace = DynWorkspace;
    type Out = [f32];

    fn workspace(&self, seed: Option<u64>) -> DynWorkspace {
        DynWorkspace {
            inputs: RowInputs::default(),
            x: vec![0.0; self.width],
            acts: self.ops.iter().map(|o| vec![0.0; o.out]).collect(),
            masks: self
                .ops
                .iter()
                .map(|o| match o.spec {
                    LayerSpec::Dropout { .. } => vec![0.0; o.out],
                    _ => Vec::new(),
                })
                .collect(),
            dy: vec![0.0; self.outputs()],
            ahead: vec![0.0; self.width],
            ctx: seed.map_or_else(Ctx::predict, Ctx::train),
            grads: RefCell::new([vec![0.0; self.widest], vec![0.0; self.widest]]),
        }
    }

    fn blocks(&self) -> Vec<Block> {
        Shape::blocks(self)
    }

    #[inline(always)]
    fn inputs<'w>(&self, ws: &'w mut DynWorkspace) -> &'w mut RowInputs {
        &mut ws.inputs
    }

    #[inline(always)]
    fn loaded<'w>(&self, ws: &'w DynWorkspace) -> &'w RowInputs {
        &ws.inputs
    }

    #[inline(always)]
    fn prefetch<P: Params + ?Sized>(&self, p: &P, ws: &mut DynWorkspace, inputs: &RowInputs) {
        self.input_forward(p, inputs, &mut ws.ahead);
    }

    #[inline(always)]
    fn forward<P: Params + ?Sized>(&self, p: &P, ws: &mut DynWorkspace) {
        self.input_forward(p, &ws.inputs, &mut ws.x);
        for (i, op) in self.ops.iter().enumerate() {
            let (done, rest) = ws.acts.split_at_mut(i);
            let x = done.last().unwrap_or(&ws.x);
            forward(p, op, x, &mut rest[0], &mut ws.masks[i], &mut ws.ctx);
        }
    }

    #[inline(always)]
    fn output<'w>(&self, ws: &'w mut DynWorkspace) -> (&'w [f32], &'w mut [f32]) {
        (ws.acts.last().unwrap_or(&ws.x), &mut ws.dy)
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(&self, l: &mut L, ws: &DynWorkspace) {
        let mut grads = ws.grads.borrow_mut();
        let dy = self.backward_layers(l, ws, &mut grads);
        self.input_backward(l, &ws.inputs, dy);
    }
}

impl Shape {
    /// The backward pass of the layers after the input layer, from the output gradient
    /// in `ws`, through the buffers `grads`: the gradient of the input layer's output.
    #[inline(always)]
    fn backward_layers<'g, L: Learn + ?Sized>(
        &self,
        l: &mut L,
        ws: &'g DynWorkspace,
        grads: &'g mut [Vec<f32>; 2],
    ) -> &'g [f32] {
        if self.ops.is_empty() {
            return &ws.dy;
        }
        let [a, b] = grads;
        let (mut cur, mut next) = (a, b);
        let mut width = 0;
        for (i, op) in self.ops.iter().enumerate().rev() {
            let dy: &[f32] = if width == 0 { &ws.dy } else { &cur[..width] };
            let x = if i == 0 { &ws.x } else { &ws.acts[i - 1] };
            backward(l, op, x, &ws.acts[i], &ws.masks[i], dy, &mut next[..op.inp]);
            std::mem::swap(&mut cur, &mut next);
            width = op.inp;
        }
        &cur[..width]
    }

    /// The outputs for `row` under weights `frozen`, and each output's gradient with
    /// respect to the input layer's output (`outputs × width`, row-major), for audits:
    /// `frozen` must ignore the hidden layers' steps.
    pub(crate) fn jacobian<R: DynRow, L: Learn>(
        &self,
        frozen: &mut L,
        row: &R,
    ) -> Result<(Vec<f32>, Vec<f32>), FeatureError> {
        let mut ws = self.workspace(None);
        self.load(row, &mut ws.inputs)?;
        self.forward(frozen, &mut ws);
        let output = self.output(&mut ws).0.to_vec();
        let mut jacobian = Vec::with_capacity(output.len() * self.width);
        let mut grads = [vec![0.0; self.widest], vec![0.0; self.widest]];
        for o in 0..output.len() {
            ws.dy.fill(0.0);
            ws.dy[o] = 1.0;
            jacobian.extend_from_slice(self.backward_layers(frozen, &ws, &mut grads));
        }
        Ok((output, jacobian))
    }
}

impl<R: DynRow> LoadRow<R> for Shape {
    #[inline]
    fn load(&self, row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        inputs.clear();
        for (r, spec) in self.roots.iter().zip(&self.spec.roots) {
            if r.sparse {
                // A local vector keeps its length in a register while the row is visited.
                let mut sparse = std::mem::take(&mut inputs.sparse);
                let start = sparse.len();
                let visited = row.sparse(&spec.name, r.width, &mut sparse);
                inputs.counts.push(sparse.len() - start);
                inputs.sparse = sparse;
                visited?;
            } else {
                let start = inputs.dense.len();
                inputs.dense.resize(start + r.width, 0.0);
                row.dense(&spec.name, &mut inputs.dense[start..])?;
            }
        }
        Ok(())
    }

    fn why_refused(&self, row: &R) -> Option<String> {
        self.roots
            .iter()
            .zip(&self.spec.roots)
            .filter(|(r, _)| r.sparse)
            .find_map(|(r, s)| row.why_refused(&s.name, r.width))
    }
}

impl crate::file::Layout for Shape {
    fn topology(&self) -> String {
        self.spec.topology()
    }
    fn param_count(&self) -> usize {
        self.params
    }
    fn blocks(&self) -> Vec<Block> {
        Shape::blocks(self)
    }
    fn input_params(&self) -> usize {
        self.input_params
    }
    fn initial_input(&self, init: &Init, w: &mut [f32]) {
        self.init_input(w, init, &mut Rng::new(init.seed));
    }
}
