//! A network: an input layer, a stack of dense layers, and their weights.
//!
//! `network!` expands to a [`Net`] type; its layers are types, so the whole forward and
//! backward pass is monomorphised for the exact widths, and a prediction is `[f32; OUT]`.

use crate::features::FeatureError;
use crate::init::Init;
use crate::layers::{Block, Buf, Ctx, InputFeed, InputLayer, Layer, RowInputs, Zeroed};
use crate::optim::TrainState;
use crate::params::{Learn, Params};
use crate::rng::Rng;
use crate::weights::Weights;
use std::marker::PhantomData;

/// The dense stack after the input layer, as a list: `Seq<L1, Seq<L2, End<N>>>`.
pub trait Stack: 'static {
    /// The stack's input.
    type In: Buf;
    /// The stack's output: the network's prediction.
    type Out: Buf;
    /// Every layer's output and scratch, kept from forward to backward.
    type Acts: Zeroed;
    /// The number of parameters of all its layers.
    const PARAMS: usize;
    /// The number of its layers: 0 for a linear model, whose output is the input layer's.
    const LAYERS: usize;

    /// Appends the layers' descriptions.
    fn describe(out: &mut String);
    /// Appends the weight blocks of its layers, starting at `off`; `layer` is the index
    /// of its first layer with weights.
    fn blocks(off: usize, layer: usize, v: &mut Vec<Block>);
    /// Initialises the parameters `w` of all its layers.
    fn init(w: &mut [f32], init: &Init, rng: &mut Rng);
    /// Runs every layer.
    fn forward<P: Params + ?Sized>(
        p: &P,
        off: usize,
        x: &Self::In,
        a: &mut Self::Acts,
        ctx: &mut Ctx,
    );
    /// The last layer's output after `forward`.
    fn output<'a>(x: &'a Self::In, a: &'a Self::Acts) -> &'a Self::Out;
    /// Back-propagates `dy` down to `dx`, handing each layer's gradient to `p`.
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        x: &Self::In,
        a: &Self::Acts,
        dy: &Self::Out,
        dx: &mut Self::In,
    );
}

/// A layer followed by the rest of the stack.
pub struct Seq<A, B>(PhantomData<(A, B)>);

/// The end of a stack of width `N`.
pub struct End<const N: usize>;

impl<const N: usize> Stack for End<N> {
    type In = [f32; N];
    type Out = [f32; N];
    type Acts = ();
    const PARAMS: usize = 0;
    const LAYERS: usize = 0;

    fn describe(_out: &mut String) {}
    fn blocks(_off: usize, _layer: usize, _v: &mut Vec<Block>) {}
    fn init(_w: &mut [f32], _init: &Init, _rng: &mut Rng) {}
    #[inline(always)]
    fn forward<P: Params + ?Sized>(
        _p: &P,
        _off: usize,
        _x: &[f32; N],
        _a: &mut (),
        _ctx: &mut Ctx,
    ) {
    }
    #[inline(always)]
    fn output<'a>(x: &'a [f32; N], _a: &'a ()) -> &'a [f32; N] {
        x
    }
    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        _p: &mut L,
        _off: usize,
        _x: &[f32; N],
        _a: &(),
        dy: &[f32; N],
        dx: &mut [f32; N],
    ) {
        *dx = *dy;
    }
}

impl<A: Layer, B: Stack<In = A::Out>> Stack for Seq<A, B> {
    type In = A::In;
    type Out = B::Out;
    type Acts = (A::Out, A::Scratch, B::Acts);
    const PARAMS: usize = A::PARAMS + B::PARAMS;
    const LAYERS: usize = 1 + B::LAYERS;

    fn describe(out: &mut String) {
        out.push_str(" => ");
        A::describe(out);
        B::describe(out);
    }

    fn blocks(off: usize, layer: usize, v: &mut Vec<Block>) {
        let next = if A::WEIGHTS > 0 {
            v.push(Block {
                layer,
                offset: off,
                len: A::WEIGHTS,
                row: None,
            });
            layer + 1
        } else {
            layer
        };
        B::blocks(off + A::PARAMS, next, v);
    }

    fn init(w: &mut [f32], init: &Init, rng: &mut Rng) {
        let (mine, rest) = w.split_at_mut(A::PARAMS);
        A::init(mine, init, rng);
        B::init(rest, init, rng);
    }

    #[inline(always)]
    fn forward<P: Params + ?Sized>(
        p: &P,
        off: usize,
        x: &A::In,
        a: &mut Self::Acts,
        ctx: &mut Ctx,
    ) {
        A::forward(p, off, x, &mut a.0, &mut a.1, ctx);
        B::forward(p, off + A::PARAMS, &a.0, &mut a.2, ctx);
    }

    #[inline(always)]
    fn output<'a>(_x: &'a A::In, a: &'a Self::Acts) -> &'a B::Out {
        B::output(&a.0, &a.2)
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        x: &A::In,
        a: &Self::Acts,
        dy: &B::Out,
        dx: &mut A::In,
    ) {
        let mut mid = A::Out::zeroed();
        B::backward(p, off + A::PARAMS, &a.0, &a.2, dy, &mut mid);
        A::backward(p, off, x, &a.0, &a.1, &mid, dx);
    }
}

/// A network with input layer `I` and dense stack `S`, and its parameters.
///
/// Build the type with `network!`:
///
/// ```
/// use vectorflow::prelude::*;
///
/// #[derive(Features)]
/// struct Row<'a> {
///     #[label]
///     clicked: bool,
///     #[hash]
///     site: &'a str,
///     #[value]
///     price: f32,
/// }
///
/// type Model = network![Sparse<{ 1 << 16 }> => Linear<8> => ReLU => Linear<1>];
/// let net = Model::new(Init::uniform(0.1).seed(7));
/// let out: [f32; 1] = net.predict(&Row { clicked: true, site: "a.com", price: 2.5 }).unwrap();
/// assert!(out[0].is_finite());
/// ```
pub struct Net<I, S> {
    params: Weights,
    state: Option<TrainState>,
    /// The initialisation the weights were drawn with, when known: model files store
    /// sparse tables as the rows that differ from these draws.
    init: Option<Init>,
    _layers: PhantomData<fn() -> (I, S)>,
}

impl<I, S> Clone for Net<I, S> {
    fn clone(&self) -> Self {
        Net {
            params: self.params.clone(),
            state: self.state.clone(),
            init: self.init,
            _layers: PhantomData,
        }
    }
}

impl<I, S> Net<I, S> {
    /// The state training continues from, if the net has been trained (or was loaded
    /// with one).
    pub fn train_state(&self) -> Option<&TrainState> {
        self.state.as_ref()
    }

    /// Drops the training state, keeping the weights: the next `fit` starts its
    /// optimizer afresh, and [`Net::save`] writes the weights alone.
    pub fn clear_train_state(&mut self) {
        self.state = None;
        self.params.strip();
    }

    /// The optimizer's state planes, flat like the weights (a copy):
    /// `state_planes()[j][i]` is state `j` of weight `i`. None without a training state.
    pub fn state_planes(&self) -> Vec<Vec<f32>> {
        self.state.as_ref().map_or(Vec::new(), |s| {
            s.rest_planes()
                .enumerate()
                .map(|(j, rest)| self.params.flat_plane(j, rest))
                .collect()
        })
    }

    /// The parameters and the training state, borrowed together (for the trainer).
    pub(crate) fn parts_mut(&mut self) -> (&mut Weights, &mut Option<TrainState>) {
        (&mut self.params, &mut self.state)
    }

    /// The initialisation the weights were drawn with, when known (see
    /// [`crate::file`]).
    pub(crate) fn init(&self) -> Option<&Init> {
        self.init.as_ref()
    }
}

impl<I: InputLayer, S: Stack<In = I::Out>> Net<I, S> {
    /// The number of parameters.
    pub const PARAMS: usize = I::PARAMS + S::PARAMS;

    /// A network with freshly initialised weights (biases start at zero).
    pub fn new(init: Init) -> Self {
        let mut params = vec![0.0f32; Self::PARAMS];
        let mut rng = Rng::new(init.seed);
        let (input, stack) = params.split_at_mut(I::PARAMS);
        I::init(input, &init, &mut rng);
        S::init(stack, &init, &mut rng);
        Net::from_weights(Weights::new(params, &Self::blocks()), None, Some(init))
    }

    /// A network with the given parameters (flat: input layer first, then each layer of
    /// the stack), or `None` if their count is not [`Self::PARAMS`].
    pub fn from_params(params: Vec<f32>) -> Option<Self> {
        (params.len() == Self::PARAMS)
            .then(|| Net::from_weights(Weights::new(params, &Self::blocks()), None, None))
    }

    /// A net of the weights `params` and the training state `state`, whose sparse
    /// tables' state `params` holds.
    pub(crate) fn from_weights(
        params: Weights,
        state: Option<TrainState>,
        init: Option<Init>,
    ) -> Self {
        Net {
            params,
            state,
            init,
            _layers: PhantomData,
        }
    }

    /// The weights, in the flat order (input layer first, then each layer of the stack).
    pub fn params(&self) -> &Weights {
        &self.params
    }

    /// The weights, mutably.
    pub fn params_mut(&mut self) -> &mut Weights {
        &mut self.params
    }

    /// The weight blocks of every layer (biases excluded): what priors apply to.
    pub fn blocks() -> Vec<Block> {
        let mut v = Vec::new();
        I::blocks(&mut v);
        S::blocks(I::PARAMS, 1, &mut v);
        v
    }

    /// A one-line description of the topology, e.g.
    /// `Sparse(65536) => Linear(65536->8) => ReLU => Linear(8->1)`: each layer's
    /// [`Layer::describe`], a user layer's too. Model files store it, and refuse to load
    /// into a net whose topology differs.
    pub fn topology() -> String {
        let mut s = String::new();
        I::describe(&mut s);
        S::describe(&mut s);
        s
    }

    /// The network's output for `row`, or the field whose value is not finite.
    pub fn predict<R>(&self, row: &R) -> Result<S::Out, FeatureError>
    where
        I: InputFeed<R>,
    {
        thread_local! {
            static INPUTS: std::cell::RefCell<RowInputs> = Default::default();
        }
        INPUTS.with(|c| {
            let mut ws = Workspace::<I, S> {
                inputs: std::mem::take(&mut *c.borrow_mut()),
                ..Workspace::predict()
            };
            let out = Self::forward(&self.params, &mut ws, row).copied();
            *c.borrow_mut() = ws.inputs;
            out
        })
    }

    /// The forward pass over the parameters `p`, leaving every activation in `ws`.
    #[inline]
    pub fn forward<'w, R, P: Params + ?Sized>(
        p: &P,
        ws: &'w mut Workspace<I, S>,
        row: &R,
    ) -> Result<&'w S::Out, FeatureError>
    where
        I: InputFeed<R>,
    {
        Self::load_row(ws, row)?;
        Ok(Self::forward_loaded(p, ws))
    }

    /// Reads (and hashes) the row's inputs into the workspace: the first half of
    /// [`Net::forward`], so a trainer can act on the row's features before computing.
    #[inline]
    pub fn load_row<R>(ws: &mut Workspace<I, S>, row: &R) -> Result<(), FeatureError>
    where
        I: InputFeed<R>,
    {
        I::load(row, &mut ws.inputs)
    }

    /// The second half of [`Net::forward`]: computes every layer from the inputs that
    /// [`Net::load_row`] read.
    #[inline(always)]
    pub fn forward_loaded<'w, P: Params + ?Sized>(
        p: &P,
        ws: &'w mut Workspace<I, S>,
    ) -> &'w S::Out {
        I::compute(p, &ws.inputs, &mut ws.x);
        S::forward(p, I::PARAMS, &ws.x, &mut ws.acts, &mut ws.ctx);
        S::output(&ws.x, &ws.acts)
    }

    /// The output of the last forward pass on `ws`.
    #[inline(always)]
    pub(crate) fn output(ws: &Workspace<I, S>) -> &S::Out {
        S::output(&ws.x, &ws.acts)
    }

    /// The backward pass after [`Net::forward`] on the same workspace: back-propagates
    /// `dy`, the gradient of the loss with respect to the output, and hands every
    /// parameter's gradient to `p`.
    #[inline(always)]
    pub fn backward<L: Learn + ?Sized>(p: &mut L, ws: &Workspace<I, S>, dy: &S::Out) {
        let mut dx = I::Out::zeroed();
        S::backward(p, I::PARAMS, &ws.x, &ws.acts, dy, &mut dx);
        I::backward(p, &ws.inputs, &dx);
    }

    /// The dense stack's half of [`Net::backward`]: back-propagates `dy` through every
    /// layer after the input layer, handing their parameters' gradients to `p`, and
    /// returns the gradient with respect to the input layer's output. Audits
    /// ([`crate::explain`]) derive each input feature's gradient from it.
    pub fn backward_stack<L: Learn + ?Sized>(
        p: &mut L,
        ws: &Workspace<I, S>,
        dy: &S::Out,
    ) -> I::Out {
        let mut dx = I::Out::zeroed();
        S::backward(p, I::PARAMS, &ws.x, &ws.acts, dy, &mut dx);
        dx
    }
}

/// One thread's activations, row inputs and random stream.
pub struct Workspace<I: InputLayer, S: Stack> {
    x: I::Out,
    acts: S::Acts,
    inputs: RowInputs,
    /// Training or prediction mode, and the dropout stream.
    pub ctx: Ctx,
}

impl<I: InputLayer, S: Stack> Workspace<I, S> {
    /// A workspace for prediction (dropout off).
    pub fn predict() -> Self {
        Self::with_ctx(Ctx::predict())
    }
    /// A workspace for training, its dropout masks drawn from `seed`.
    pub fn train(seed: u64) -> Self {
        Self::with_ctx(Ctx::train(seed))
    }
    fn with_ctx(ctx: Ctx) -> Self {
        Workspace {
            x: I::Out::zeroed(),
            acts: S::Acts::zeroed(),
            inputs: RowInputs::default(),
            ctx,
        }
    }
    /// The inputs of the row of the last forward pass.
    pub fn inputs(&self) -> &RowInputs {
        &self.inputs
    }
    /// The row inputs, to fill with inputs read earlier (see
    /// [`Net::forward_loaded`]).
    pub fn inputs_mut(&mut self) -> &mut RowInputs {
        &mut self.inputs
    }
}
