//! The pass driver: for each pass, each chunk of its feed is trained by the scheme
//! that shares the weights among the threads, then its holdout rows are scored; the
//! pass ends by bringing the lazy priors up to date and recording the report. The
//! driver does not know which scheme runs.

use super::chunk::Chunk;
use super::early::EarlyStop;
use super::feed::Feed;
use super::priors::Priors;
use super::progress::{self, Counters};
use super::sharing::Scheme;
use super::step::{self, At, Clock, Job};
use super::{TrainError, TrainReport, Trainer};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::trainable::Trainable;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;
use std::time::Instant;

impl<O: Optimizer> Trainer<O> {
    /// Runs the trainer's passes over `feed` with `scheme`, on the threads of `pool`.
    pub(super) fn drive<'w, M, F, L>(
        &self,
        net: &M,
        scheme: &mut impl Scheme<'w, O>,
        (pool, priors): (&rayon::ThreadPool, &Priors),
        feed: &mut F,
        loss: &L,
    ) -> Result<TrainReport, TrainError>
    where
        M: Trainable,
        F: Feed<M>,
        L: Loss<<F::Chunk as Chunk<M>>::Row, M::Out>,
    {
        let counters = Counters::new(self.progress, Instant::now());
        // Progress counts training rows; holdout rows are a small share of a pass.
        let total = feed.rows().map_or(0, |n| n * self.passes as u64);
        let mut report = TrainReport::default();
        let mut early = EarlyStop::new(self.patience);
        let (error, stop) = (Mutex::new(None), AtomicBool::new(false));
        let (mut train, mut hold) = (Vec::new(), Vec::new());
        let trained = std::thread::scope(|scope| -> Result<(), TrainError> {
            scope.spawn(|| progress::report(self.progress, &counters, total));
            // Ends the progress thread however this closure ends, a panic included:
            // the scope would otherwise wait for it forever.
            let _done = progress::Done(&counters.done);
            for pass in 1..=self.passes {
                let start = progress::Mark::now(&counters);
                // Each pass's order and masks depend on the seed and on how many passes
                // the net has had, so a resumed run repeats an unbroken one.
                let state = &scheme.weights().state;
                let (global, clock) = (state.passes() + 1, state.rows());
                let (error, stop, counters) = (&error, &stop, &counters);
                let job = Job {
                    net,
                    trainer: self,
                    loss,
                    priors,
                    counters,
                    stop,
                    error,
                    pass,
                };
                let (mut seen, mut chunks) = (0usize, 0u64);
                let mut held = (0.0f64, 0.0f64, 0usize);
                scheme.begin_pass();
                feed.pass(net, global, &mut |chunk| {
                    self.split(chunk, &mut train, &mut hold);
                    if seen + train.len() > u32::MAX as usize {
                        return Err(TrainError::Config(
                            "at most 2^32 − 1 training rows per pass".into(),
                        ));
                    }
                    let at = At {
                        clock: Clock {
                            pass: clock,
                            base: seen,
                            stride: 1,
                            phase: 0,
                        },
                        key: self.seed ^ (global << 32) ^ (chunks << 8),
                    };
                    scheme.train(&job, chunk, &train, at, !hold.is_empty());
                    if let Some(e) = error.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        return Err(e);
                    }
                    seen += train.len();
                    chunks += 1;
                    // Holdout rows are scored once their chunk has trained, with every
                    // thread's updates.
                    if !hold.is_empty() {
                        scheme.sync();
                        let view = scheme.weights().view();
                        let (l, w) = step::holdout(pool, net, view, chunk, &hold, loss, pass)?;
                        held = (held.0 + l, held.1 + w, held.2 + hold.len());
                    }
                    Ok(())
                })?;
                let mut totals = start.totals(held, counters);
                totals.rows = seen as u64;
                scheme.agree(&mut totals)?;
                if totals.rows == 0 {
                    return Err(TrainError::NoRows { input: feed.name() });
                }
                let scale_end = self.schedule.scale(clock + seen as u64);
                scheme.end_pass(priors, seen as u32, scale_end, totals.rows);
                let pass_report = start.report(pass, &totals, counters);
                let holdout_loss = pass_report.holdout_loss;
                report.passes.push(pass_report);
                report.best_pass = pass;
                if let Some(h) = holdout_loss {
                    if early.stop_after(pass, h, || scheme.weights().net.to_vec()) {
                        report.stopped_early = pass < self.passes;
                        break;
                    }
                }
            }
            Ok(())
        });
        if let Err(e) = trained {
            return Err(scheme.fail(e));
        }
        if let Some((pass, params)) = early.best() {
            if pass != report.passes.len() {
                scheme.weights().net.copy_from_slice(params);
            }
            report.best_pass = pass;
        }
        scheme.finish()?;
        Ok(report)
    }

    /// Sorts the positions of `chunk`'s rows into training and holdout rows.
    fn split<M: Trainable, C: Chunk<M>>(
        &self,
        chunk: &C,
        train: &mut Vec<u32>,
        hold: &mut Vec<u32>,
    ) {
        train.clear();
        hold.clear();
        for i in 0..chunk.len() {
            if self.is_holdout(chunk.index(i)) {
                hold.push(i as u32);
            } else {
                train.push(i as u32);
            }
        }
    }
}
