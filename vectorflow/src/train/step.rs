//! The per-row step: forward, loss, backward and optimizer (or mini-batches), with the
//! row checks, lazy priors and prefetching, on one thread's share of a chunk. Every way
//! of sharing the weights calls it, with its own store; it reaches the net only through
//! [`Trainable`].

use super::chunk::Chunk;
use super::priors::Priors;
use super::progress::{Counters, Tally};
use super::store::{apply_batch, Batch, Stepper, Store};
use super::{validate, TrainError, Trainer};
use crate::features::Features;
use crate::kernels::{self, PerLevel, Supported};
use crate::layers::RowInputs;
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::params::Params;
use crate::rng::splitmix64;
use crate::trainable::Trainable;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Where a thread's rows fall in training time: its k-th row of a chunk is row
/// `base + k·stride + phase` of the pass, and `pass` rows came before the pass.
#[derive(Clone, Copy)]
pub(crate) struct Clock {
    pub pass: u64,
    pub base: usize,
    pub stride: usize,
    pub phase: usize,
}

/// Where a chunk falls in training: its first row's clock (one thread's, `stride` 1)
/// and the key of its threads' random streams.
#[derive(Clone, Copy)]
pub(crate) struct At {
    pub clock: Clock,
    pub key: u64,
}

impl At {
    /// The dropout seed of the chunk's `t`-th share (a thread, or a thread's round).
    pub fn seed(&self, t: u64) -> u64 {
        let mut s = self.key ^ t;
        splitmix64(&mut s)
    }
}

/// Parameters that read nothing: a forward pass of the input layer through them only
/// prefetches the weight and state rows the real pass will read and update.
struct Ahead<'a, O, St>(&'a St, PhantomData<O>);

impl<O: Optimizer, St: Store> Params for Ahead<'_, O, St> {
    #[inline(always)]
    fn get(&self, _: usize) -> f32 {
        0.0
    }
    #[inline(always)]
    fn row<const N: usize>(&self, _: usize) -> [f32; N] {
        [0.0; N]
    }
    #[inline(always)]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        _: usize,
        _: &[f32; IN],
        _: &mut [f32; OUT],
    ) {
    }
    #[inline(always)]
    fn gather<const OUT: usize>(&self, _: usize, _: &[(u32, f32)], _: &mut [f32; OUT]) {}
    #[inline(always)]
    fn gather_dyn(&self, _: usize, _: &[(u32, f32)], _: &mut [f32]) {}
    #[inline(always)]
    fn prefetch_rows<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        self.0.prefetch_rows::<O, OUT>(off, pairs);
    }
}

/// What every thread of a pass shares.
pub(crate) struct Job<'a, M, O, L> {
    pub net: &'a M,
    pub trainer: &'a Trainer<O>,
    pub loss: &'a L,
    pub priors: &'a Priors,
    pub counters: &'a Counters,
    pub stop: &'a AtomicBool,
    pub error: &'a Mutex<Option<TrainError>>,
    pub pass: usize,
}

impl<M: Trainable, O: Optimizer, L> Job<'_, M, O, L> {
    /// Records the first error of the pass and tells every thread to stop.
    pub fn fail(&self, e: TrainError) {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Trains on the rows of `chunk` at the positions `rows`, the thread's share.
    ///
    /// The whole per-row loop (forward, loss, backward, optimizer) is compiled once per
    /// CPU level and the best one this CPU has runs, as the kernels are: the optimizer's
    /// steps and the backward pass vectorise to the CPU's width only then.
    pub fn run<C, St>(&self, store: &mut St, chunk: &C, rows: &[u32], clock: Clock, seed: u64)
    where
        C: Chunk<M>,
        L: Loss<C::Row, M::Out>,
        St: Store,
    {
        kernels::dispatch(Rows {
            job: self,
            store,
            chunk,
            rows,
            clock,
            seed,
        })
    }

    /// [`Job::run`]'s loop, inlined into each level's function.
    #[inline(always)]
    fn rows<C, St>(&self, store: &mut St, chunk: &C, rows: &[u32], clock: Clock, seed: u64)
    where
        C: Chunk<M>,
        L: Loss<C::Row, M::Out>,
        St: Store,
    {
        let (t, net) = (self.trainer, self.net);
        let mut ws = net.workspace(Some(seed));
        let (mut batch, mut pending) = (Batch::default(), 0);
        let mut tally = Tally::new(self.counters, self.pass);
        let mut features = 0u64;
        let priors = self.priors.active();
        let (mut next, mut ahead) = (RowInputs::default(), None);
        for (k, &i) in rows.iter().enumerate() {
            if k % 64 == 0 && self.stop.load(Ordering::Relaxed) {
                break;
            }
            // Rows ahead: their index data eight rows ahead, their inputs four.
            if let Some(&far) = rows.get(k + 8) {
                chunk.prefetch(far as usize, true);
            }
            if let Some(&near) = rows.get(k + 4) {
                chunk.prefetch(near as usize, false);
            }
            let (i, ri) = (i as usize, chunk.index(i as usize));
            let row = chunk.row(i);
            // This row's inputs were loaded with the row before (the first's now); the
            // next row's are loaded now and its weight rows prefetched, so that their
            // cache misses overlap this row's work rather than the next's.
            let prefetched = ahead.is_some();
            let loaded = match ahead.take() {
                Some(loaded) => {
                    std::mem::swap(net.inputs(&mut ws), &mut next);
                    loaded
                }
                None => chunk.load(net, i, net.inputs(&mut ws)),
            };
            if let Some(&j) = rows.get(k + 1) {
                let loaded = chunk.load(net, j as usize, &mut next);
                if loaded.is_ok() {
                    net.prefetch(&Ahead::<O, St>(store, PhantomData), &mut ws, &next);
                }
                ahead = Some(loaded);
            }
            if let Err(source) = loaded {
                self.fail(chunk.load_error(net, i, self.pass, source));
                break;
            }
            if let Err(e) = validate::row(self.loss, row, self.pass, ri) {
                self.fail(e);
                break;
            }
            let in_pass = clock.base + k * clock.stride + clock.phase;
            let scale = t.schedule.scale(clock.pass + in_pass as u64);
            if priors {
                self.priors
                    .catch_up(store, net.loaded(&ws), in_pass as u32, scale);
            }
            let stepper = Stepper {
                opt: &t.opt,
                store: &mut *store,
                scale,
                batch: None,
                prefetch: !prefetched,
                finite: true,
            };
            net.forward(&stepper, &mut ws);
            let (out, dy) = net.output(&mut ws);
            // Cleared for every row: a loss may set only the entries it has.
            dy.as_mut().fill(0.0);
            let l = self.loss.loss(out, row, dy);
            if !l.is_finite() {
                self.fail(TrainError::NonFiniteLoss {
                    pass: self.pass,
                    row: ri,
                    loss: l,
                });
                break;
            }
            // Before the backward pass, so that no weight takes a NaN step.
            if let Err(e) = validate::gradient(dy.as_ref(), self.pass, ri) {
                self.fail(e);
                break;
            }
            let loaded = net.loaded(&ws);
            features = (loaded.sparse.len() + loaded.dense.len()) as u64;
            tally.row(features, l, row.weight());
            let batched = t.batch > 1;
            let mut stepper = Stepper {
                opt: &t.opt,
                store: &mut *store,
                scale,
                batch: batched.then_some(&mut batch),
                prefetch: false,
                finite: true,
            };
            net.backward(&mut stepper, &ws);
            let mut finite = stepper.finite;
            if batched {
                pending += 1;
                if pending == t.batch {
                    finite &= apply_batch(&t.opt, store, &mut batch, pending, scale);
                    pending = 0;
                }
            }
            // Checked on the state the steps just wrote, as they wrote it: an overflowing
            // accumulator would otherwise freeze its weights without a word. Measured
            // free (`examples/bench`, 1 thread, interleaved pairs against the unchecked
            // code, median ratio of rows/s: LR 2 passes 1.00 of 6, mlp16 1 pass 1.00 of
            // 4, each pair within the shared machine's ±10%).
            if !finite {
                self.fail(TrainError::NonFiniteState {
                    pass: self.pass,
                    row: ri,
                });
                break;
            }
            if priors {
                self.priors.step_dense(store, scale);
            }
        }
        if pending > 0 {
            let end = clock.base + rows.len() * clock.stride;
            let scale = t.schedule.scale(clock.pass + end as u64);
            if !apply_batch(&t.opt, store, &mut batch, pending, scale) {
                let last = rows.last().map_or(0, |&i| chunk.index(i as usize));
                self.fail(TrainError::NonFiniteState {
                    pass: self.pass,
                    row: last,
                });
            }
        }
        tally.flush(features);
    }
}

/// One call of [`Job::rows`], compiled per CPU level by [`kernels::dispatch`].
struct Rows<'j, 'a, M, O, L, C, St> {
    job: &'j Job<'a, M, O, L>,
    store: &'j mut St,
    chunk: &'j C,
    rows: &'j [u32],
    clock: Clock,
    seed: u64,
}

impl<M, O, L, C, St> PerLevel for Rows<'_, '_, M, O, L, C, St>
where
    M: Trainable,
    O: Optimizer,
    C: Chunk<M>,
    L: Loss<C::Row, M::Out>,
    St: Store,
{
    type Output = ();
    #[inline(always)]
    fn run(self, _: Supported) {
        self.job
            .rows(self.store, self.chunk, self.rows, self.clock, self.seed)
    }
}

/// The weighted loss sum and weight sum of the rows of `chunk` at positions `rows`,
/// predicted with `params` on `pool`. The rows are checked as training rows are.
pub(crate) fn holdout<M, C, L, P>(
    pool: &rayon::ThreadPool,
    net: &M,
    params: &P,
    chunk: &C,
    rows: &[u32],
    loss: &L,
    pass: usize,
) -> Result<(f64, f64), TrainError>
where
    M: Trainable,
    C: Chunk<M>,
    L: Loss<C::Row, M::Out>,
    P: crate::params::Params + Sync + ?Sized,
{
    use rayon::prelude::*;
    pool.install(|| {
        rows.par_chunks(4096)
            .map(|part| {
                let mut ws = net.workspace(None);
                let (mut l, mut w) = (0.0f64, 0.0f64);
                for &i in part {
                    let (i, ri) = (i as usize, chunk.index(i as usize));
                    let row = chunk.row(i);
                    chunk
                        .load(net, i, net.inputs(&mut ws))
                        .map_err(|source| chunk.load_error(net, i, pass, source))?;
                    validate::row(loss, row, pass, ri)?;
                    net.forward(params, &mut ws);
                    let (out, dy) = net.output(&mut ws);
                    dy.as_mut().fill(0.0);
                    let loss = loss.loss(out, row, dy);
                    // A non-finite holdout loss is left out, not an error: training
                    // did not use the row.
                    if loss.is_finite() {
                        l += loss as f64;
                        w += row.weight() as f64;
                    }
                }
                Ok((l, w))
            })
            .try_reduce(|| (0.0, 0.0), |a, b| Ok((a.0 + b.0, a.1 + b.1)))
    })
}
