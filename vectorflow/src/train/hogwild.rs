//! Hogwild: the threads share one copy of the weights and state as `&[AtomicF32]`
//! (see [`crate::params::as_atomic`] and [`super::store::shared`]), lock-free. It needs
//! no extra memory, but the popular rows' cache lines bounce between the cores. Lazy
//! priors need it: their stamps are shared.

use super::chunk::Chunk;
use super::sharing::{Scheme, Weights};
use super::step::{At, Clock, Job};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::trainable::Trainable;

/// The scheme of threads sharing one copy of the weights.
pub(crate) struct Hogwild<'w, 'p> {
    weights: Weights<'w>,
    pool: &'p rayon::ThreadPool,
}

impl<'w, 'p> Hogwild<'w, 'p> {
    /// Trains `weights` on the threads of `pool`.
    pub fn new(weights: Weights<'w>, pool: &'p rayon::ThreadPool) -> Self {
        Hogwild { weights, pool }
    }
}

impl<'w, O: Optimizer> Scheme<'w, O> for Hogwild<'w, '_> {
    fn weights(&mut self) -> &mut Weights<'w> {
        &mut self.weights
    }

    fn train<M, C, L>(&mut self, job: &Job<'_, M, O, L>, chunk: &C, rows: &[u32], at: At, _: bool)
    where
        M: Trainable,
        C: Chunk<M>,
        L: Loss<C::Row, M::Out>,
    {
        let threads = self.pool.current_num_threads();
        let atomics = self.weights.atomics();
        let store = atomics.store();
        let part = rows.len().div_ceil(threads).max(1);
        self.pool.scope(|s| {
            for (t, rows) in rows.chunks(part).enumerate() {
                let mut store = store;
                // Threads advance together, so each counts the rows of all of them: its
                // k-th row is row k·T + t of the chunk.
                let clock = Clock {
                    stride: threads,
                    phase: t,
                    ..at.clock
                };
                let seed = at.seed(t as u64);
                s.spawn(move |_| job.run(&mut store, chunk, rows, clock, seed));
            }
        });
    }
}
