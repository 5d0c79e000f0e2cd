//! The pass driver: for each pass, each chunk of its feed is split among the threads
//! and trained, then its holdout rows are scored; the pass ends by bringing the lazy
//! priors up to date and recording the report.

use super::chunk::Chunk;
use super::feed::Feed;
use super::job::{self, Clock, Job};
use super::packed::{self, Packed, View};
use super::priors::Priors;
use super::progress::{self, Counters};
use super::replica::{Master, Replicas, FULL_EVERY, SYNC_ROWS};
use super::store::{Plain, Shared};
use super::{EarlyStop, PassReport, Sharing, TrainError, TrainReport, TrainState, Trainer};
use crate::layers::InputLayer;
use crate::loss::Loss;
use crate::network::{Net, Stack};
use crate::optim::Optimizer;
use crate::params::{as_atomic, as_atomic_u32};
use crate::rng::splitmix64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

impl<O: Optimizer> Trainer<O> {
    /// Runs the trainer's passes over `feed`, continuing from `state`.
    pub(super) fn run<I, S, F, L>(
        &self,
        net: &mut Net<I, S>,
        state: &mut TrainState,
        feed: &mut F,
        loss: &L,
    ) -> Result<TrainReport, TrainError>
    where
        I: InputLayer,
        S: Stack<In = I::Out>,
        F: Feed<I>,
        L: Loss<<F::Chunk as Chunk<I>>::Row, S::Out>,
    {
        let blocks = Net::<I, S>::blocks();
        let priors = Priors::new(
            blocks.clone(),
            |layer| {
                self.priors
                    .iter()
                    .find(|(l, _)| *l == layer)
                    .map_or(self.prior_all, |p| p.1)
            },
            self.opt.lr(),
        );
        let mut stamps = vec![0u32; priors.stamps];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .build()
            .map_err(|e| {
                TrainError::Config(format!("cannot start {} threads: {e}", self.threads))
            })?;
        let counters = Counters::new(self.progress, Instant::now());
        // Progress counts training rows; holdout rows are a small share of a pass.
        let total = feed.rows().map_or(0, |n| n * self.passes as u64);
        let mut report = TrainReport::default();
        let mut early = EarlyStop::new(self.patience);
        let error = Mutex::new(None);
        let stop = AtomicBool::new(false);
        let (mut train, mut hold) = (Vec::new(), Vec::new());
        if self.threads > 1 && self.sharing == Sharing::Replicas && priors.active() {
            return Err(TrainError::Config(
                "priors need shared weights: use Sharing::Hogwild (or Sharing::Auto) with priors"
                    .into(),
            ));
        }
        let replicated = self.replicated(priors.active());
        // Hogwild threads update the net's own buffers; one thread and replicas train
        // the packed layout.
        let mut tables = if self.threads == 1 || replicated {
            packed::pack::<O>(&blocks, net.params(), state.planes_mut())
        } else {
            Vec::new()
        };
        let mut replicas = replicated.then(|| {
            let (params, _) = net.parts_mut();
            let master = Master::of(params, state.planes_mut(), &mut tables);
            Replicas::new(&pool, self.threads, &master)
        });

        let trained = std::thread::scope(|scope| -> Result<(), TrainError> {
            scope.spawn(|| progress::report(self.progress, &counters, total));
            // Ends the progress thread however this closure ends, a panic included:
            // the scope would otherwise wait for it forever.
            let _done = progress::Done(&counters.done);
            for pass in 1..=self.passes {
                let t0 = Instant::now();
                let (rows0, nnz0) = (
                    counters.rows.load(Ordering::Relaxed),
                    counters.nnz.load(Ordering::Relaxed),
                );
                let (l0, w0) = counters.loss_sums();
                // Each pass's order and masks depend on the seed and on how many passes
                // the net has had, so a resumed run repeats an unbroken one.
                let global = state.passes() + 1;
                let clock = state.rows();
                let job = Job {
                    trainer: self,
                    loss,
                    priors: &priors,
                    counters: &counters,
                    stop: &stop,
                    error: &error,
                    pass,
                };
                let (mut seen, mut chunks) = (0usize, 0u64);
                let mut since_full = 0usize;
                let mut held = (0.0f64, 0.0f64, 0usize);
                feed.pass(global, &mut |chunk| {
                    job::split(self, chunk, &mut train, &mut hold);
                    if seen + train.len() > u32::MAX as usize {
                        return Err(TrainError::Config(
                            "at most 2^32 − 1 training rows per pass".into(),
                        ));
                    }
                    let base = Clock {
                        pass: clock,
                        base: seen,
                        stride: 1,
                        phase: 0,
                    };
                    let seed = |t: u64| {
                        let mut s = self.seed ^ (global << 32) ^ (chunks << 8) ^ t;
                        splitmix64(&mut s)
                    };
                    let (params, _) = net.parts_mut();
                    let [p0, p1, p2] = state.planes_mut();
                    if self.threads == 1 {
                        let mut store = Packed {
                            rest: Plain {
                                w: params,
                                s: [p0, p1, p2],
                                stamps: &mut stamps,
                            },
                            tables: &mut tables,
                        };
                        job.run::<I, S, _, _>(&mut store, chunk, &train, base, seed(0));
                    } else if let Some(reps) = replicas.as_mut() {
                        // Rounds of a few thousand rows per thread, each ending in a merge
                        // of the hot units, so that no thread drifts far from the others.
                        // A small chunk still gets a few rounds.
                        let per_thread = (train.len() / (2 * self.threads)).clamp(256, SYNC_ROWS);
                        let round = per_thread * self.threads;
                        // Rounds between two merges of the tail, for the first round's
                        // choice of what to scan: a chunk with holdout rows merges
                        // everything at its end.
                        let tail = if hold.is_empty() {
                            FULL_EVERY
                        } else {
                            train.len().div_ceil(round).min(FULL_EVERY)
                        };
                        for (r, rows) in train.chunks(round).enumerate() {
                            let part = rows.len().div_ceil(self.threads).max(1);
                            let mut stores = reps.stores();
                            pool.scope(|s| {
                                let parts = rows.chunks(part).zip(stores.iter_mut());
                                for (t, (rows, store)) in parts.enumerate() {
                                    let job = &job;
                                    let clock = Clock {
                                        base: base.base + r * round,
                                        stride: self.threads,
                                        phase: t,
                                        ..base
                                    };
                                    let seed = seed(((r as u64) << 16) | t as u64);
                                    s.spawn(move |_| {
                                        job.run::<I, S, _, _>(store, chunk, rows, clock, seed)
                                    });
                                }
                            });
                            drop(stores);
                            let mut master = Master {
                                w: &mut params[..],
                                s: [&mut p0[..], &mut p1[..], &mut p2[..]],
                                tables: &mut tables,
                            };
                            reps.merge_hot::<O>(&pool, &mut master, rows.len(), tail);
                            since_full += 1;
                            if since_full == FULL_EVERY {
                                reps.merge_all::<O>(&pool, &mut master);
                                since_full = 0;
                            }
                        }
                        // Holdout rows are scored with every thread's updates.
                        if !hold.is_empty() {
                            reps.merge_all::<O>(
                                &pool,
                                &mut Master {
                                    w: &mut params[..],
                                    s: [&mut p0[..], &mut p1[..], &mut p2[..]],
                                    tables: &mut tables,
                                },
                            );
                            since_full = 0;
                        }
                    } else {
                        let store = Shared {
                            w: as_atomic(params),
                            s: [as_atomic(p0), as_atomic(p1), as_atomic(p2)],
                            stamps: as_atomic_u32(&mut stamps),
                            blocks: &blocks,
                        };
                        let part = train.len().div_ceil(self.threads).max(1);
                        pool.scope(|s| {
                            for (t, rows) in train.chunks(part).enumerate() {
                                let job = &job;
                                let mut store = store;
                                // Threads advance together, so each counts the rows of
                                // all of them: its k-th row is row k·T + t of the chunk.
                                let clock = Clock {
                                    stride: self.threads,
                                    phase: t,
                                    ..base
                                };
                                let seed = seed(t as u64);
                                s.spawn(move |_| {
                                    job.run::<I, S, _, _>(&mut store, chunk, rows, clock, seed)
                                });
                            }
                        });
                    }
                    if let Some(e) = error.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        return Err(e);
                    }
                    seen += train.len();
                    chunks += 1;
                    // Holdout rows are scored once their chunk has trained.
                    if !hold.is_empty() {
                        let view = View {
                            rest: net.params(),
                            tables: &tables,
                        };
                        let (l, w) =
                            job::holdout::<I, S, _, _, _>(&pool, &view, chunk, &hold, loss, pass)?;
                        held = (held.0 + l, held.1 + w, held.2 + hold.len());
                    }
                    Ok(())
                })?;
                if seen == 0 {
                    return Err(TrainError::NoRows { input: feed.name() });
                }
                if let Some(reps) = replicas.as_mut() {
                    let (params, _) = net.parts_mut();
                    let master = &mut Master::of(params, state.planes_mut(), &mut tables);
                    reps.merge_all::<O>(&pool, master);
                }
                // Prior stamps count this pass's rows; the flush brings every row to the
                // pass's end, after which they start again from 0.
                let scale_end = self.schedule.scale(clock + seen as u64);
                {
                    let (params, _) = net.parts_mut();
                    let [p0, p1, p2] = state.planes_mut();
                    let mut store = Packed {
                        rest: Plain {
                            w: params,
                            s: [p0, p1, p2],
                            stamps: &mut stamps,
                        },
                        tables: &mut tables,
                    };
                    priors.flush(&mut store, seen as u32, scale_end);
                }
                // The net holds every weight again at the end of each pass: for early
                // stopping's snapshot, and for the caller when the fit ends here.
                {
                    let (params, _) = net.parts_mut();
                    packed::unpack::<O>(&tables, params, state.planes_mut());
                }
                stamps.fill(0);
                state.end_pass(seen as u64);
                // A slice's holdout rows come after its training rows, so they are
                // scored with the pass's final weights; a stream's are scored as their
                // chunk comes (progressive validation, as Vowpal Wabbit does), so it
                // needs no second read. No usable holdout row gives NaN, never an
                // improvement.
                let holdout_loss = (held.2 > 0).then(|| {
                    if held.1 > 0.0 {
                        held.0 / held.1
                    } else {
                        f64::NAN
                    }
                });
                if let Some(h) = holdout_loss {
                    counters.holdout.store(h.to_bits(), Ordering::Relaxed);
                }
                let (l1, w1) = counters.loss_sums();
                let seconds = t0.elapsed().as_secs_f64();
                let rows_done = counters.rows.load(Ordering::Relaxed) - rows0;
                report.passes.push(PassReport {
                    pass,
                    train_loss: (l1 - l0) / (w1 - w0).max(f64::MIN_POSITIVE),
                    holdout_loss,
                    rows: rows_done,
                    nnz: counters.nnz.load(Ordering::Relaxed) - nnz0,
                    seconds,
                    rows_per_s: rows_done as f64 / seconds.max(1e-9),
                });
                report.best_pass = pass;
                if let Some(h) = holdout_loss {
                    if early.stop_after(pass, h, net.params()) {
                        report.stopped_early = pass < self.passes;
                        break;
                    }
                }
            }
            Ok(())
        });
        if trained.is_err() {
            // A failed pass keeps what its rows before the failure trained, as the net's
            // own buffers would have.
            let (params, _) = net.parts_mut();
            if let Some(reps) = replicas.as_mut() {
                let master = &mut Master::of(params, state.planes_mut(), &mut tables);
                reps.merge_all::<O>(&pool, master);
            }
            packed::unpack::<O>(&tables, params, state.planes_mut());
        }
        trained?;
        if let Some((pass, params)) = early.best() {
            if pass != report.passes.len() {
                net.params_mut().copy_from_slice(params);
            }
            report.best_pass = pass;
        }
        Ok(report)
    }
}
