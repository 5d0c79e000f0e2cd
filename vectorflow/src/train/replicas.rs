//! Replicas: each thread trains its own copy of the weights and optimizer state
//! ([`super::store::replica`]), with the same vectorised code as one thread, in rounds
//! of up to [`SYNC_ROWS`] rows per thread ([`HIDDEN_SYNC_ROWS`] for a net with hidden
//! layers); after each round the threads merge their
//! changes to the hot units into the master, and every [`FULL_EVERY`] rounds (and
//! before holdout rows are scored, and at the end of a pass) every touched unit. No
//! memory is shared while threads train, and a seed and a thread count give
//! bit-identical results.
//!
//! A merge combines the copies by the merge rule ([`super::store::rule`]): a change only
//! one thread made is kept, changes several made are averaged, weighted by how much
//! each thread's accumulators grew, and accumulators add up.

use super::chunk::Chunk;
use super::sharing::{Changed, Scheme, Weights};
use super::step::{At, Clock, Job};
use super::store::rule::Rule;
use super::store::Replicas;
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::trainable::Trainable;

/// Rows each thread trains between two merges of the hot units. Every merge is a
/// barrier, where a thread the host has paused holds up the others: fewer barriers
/// scale better, more keep the threads closer (measured with `examples/threads.rs`).
pub(crate) const SYNC_ROWS: usize = 8192;

/// [`SYNC_ROWS`] for a net with layers after its input layer, which every row moves:
/// between two merges each thread's hidden layers fit its own rows, and the merge of two
/// such fits is not one thread's fit, the less so the longer the round (as across
/// ranks, `ranks/mod.rs`). Shorter rounds cost merges, each of the whole hot set. The
/// 16-unit net over the 1M rows, one pass, test logloss at rates 0.05 / 0.1 / 0.2 / 1
/// (at 0.5 one thread diverges) and two threads' time (M5, quiet, one round each way
/// alternated three times):
///
/// | rows a thread per round | 0.05   | 0.1    | 0.2    | 1      | 2 threads' fit |
/// |-------------------------|--------|--------|--------|--------|----------------|
/// | one thread              | 0.4108 | 0.4091 | 0.4089 | 0.4097 | 1.42–1.52 s    |
/// | 8,192                   | 0.4145 | 0.4120 | 0.4109 | 0.4134 | 1.17 s         |
/// | 4,096                   | 0.4138 | 0.4117 | 0.4113 | 0.4110 | 1.28 s         |
/// | 2,048                   | 0.4124 | 0.4101 | 0.4102 | 0.4115 | 1.51 s         |
///
/// 4,096 keeps two threads within 0.003 of one (at the edge, at 0.05) for 8% of their
/// time; 2,048 keeps them within 0.002 but leaves them no faster than one thread.
/// Logistic regression stays within 0.001 of one thread at 8,192.
pub(crate) const HIDDEN_SYNC_ROWS: usize = 4096;

/// Rounds between two merges of the tail. A merge of touched units costs about as much
/// memory traffic as training the rows that touched them (a scanned table's costs all of
/// it), and each thread writes its piece of every replica, lines the replica's own
/// thread must then fetch back, so it must be rare. Every 16 rounds against every 4 took
/// 2 threads from 1.02× to 1.27× of one on logistic regression and from 0.86× to 1.03×
/// on Sparse→16→ReLU→1; every 32, once its table was scanned, measured 1.28× against
/// 1.18× for the net, within this host's noise, and no slower for logistic regression.
/// The net's test logloss went from 0.4304 (every 4) to 0.4288 (every 32), one
/// thread's being 0.4284.
pub(crate) const FULL_EVERY: usize = 32;

/// The scheme of per-thread replicas.
pub(crate) struct Replicated<'w, 'p> {
    weights: Weights<'w>,
    reps: Replicas,
    pool: &'p rayon::ThreadPool,
    /// Rounds since the last merge of every touched unit.
    since_full: usize,
    /// Rows each thread trains between two merges at most, by the net's layers.
    sync_rows: Option<usize>,
}

impl<'w, 'p> Replicated<'w, 'p> {
    /// One replica of `weights` (packed) per thread of `pool`, merged in this process.
    pub fn new(mut weights: Weights<'w>, pool: &'p rayon::ThreadPool) -> Self {
        let reps = Replicas::new(pool, pool.current_num_threads(), &weights.master());
        Replicated {
            weights,
            reps,
            pool,
            since_full: 0,
            sync_rows: None,
        }
    }
}

impl<'w, O: Optimizer> Scheme<'w, O> for Replicated<'w, '_> {
    fn weights(&mut self) -> &mut Weights<'w> {
        &mut self.weights
    }

    fn begin_pass(&mut self) {
        self.since_full = 0;
    }

    fn train<M, Ch, L>(
        &mut self,
        job: &Job<'_, M, O, L>,
        chunk: &Ch,
        rows: &[u32],
        at: At,
        holdout: bool,
    ) where
        M: Trainable,
        Ch: Chunk<M>,
        L: Loss<Ch::Row, M::Out>,
    {
        let threads = self.pool.current_num_threads();
        // Rounds of a few thousand rows per thread, each ending in a merge of the hot
        // units, so that no thread drifts far from the others. A small chunk still gets
        // a few rounds.
        let sync_rows = *self.sync_rows.get_or_insert_with(|| {
            let hidden = job.net.blocks().iter().any(|b| b.layer > 0);
            if hidden {
                HIDDEN_SYNC_ROWS
            } else {
                SYNC_ROWS
            }
        });
        let per_thread = (rows.len() / (2 * threads)).clamp(256, sync_rows);
        let round = per_thread * threads;
        // Rounds between two merges of the tail, for the first round's choice of what
        // to scan: a chunk with holdout rows merges everything at its end.
        let tail = if holdout {
            rows.len().div_ceil(round).min(FULL_EVERY)
        } else {
            FULL_EVERY
        };
        for (r, rows) in rows.chunks(round).enumerate() {
            let part = rows.len().div_ceil(threads).max(1);
            let mut stores = self.reps.stores();
            self.pool.scope(|s| {
                let parts = rows.chunks(part).zip(stores.iter_mut());
                for (t, (rows, store)) in parts.enumerate() {
                    let clock = Clock {
                        base: at.clock.base + r * round,
                        stride: threads,
                        phase: t,
                        ..at.clock
                    };
                    let seed = at.seed(((r as u64) << 16) | t as u64);
                    s.spawn(move |_| job.run(store, chunk, rows, clock, seed));
                }
            });
            drop(stores);
            let master = &mut self.weights.master();
            let rule = Rule::new::<O>();
            self.reps
                .merge_hot(self.pool, master, rows.len(), tail, &rule);
            self.since_full += 1;
            if self.since_full == FULL_EVERY {
                self.reps.merge_all(self.pool, master, &rule);
                self.since_full = 0;
            }
        }
    }

    fn sync(&mut self) {
        let master = &mut self.weights.master();
        self.reps.merge_all(self.pool, master, &Rule::new::<O>());
        self.since_full = 0;
    }

    fn reload(&mut self, changed: &Changed<'_>) {
        self.reps.reload(&self.weights.master(), changed);
    }
}
