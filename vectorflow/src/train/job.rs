//! One training thread's work: per-row SGD (or mini-batches) on its share of a chunk.

use super::chunk::Chunk;
use super::priors::Priors;
use super::progress::Counters;
use super::store::{apply_batch, Batch, Stepper, Store};
use super::{validate, TrainError, Trainer};
use crate::features::Features;
use crate::layers::{InputLayer, Zeroed};
use crate::loss::Loss;
use crate::network::{Net, Stack, Workspace};
use crate::optim::Optimizer;
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

/// What every thread of a pass shares.
pub(crate) struct Job<'a, O, L> {
    pub trainer: &'a Trainer<O>,
    pub loss: &'a L,
    pub priors: &'a Priors,
    pub counters: &'a Counters,
    pub stop: &'a AtomicBool,
    pub error: &'a Mutex<Option<TrainError>>,
    pub pass: usize,
}

impl<O: Optimizer, L> Job<'_, O, L> {
    /// Records the first error of the pass and tells every thread to stop.
    pub fn fail(&self, e: TrainError) {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Trains on the rows of `chunk` at the positions `rows`, the thread's share.
    pub fn run<I, S, C, St>(&self, store: &mut St, chunk: &C, rows: &[u32], clock: Clock, seed: u64)
    where
        I: InputLayer,
        S: Stack<In = I::Out>,
        C: Chunk<I>,
        L: Loss<C::Row, S::Out>,
        St: Store,
    {
        let t = self.trainer;
        let mut ws = Workspace::<I, S>::train(seed);
        let (mut batch, mut pending) = (Batch::default(), 0);
        let (mut n, mut nnz, mut loss_sum, mut weight_sum) = (0u64, 0u64, 0f64, 0f64);
        let priors = self.priors.active();
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
            if let Err(source) = chunk.load(i, ws.cache_mut()) {
                self.fail(TrainError::Feature {
                    pass: self.pass,
                    row: ri,
                    source,
                });
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
                    .catch_up(store, ws.cache(), in_pass as u32, scale);
            }
            let out = {
                let stepper = Stepper {
                    opt: &t.opt,
                    store: &mut *store,
                    scale,
                    batch: None,
                };
                *Net::<I, S>::forward_loaded(&stepper, &mut ws)
            };
            // Cleared for every row: a loss may set only the entries it has.
            let mut dy = S::Out::zeroed();
            let l = self.loss.loss(&out, row, &mut dy);
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
            n += 1;
            nnz += (ws.cache().sparse.len() + ws.cache().dense.len()) as u64;
            loss_sum += l as f64;
            weight_sum += row.weight() as f64;
            let batched = t.batch > 1;
            let mut stepper = Stepper {
                opt: &t.opt,
                store: &mut *store,
                scale,
                batch: batched.then_some(&mut batch),
            };
            Net::<I, S>::backward(&mut stepper, &ws, &dy);
            if batched {
                pending += 1;
                if pending == t.batch {
                    apply_batch(&t.opt, store, &mut batch, pending, scale);
                    pending = 0;
                }
            }
            if priors {
                self.priors.step_dense(store, scale);
            }
            if n % 512 == 0 {
                self.counters.add(n, nnz, loss_sum, weight_sum);
                (n, nnz, loss_sum, weight_sum) = (0, 0, 0.0, 0.0);
            }
        }
        if pending > 0 {
            let end = clock.base + rows.len() * clock.stride;
            let scale = t.schedule.scale(clock.pass + end as u64);
            apply_batch(&t.opt, store, &mut batch, pending, scale);
        }
        self.counters.add(n, nnz, loss_sum, weight_sum);
    }
}

/// The weighted loss sum and weight sum of the rows of `chunk` at positions `rows`,
/// predicted with `params` on `pool`. The rows are checked as training rows are.
pub(crate) fn holdout<I, S, C, L, P>(
    pool: &rayon::ThreadPool,
    params: &P,
    chunk: &C,
    rows: &[u32],
    loss: &L,
    pass: usize,
) -> Result<(f64, f64), TrainError>
where
    I: InputLayer,
    S: Stack<In = I::Out>,
    C: Chunk<I>,
    L: Loss<C::Row, S::Out>,
    P: crate::params::Params + Sync + ?Sized,
{
    use rayon::prelude::*;
    pool.install(|| {
        rows.par_chunks(4096)
            .map(|part| {
                let mut ws = Workspace::<I, S>::predict();
                let (mut l, mut w) = (0.0f64, 0.0f64);
                for &i in part {
                    let (i, ri) = (i as usize, chunk.index(i as usize));
                    let row = chunk.row(i);
                    chunk
                        .load(i, ws.cache_mut())
                        .map_err(|source| TrainError::Feature {
                            pass,
                            row: ri,
                            source,
                        })?;
                    validate::row(loss, row, pass, ri)?;
                    let out = *Net::<I, S>::forward_loaded(params, &mut ws);
                    let loss = loss.loss(&out, row, &mut S::Out::zeroed());
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

/// Sorts the positions of `chunk`'s rows into training and holdout rows.
pub(crate) fn split<I: InputLayer, C: Chunk<I>, O: Optimizer>(
    t: &Trainer<O>,
    chunk: &C,
    train: &mut Vec<u32>,
    hold: &mut Vec<u32>,
) {
    train.clear();
    hold.clear();
    for i in 0..chunk.len() {
        if t.is_holdout(chunk.index(i)) {
            hold.push(i as u32);
        } else {
            train.push(i as u32);
        }
    }
}
