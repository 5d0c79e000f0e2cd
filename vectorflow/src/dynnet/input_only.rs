//! The commonest run-time net, a linear model of one output (`sparse:2^20 > 1`), trained
//! through a row loop of its own.
//!
//! A [`Shape`] dispatches its widths at every row, so the trainer's row loop for it holds
//! every dispatched width's layers. In a loop that large the compiler keeps the sparse
//! rows' optimizer step in memory rather than registers, which cost a linear model
//! about 8% of its speed beside the typed net when rows train from warm caches. A net
//! that is its input layer alone, of width 1, is trained as an [`InputOnly`] instead:
//! the same layer code at the const width 1, in a row loop as small as the typed
//! net's. Same weights, bit for bit.

use super::shape::{DynWorkspace, Shape};
use super::DynRow;
use crate::features::FeatureError;
use crate::layers::dim::Const;
use crate::layers::{Block, RowInputs};
use crate::params::{Learn, Params};
use crate::trainable::{LoadRow, Trainable};

/// A [`Shape`] with no layer after its input layer, whose width is 1.
pub(crate) struct InputOnly<'s>(&'s Shape);

impl<'s> InputOnly<'s> {
    /// `shape` as an `InputOnly`, if it is one.
    pub fn of(shape: &'s Shape) -> Option<InputOnly<'s>> {
        (shape.ops.is_empty() && shape.width == 1).then_some(InputOnly(shape))
    }
}

impl Trainable for InputOnly<'_> {
    type Workspace = DynWorkspace;
    type Out = [f32];

    fn workspace(&self, seed: Option<u64>) -> DynWorkspace {
        self.0.workspace(seed)
    }

    fn blocks(&self) -> Vec<Block> {
        self.0.blocks()
    }

    #[inline(always)]
    fn inputs<'w>(&self, ws: &'w mut DynWorkspace) -> &'w mut RowInputs {
        self.0.inputs(ws)
    }

    #[inline(always)]
    fn loaded<'w>(&self, ws: &'w DynWorkspace) -> &'w RowInputs {
        self.0.loaded(ws)
    }

    #[inline(always)]
    fn prefetch<P: Params + ?Sized>(&self, p: &P, ws: &mut DynWorkspace, inputs: &RowInputs) {
        self.0.input_at(p, Const::<1>, inputs, &mut ws.ahead);
    }

    #[inline(always)]
    fn forward<P: Params + ?Sized>(&self, p: &P, ws: &mut DynWorkspace) {
        self.0.input_at(p, Const::<1>, &ws.inputs, &mut ws.x);
    }

    #[inline(always)]
    fn output<'w>(&self, ws: &'w mut DynWorkspace) -> (&'w [f32], &'w mut [f32]) {
        (&ws.x, &mut ws.dy)
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(&self, l: &mut L, ws: &DynWorkspace) {
        self.0.input_back_at(l, Const::<1>, &ws.inputs, &ws.dy);
    }
}

impl<R: DynRow> LoadRow<R> for InputOnly<'_> {
    #[inline]
    fn load(&self, row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        self.0.load(row, inputs)
    }

    fn why_refused(&self, row: &R) -> Option<String> {
        <Shape as LoadRow<R>>::why_refused(self.0, row)
    }
}
