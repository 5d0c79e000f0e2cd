//! One thread: training steps the net's buffers (its sparse tables packed) in place,
//! and a seed gives bit-identical results.

use super::chunk::Chunk;
use super::sharing::{Scheme, Weights};
use super::step::{At, Job};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::trainable::Trainable;

/// The scheme of one thread.
pub(crate) struct OneThread<'w> {
    weights: Weights<'w>,
}

impl<'w> OneThread<'w> {
    /// Trains `weights`, whose sparse tables are packed.
    pub fn new(weights: Weights<'w>) -> Self {
        OneThread { weights }
    }
}

impl<'w, O: Optimizer> Scheme<'w, O> for OneThread<'w> {
    fn weights(&mut self) -> &mut Weights<'w> {
        &mut self.weights
    }

    fn train<M, C, L>(&mut self, job: &Job<'_, M, O, L>, chunk: &C, rows: &[u32], at: At, _: bool)
    where
        M: Trainable,
        C: Chunk<M>,
        L: Loss<C::Row, M::Out>,
    {
        job.run(&mut self.weights.store(), chunk, rows, at.clock, at.seed(0));
    }
}
