//! The input layer: the first `Linear<OUT>` over one or more roots (`Sparse<DIM>`,
//! `Dense<N>`), whose inputs are concatenated.
//!
//! A sparse root keeps one contiguous row of `OUT` weights per feature, so a row costs
//! one gather of `nnz` rows forward and one step per row backward: O(nnz · OUT), never
//! O(DIM). A dense root keeps an `OUT × N` matrix. The bias follows the roots.

use super::dim::{Const, Dim};
use super::Block;
use crate::features::{DenseGroup, FeatureError, SparseGroup};
use crate::init::Init;
use crate::params::{Learn, Params};
use crate::rng::Rng;
use std::marker::PhantomData;

/// A hashed sparse input of `DIM` slots, fed by the row's feature group `G`.
pub struct Sparse<const DIM: usize, const G: u64>;

/// A dense input of width `N`, fed by the row's feature group `G`.
pub struct Dense<const N: usize, const G: u64>;

/// One row's inputs as the input layer reads them: the per-thread copy filled by
/// forward (or by a trainer that read the row ahead) and read by backward, so features
/// are visited (and hashed) once per row. Its vectors are reused: after the first rows
/// no pass allocates.
#[derive(Clone, Debug, Default)]
pub struct RowInputs {
    /// `(slot, value)` of every sparse root, root after root; slots are reduced modulo
    /// the root's dimension.
    pub sparse: Vec<(u32, f32)>,
    /// The values of every dense root, root after root.
    pub dense: Vec<f32>,
    /// The number of sparse pairs of each sparse root, in root order.
    pub counts: Vec<usize>,
}

impl RowInputs {
    /// Empties it, keeping its capacity.
    pub fn clear(&mut self) {
        self.sparse.clear();
        self.dense.clear();
        self.counts.clear();
    }
}

/// One input of a network.
pub trait Root: 'static {
    /// Its width in the concatenated input.
    const WIDTH: usize;
    /// Whether it is sparse (its weights are rows touched only by rows with the feature).
    const SPARSE: bool;
    /// The feature group it reads ([`crate::features::group_id`] of its name).
    const GROUP: u64;
    /// Appends its description.
    fn describe(out: &mut String);
}

/// The largest `Sparse` dimension: feature ids are `u32`, so 2^32 slots hold every id
/// (a larger table would only hold weights no id reaches).
pub const MAX_SPARSE_DIM: usize = (u32::MAX as usize).saturating_add(1);

/// Fails to evaluate when `DIM` exceeds [`MAX_SPARSE_DIM`]: `network!` calls it in a
/// constant for each `Sparse` width it cannot evaluate itself (a named const), so the
/// error points at that width. (It rejects literal widths itself.)
#[doc(hidden)]
pub const fn check_sparse_dim<const DIM: usize>() {
    assert!(
        DIM <= MAX_SPARSE_DIM,
        "a `Sparse` input has at most 2^32 slots, one per feature id (ids are u32)"
    );
}

impl<const DIM: usize, const G: u64> Root for Sparse<DIM, G> {
    const WIDTH: usize = DIM;
    const SPARSE: bool = true;
    const GROUP: u64 = G;
    fn describe(out: &mut String) {
        out.push_str(&format!("Sparse({DIM})"));
    }
}

impl<const N: usize, const G: u64> Root for Dense<N, G> {
    const WIDTH: usize = N;
    const SPARSE: bool = false;
    const GROUP: u64 = G;
    fn describe(out: &mut String) {
        out.push_str(&format!("Dense({N})"));
    }
}

/// A root that can read rows of type `R` into an `OUT`-wide first layer.
pub trait RootFeed<R, const OUT: usize>: RootCompute<OUT> {
    /// Appends this root's inputs of `row` to `inputs`.
    fn load(row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError>;

    /// Why `load` refused `row` with [`FeatureError::ID_BEYOND_INPUT`], in words (see
    /// [`SparseGroup::why_refused`]).
    fn why_refused(row: &R) -> Option<String> {
        let _ = row;
        None
    }
}

/// What a root computes from the inputs in an [`RowInputs`], whatever row they came
/// from.
pub trait RootCompute<const OUT: usize>: Root {
    /// Adds this root's contribution to `y` from `inputs`, advancing the cursors
    /// `(sparse, dense, count)`.
    fn compute<P: Params + ?Sized>(
        p: &P,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        y: &mut [f32; OUT],
    );

    /// Hands the gradient of this root's weights to `p`, advancing the cursors
    /// `(sparse, dense, count)` into `inputs`.
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        dy: &[f32; OUT],
    );
}

/// Hands `scale · dy` for the row at `off` to `p`: the whole row, or only the outputs
/// with a gradient when few have one.
#[inline(always)]
pub(crate) fn step_row<L: Learn + ?Sized, O: Dim>(
    p: &mut L,
    out: O,
    off: usize,
    scale: f32,
    dy: &[f32],
    dense: bool,
) {
    let dy = &dy[..out.size()];
    if dense {
        let mut g = out.zeros();
        for (g, d) in g.as_mut().iter_mut().zip(dy) {
            *g = scale * d;
        }
        p.step(off, g.as_ref());
    } else {
        for (k, &d) in dy.iter().enumerate() {
            if d != 0.0 {
                p.step(off + k, &[scale * d]);
            }
        }
    }
}

/// Whether `dy` has enough non-zeros to update whole rows.
#[inline(always)]
pub(crate) fn is_dense(dy: &[f32]) -> bool {
    dy.len() <= 4 || dy.iter().filter(|d| **d != 0.0).count() * 4 >= dy.len()
}

impl<R: SparseGroup<G>, const DIM: usize, const G: u64, const OUT: usize> RootFeed<R, OUT>
    for Sparse<DIM, G>
{
    #[inline]
    fn load(row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        // A local vector keeps its length in a register while the row is visited.
        let mut sparse = std::mem::take(&mut inputs.sparse);
        let start = sparse.len();
        let visited = row.extend_pairs(DIM, &mut sparse);
        inputs.counts.push(sparse.len() - start);
        inputs.sparse = sparse;
        visited
    }

    fn why_refused(row: &R) -> Option<String> {
        row.why_refused(DIM)
    }
}

impl<const DIM: usize, const G: u64, const OUT: usize> RootCompute<OUT> for Sparse<DIM, G> {
    #[inline(always)]
    fn compute<P: Params + ?Sized>(
        p: &P,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        y: &mut [f32; OUT],
    ) {
        sparse_compute(p, Const::<OUT>, off, inputs, cursor, y)
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        dy: &[f32; OUT],
    ) {
        sparse_backward(p, Const::<OUT>, off, inputs, cursor, dy)
    }
}

/// A sparse root's [`RootCompute::compute`] into `out` outputs, whatever its `DIM`
/// (which only loading reads): for a net of run-time widths too.
#[inline(always)]
pub(crate) fn sparse_compute<P: Params + ?Sized, O: Dim>(
    p: &P,
    out: O,
    off: usize,
    inputs: &RowInputs,
    cursor: &mut [usize; 3],
    y: &mut [f32],
) {
    let n = inputs.counts[cursor[2]];
    let pairs = &inputs.sparse[cursor[0]..cursor[0] + n];
    out.prefetch_rows(p, off, pairs);
    out.gather(p, off, pairs, y);
    cursor[0] += n;
    cursor[2] += 1;
}

/// A sparse root's [`RootCompute::backward`], whatever its `DIM`.
#[inline(always)]
pub(crate) fn sparse_backward<L: Learn + ?Sized, O: Dim>(
    p: &mut L,
    out: O,
    off: usize,
    inputs: &RowInputs,
    cursor: &mut [usize; 3],
    dy: &[f32],
) {
    let n = inputs.counts[cursor[2]];
    let pairs = &inputs.sparse[cursor[0]..cursor[0] + n];
    cursor[0] += n;
    cursor[2] += 1;
    if is_dense(dy) {
        out.step_rows(p, off, pairs, dy);
    } else {
        for &(i, v) in pairs {
            step_row(p, out, off + i as usize * out.size(), v, dy, false);
        }
    }
}

impl<R: DenseGroup<G, N>, const N: usize, const G: u64, const OUT: usize> RootFeed<R, OUT>
    for Dense<N, G>
{
    #[inline]
    fn load(row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        let mut x = [0.0f32; N];
        row.dense(&mut x)?;
        inputs.dense.extend_from_slice(&x);
        Ok(())
    }
}

impl<const N: usize, const G: u64, const OUT: usize> RootCompute<OUT> for Dense<N, G> {
    #[inline(always)]
    fn compute<P: Params + ?Sized>(
        p: &P,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        y: &mut [f32; OUT],
    ) {
        dense_compute(p, Const::<N>, Const::<OUT>, off, inputs, cursor, y)
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        dy: &[f32; OUT],
    ) {
        dense_backward(p, Const::<N>, Const::<OUT>, off, inputs, cursor, dy)
    }
}

/// A dense root's [`RootCompute::compute`], of `n` values into `out` outputs, whatever
/// its feature group.
#[inline(always)]
pub(crate) fn dense_compute<P: Params + ?Sized, N: Dim, O: Dim>(
    p: &P,
    n: N,
    out: O,
    off: usize,
    inputs: &RowInputs,
    cursor: &mut [usize; 3],
    y: &mut [f32],
) {
    let x = &inputs.dense[cursor[1]..cursor[1] + n.size()];
    n.matvec(out, p, off, x, y);
    cursor[1] += n.size();
}

/// A dense root's [`RootCompute::backward`], whatever its feature group.
#[inline(always)]
pub(crate) fn dense_backward<L: Learn + ?Sized, N: Dim, O: Dim>(
    p: &mut L,
    n: N,
    out: O,
    off: usize,
    inputs: &RowInputs,
    cursor: &mut [usize; 3],
    dy: &[f32],
) {
    let x = &inputs.dense[cursor[1]..cursor[1] + n.size()];
    cursor[1] += n.size();
    let mut grad = n.zeros();
    for (o, &g) in dy[..out.size()].iter().enumerate() {
        if g != 0.0 {
            for (d, xj) in grad.as_mut().iter_mut().zip(x) {
                *d = g * xj;
            }
            p.step(off + o * n.size(), grad.as_ref());
        }
    }
}

/// The input layer's output before its roots add theirs: its biases at `bias`, or zeros.
#[inline(always)]
pub(crate) fn start<P: Params + ?Sized, O: Dim>(p: &P, out: O, bias: Option<usize>, y: &mut [f32]) {
    match bias {
        Some(b) => out.read(p, b, y),
        None => y[..out.size()].fill(0.0),
    }
}

/// The step of the input layer's biases at `bias`, after its roots'.
#[inline(always)]
pub(crate) fn step_bias<L: Learn + ?Sized, O: Dim>(
    p: &mut L,
    out: O,
    bias: Option<usize>,
    dy: &[f32],
) {
    if let Some(b) = bias {
        step_row(p, out, b, 1.0, dy, is_dense(dy));
    }
}

/// A list of roots: `(A, (B, ()))`.
pub trait Roots: 'static {
    /// The total input width.
    const WIDTH: usize;
    /// The parameters of the roots' weights for an `out`-wide first layer.
    fn params(out: usize) -> usize;
    /// Appends the roots' descriptions.
    fn describe(out: &mut String);
    /// Appends the roots' weight blocks, starting at `off`, for an `out`-wide layer.
    fn blocks(off: usize, out: usize, v: &mut Vec<Block>);
    /// Appends the roots' layouts, starting at `off`, for an `out`-wide layer.
    fn layout(off: usize, out: usize, v: &mut Vec<RootLayout>);
}

impl Roots for () {
    const WIDTH: usize = 0;
    fn params(_out: usize) -> usize {
        0
    }
    fn describe(_out: &mut String) {}
    fn blocks(_off: usize, _out: usize, _v: &mut Vec<Block>) {}
    fn layout(_off: usize, _out: usize, _v: &mut Vec<RootLayout>) {}
}

impl<A: Root, B: Roots> Roots for (A, B) {
    const WIDTH: usize = A::WIDTH + B::WIDTH;
    fn params(out: usize) -> usize {
        A::WIDTH * out + B::params(out)
    }
    fn describe(out: &mut String) {
        A::describe(out);
        if B::WIDTH > 0 {
            out.push_str(" + ");
        }
        B::describe(out);
    }
    fn blocks(off: usize, out: usize, v: &mut Vec<Block>) {
        let row = A::SPARSE.then_some(out);
        v.push(Block {
            layer: 0,
            offset: off,
            len: A::WIDTH * out,
            row,
        });
        B::blocks(off + A::WIDTH * out, out, v);
    }
    fn layout(off: usize, out: usize, v: &mut Vec<RootLayout>) {
        v.push(RootLayout {
            group: A::GROUP,
            sparse: A::SPARSE,
            width: A::WIDTH,
            offset: off,
        });
        B::layout(off + A::WIDTH * out, out, v);
    }
}

/// Where one root's weights are in the flat buffer: what audits read.
///
/// A sparse root's slot `i` has the row of `OUT` weights at `offset + i·OUT`; a dense
/// root's input `j` has the weights `offset + o·width + j` for each output `o`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootLayout {
    /// The feature group it reads ([`crate::features::group_id`] of its name).
    pub group: u64,
    /// Whether it is a `Sparse` root (else `Dense`).
    pub sparse: bool,
    /// Its dimension (`Sparse`) or width (`Dense`).
    pub width: usize,
    /// Its first weight.
    pub offset: usize,
}

/// Where an input layer's weights are: its roots, in order, and its bias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputLayout {
    /// Each root's weights.
    pub roots: Vec<RootLayout>,
    /// The first of the `OUT` biases, if the layer has them.
    pub bias: Option<usize>,
}

/// Roots that can all read rows of type `R`.
pub trait RootsFeed<R, const OUT: usize>: RootsCompute<OUT> {
    /// Every root's inputs of `row`, into `inputs`.
    fn load(row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError>;

    /// The first root's [`RootFeed::why_refused`] that has something to say.
    fn why_refused(row: &R) -> Option<String>;
}

/// What a list of roots computes from the inputs in an [`RowInputs`].
pub trait RootsCompute<const OUT: usize>: Roots {
    /// Sum of every root's contribution.
    fn compute<P: Params + ?Sized>(
        p: &P,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        y: &mut [f32; OUT],
    );
    /// Gradients of every root's weights.
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        dy: &[f32; OUT],
    );
}

impl<R, const OUT: usize> RootsFeed<R, OUT> for () {
    #[inline(always)]
    fn load(_row: &R, _inputs: &mut RowInputs) -> Result<(), FeatureError> {
        Ok(())
    }

    fn why_refused(_row: &R) -> Option<String> {
        None
    }
}

impl<const OUT: usize> RootsCompute<OUT> for () {
    #[inline(always)]
    fn compute<P: Params + ?Sized>(
        _p: &P,
        _off: usize,
        _inputs: &RowInputs,
        _cursor: &mut [usize; 3],
        _y: &mut [f32; OUT],
    ) {
    }
    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        _p: &mut L,
        _off: usize,
        _inputs: &RowInputs,
        _cursor: &mut [usize; 3],
        _dy: &[f32; OUT],
    ) {
    }
}

impl<R, A: RootFeed<R, OUT>, B: RootsFeed<R, OUT>, const OUT: usize> RootsFeed<R, OUT> for (A, B) {
    #[inline(always)]
    fn load(row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        A::load(row, inputs)?;
        B::load(row, inputs)
    }

    fn why_refused(row: &R) -> Option<String> {
        A::why_refused(row).or_else(|| B::why_refused(row))
    }
}

impl<A: RootCompute<OUT>, B: RootsCompute<OUT>, const OUT: usize> RootsCompute<OUT> for (A, B) {
    #[inline(always)]
    fn compute<P: Params + ?Sized>(
        p: &P,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        y: &mut [f32; OUT],
    ) {
        A::compute(p, off, inputs, cursor, y);
        B::compute(p, off + A::WIDTH * OUT, inputs, cursor, y);
    }
    #[inline(always)]
    fn backward<L: Learn + ?Sized>(
        p: &mut L,
        off: usize,
        inputs: &RowInputs,
        cursor: &mut [usize; 3],
        dy: &[f32; OUT],
    ) {
        A::backward(p, off, inputs, cursor, dy);
        B::backward(p, off + A::WIDTH * OUT, inputs, cursor, dy);
    }
}

/// The input layer: `Linear<OUT>` (with a bias when `BIAS`) over the concatenated `Roots`.
pub struct Input<Rs, const OUT: usize, const BIAS: bool>(PhantomData<Rs>);

/// The type-level view of an input layer, independent of the row type.
pub trait InputLayer: 'static {
    /// The output vector.
    type Out: super::Buf;
    /// The number of parameters.
    const PARAMS: usize;
    /// Appends its description.
    fn describe(out: &mut String);
    /// Initialises its parameters.
    fn init(w: &mut [f32], init: &Init, rng: &mut Rng);
    /// Appends its weight blocks (layer 0).
    fn blocks(v: &mut Vec<Block>);
    /// Where its weights and biases are.
    fn layout() -> InputLayout;
    /// Computes the layer's output from the inputs in `inputs`.
    fn compute<P: Params + ?Sized>(p: &P, inputs: &RowInputs, y: &mut Self::Out);
    /// Hands the gradient of the layer's parameters to `p`.
    fn backward<L: Learn + ?Sized>(p: &mut L, inputs: &RowInputs, dy: &Self::Out);
}

impl<Rs: RootsCompute<OUT>, const OUT: usize, const BIAS: bool> InputLayer
    for Input<Rs, OUT, BIAS>
{
    type Out = [f32; OUT];
    const PARAMS: usize = Rs::WIDTH * OUT + if BIAS { OUT } else { 0 };

    fn describe(out: &mut String) {
        Rs::describe(out);
        out.push_str(" => ");
        super::linear::describe(Rs::WIDTH, OUT, BIAS, out);
    }

    fn init(w: &mut [f32], init: &Init, rng: &mut Rng) {
        init_input(w, &Self::layout().roots, OUT, init, rng)
    }

    fn blocks(v: &mut Vec<Block>) {
        Rs::blocks(0, OUT, v);
    }

    fn layout() -> InputLayout {
        let mut roots = Vec::new();
        Rs::layout(0, OUT, &mut roots);
        InputLayout {
            roots,
            bias: Self::bias(),
        }
    }

    #[inline(always)]
    fn compute<P: Params + ?Sized>(p: &P, inputs: &RowInputs, y: &mut [f32; OUT]) {
        start(p, Const::<OUT>, Self::bias(), y);
        Rs::compute(p, 0, inputs, &mut [0; 3], y);
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(p: &mut L, inputs: &RowInputs, dy: &[f32; OUT]) {
        Rs::backward(p, 0, inputs, &mut [0; 3], dy);
        step_bias(p, Const::<OUT>, Self::bias(), dy);
    }
}

impl<Rs: Roots, const OUT: usize, const BIAS: bool> Input<Rs, OUT, BIAS> {
    /// Where its biases are.
    #[inline(always)]
    fn bias() -> Option<usize> {
        BIAS.then_some(Rs::WIDTH * OUT)
    }
}

/// Initialises the parameters `w` of an input layer over `roots` into `out` outputs:
/// each root's block in turn, then zero biases.
pub(crate) fn init_input(
    w: &mut [f32],
    roots: &[RootLayout],
    out: usize,
    init: &Init,
    rng: &mut Rng,
) {
    let n: usize = roots.iter().map(|r| r.width * out).sum();
    // A sparse root's weights do not scale with its DIM (see `init`): the fan-in of
    // the dense roots is their width.
    let dense_in: usize = roots.iter().filter(|r| !r.sparse).map(|r| r.width).sum();
    for r in roots {
        let block = &mut w[r.offset..r.offset + r.width * out];
        if r.sparse {
            init.fill_sparse(block, out, rng);
        } else {
            init.fill(block, dense_in, out, rng);
        }
    }
    w[n..].fill(0.0);
}

/// An input layer that reads rows of type `R`.
pub trait InputFeed<R>: InputLayer {
    /// Reads (and hashes) the row's inputs into `inputs`, once per row.
    fn load(row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError>;

    /// Why `load` refused `row` with [`FeatureError::ID_BEYOND_INPUT`], in words (see
    /// [`SparseGroup::why_refused`]); `None` by default.
    fn why_refused(row: &R) -> Option<String> {
        let _ = row;
        None
    }
}

impl<R, Rs: RootsFeed<R, OUT>, const OUT: usize, const BIAS: bool> InputFeed<R>
    for Input<Rs, OUT, BIAS>
{
    #[inline]
    fn load(row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        inputs.clear();
        Rs::load(row, inputs)
    }

    fn why_refused(row: &R) -> Option<String> {
        Rs::why_refused(row)
    }
}
