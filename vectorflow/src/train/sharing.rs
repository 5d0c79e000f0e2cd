//! How threads share the weights: the pass driver's one interface to it ([`Scheme`]),
//! and the buffers every scheme trains ([`Weights`]).
//!
//! One file per scheme: `one_thread.rs`, `hogwild.rs`, `replicas.rs`. Each builds its
//! stores in one place, from its `Weights`; the driver (`pass.rs`) never knows which
//! scheme runs. A new scheme (ranks on several machines) is a new file implementing
//! [`Scheme`], and a line where [`super::Trainer::fit`] picks one.

use super::chunk::Chunk;
use super::feed::Feed;
use super::hogwild::Hogwild;
use super::one_thread::OneThread;
use super::priors::Priors;
use super::progress::Totals;
use super::ranks::{Link, Ranks};
use super::replicas::Replicated;
use super::step::{At, Job};
use super::store::{Master, Packed, Plain, Shared};
use super::{Sharing, TrainError, TrainReport, TrainState, Trainer};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::params::{as_atomic, as_atomic_u32, AtomicF32};
use crate::trainable::Trainable;
use crate::weights::{AtomicTable, Table, View};
use std::sync::atomic::AtomicU32;

/// Every buffer a fit trains: the net's weights (its sparse tables in the optimizer's
/// layout, each row beside its state) and training state (the state of the rest), and
/// the priors' row stamps.
pub(crate) struct Weights<'w> {
    pub net: &'w mut crate::weights::Weights,
    pub state: &'w mut TrainState,
    pub stamps: Vec<u32>,
}

impl<'w> Weights<'w> {
    /// The net's buffers with its sparse tables laid out for `opt` where they are (see
    /// [`crate::weights`]): `keep` says whether the state they hold is the one training
    /// continues from, else it starts afresh. And `stamps` zeroed stamps.
    pub fn packed<O: Optimizer>(
        opt: &O,
        net: &'w mut crate::weights::Weights,
        state: &'w mut TrainState,
        keep: bool,
        stamps: usize,
    ) -> Self {
        net.lay_out(opt, keep);
        Weights {
            net,
            state,
            stamps: vec![0; stamps],
        }
    }

    /// The store of one thread that owns every buffer.
    pub fn store(&mut self) -> Packed<'_> {
        let (w, tables) = self.net.parts_mut();
        Packed {
            rest: Plain {
                w,
                s: self.state.planes_mut(),
                stamps: &mut self.stamps,
            },
            tables,
        }
    }

    /// The buffers as Hogwild threads share them, as atomics: the weights (the tables'
    /// rows with their state), the rest's state planes and the stamps (see
    /// [`super::store::Shared`]).
    pub fn atomics(&mut self) -> Atomics<'_> {
        let (w, tables) = self.net.parts_mut();
        Atomics {
            w: as_atomic(w),
            tables: tables.iter_mut().map(Table::as_atomic).collect(),
            s: self
                .state
                .planes_mut()
                .iter_mut()
                .map(|p| as_atomic(p))
                .collect(),
            stamps: as_atomic_u32(&mut self.stamps),
        }
    }

    /// What replicas copy and merge into.
    pub fn master(&mut self) -> Master<'_> {
        let (w, tables) = self.net.parts_mut();
        Master {
            w,
            s: self.state.planes_mut(),
            tables,
        }
    }

    /// Read access to the weights, for scoring holdout rows.
    pub fn view(&self) -> &crate::weights::Weights {
        self.net
    }

    /// Ends a pass of `seen` training rows: brings every sparse row's prior up to the
    /// pass's end (at rate `scale`), so that the net holds every weight as trained for
    /// early stopping's snapshot and for the caller; the training state counts the pass
    /// and its `rows` (`seen`, or across ranks the job's).
    pub fn end_pass(&mut self, priors: &Priors, seen: u32, scale: f32, rows: u64) {
        // Prior stamps count this pass's rows; the flush brings every row to the pass's
        // end, after which they start again from 0.
        priors.flush(&mut self.store(), seen, scale);
        self.stamps.fill(0);
        self.state.end_pass(rows);
    }
}

/// The buffers of [`Weights`] as atomics, for Hogwild threads.
pub(crate) struct Atomics<'a> {
    w: &'a [AtomicF32],
    tables: Vec<AtomicTable<'a>>,
    s: Vec<&'a [AtomicF32]>,
    stamps: &'a [AtomicU32],
}

impl Atomics<'_> {
    /// The store every Hogwild thread copies.
    pub fn store(&self) -> Shared<'_> {
        Shared {
            view: View {
                rest: self.w,
                tables: &self.tables,
            },
            s: &self.s,
            stamps: self.stamps,
        }
    }
}

/// A way for the training threads to share the weights, through a pass:
/// [`Scheme::begin_pass`], then for each chunk [`Scheme::train`] and, when the chunk
/// has holdout rows, [`Scheme::sync`] before they are scored from
/// [`Weights::view`]; then [`Scheme::agree`] and [`Scheme::end_pass`]; after the last
/// pass, [`Scheme::finish`]. When training fails, [`Scheme::fail`].
pub(crate) trait Scheme<'w, O: Optimizer> {
    /// The buffers the scheme trains and keeps up to date at each [`Scheme::sync`].
    fn weights(&mut self) -> &mut Weights<'w>;

    /// Starts a pass.
    fn begin_pass(&mut self) {}

    /// Trains the rows `rows` of `chunk` with `job`, shared among the threads: each
    /// thread's rows go through [`Job::run`] with the thread's store, clock and seed
    /// (from `at`). `holdout` says whether holdout rows of the chunk will be scored
    /// after it. Errors are left in the job.
    fn train<M, C, L>(
        &mut self,
        job: &Job<'_, M, O, L>,
        chunk: &C,
        rows: &[u32],
        at: At,
        holdout: bool,
    ) where
        M: Trainable,
        C: Chunk<M>,
        L: Loss<C::Row, M::Out>;

    /// Brings [`Scheme::weights`] up to date with every thread's steps.
    fn sync(&mut self) {}

    /// Once this process has trained its rows of a pass, whose figures are `totals`:
    /// nothing in a process; across processes, the pass's last exchanges, after which
    /// `totals` are the job's.
    fn agree(&mut self, totals: &mut Totals) -> Result<(), TrainError> {
        let _ = totals;
        Ok(())
    }

    /// Another process changed the weights' floats `changed`: every thread's copy
    /// takes them.
    fn reload(&mut self, changed: &Changed<'_>) {
        let _ = changed;
    }

    /// Ends a pass of `seen` rows, `scale` the rate at its end, `rows` the rows the
    /// training state counts (see [`Weights::end_pass`]).
    fn end_pass(&mut self, priors: &Priors, seen: u32, scale: f32, rows: u64) {
        self.sync();
        self.weights().end_pass(priors, seen, scale, rows);
    }

    /// After the last pass (and early stopping's choice of weights): nothing in a
    /// process; across processes, a check that every one holds the same weights.
    fn finish(&mut self) -> Result<(), TrainError> {
        Ok(())
    }

    /// After training failed with `e`: the net keeps what the rows before the failure
    /// trained, the replicas' included; the error training returns.
    fn fail(&mut self, e: TrainError) -> TrainError {
        self.sync();
        e
    }
}

/// Floats of the weights and training state that another process set: the runs
/// `rest` of the flat order outside the sparse tables (the weights and every state
/// plane there), and the rows `rows[t]` of sparse table `t` (each with its state).
pub(crate) struct Changed<'a> {
    pub rest: &'a [std::ops::Range<usize>],
    pub rows: &'a [Vec<u32>],
}

impl<O: Optimizer> Trainer<O> {
    /// Picks how the threads share the weights of `net` (its buffers `params` and
    /// `state`; `keep`: whether the state the sparse tables hold continues, see
    /// [`Weights::packed`]) and runs the passes over `feed` with it; across ranks when
    /// `ranks` is given (see [`super::ranks`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run<M, F, L>(
        &self,
        net: &M,
        params: &mut crate::weights::Weights,
        state: &mut TrainState,
        keep: bool,
        feed: &mut F,
        loss: &L,
        ranks: Option<&Link<'_>>,
    ) -> Result<TrainReport, TrainError>
    where
        M: Trainable,
        F: Feed<M>,
        L: Loss<<F::Chunk as Chunk<M>>::Row, M::Out>,
    {
        let ready = self.ready(net, ranks.is_some());
        if let Some(link) = ranks {
            link.start(ready.as_ref().map(|_| ()))?;
        }
        let (priors, pool) = ready?;
        let (stamps, with) = (priors.stamps, (&pool, &priors));
        // Every scheme trains the net's own tables, in the optimizer's layout.
        let mut weights = Weights::packed(&self.opt, params, state, keep, stamps);
        if let Some(link) = ranks {
            // Every rank starts from rank 0's weights and state, before any thread
            // copies them.
            link.adopt(&mut weights)?;
        }
        // The threads' scheme, within a rank's across ranks when `ranks` is given.
        macro_rules! drive {
            ($inner:expr) => {
                match ranks {
                    Some(link) => self.drive(net, &mut Ranks::new(link, $inner), with, feed, loss),
                    None => self.drive(net, &mut $inner, with, feed, loss),
                }
            };
        }
        let report = if self.threads == 1 {
            drive!(OneThread::new(weights))
        } else if self.replicated(priors.active()) {
            drive!(Replicated::new(weights, &pool))
        } else {
            drive!(Hogwild::new(weights, &pool))
        };
        let mut report = report?;
        if let Some(link) = ranks {
            (report.sync_bytes, report.sync_seconds) = link.meter();
        }
        Ok(report)
    }

    /// The priors and the thread pool of a fit of `net` (`ranked`: across ranks), or
    /// the setting that prevents them.
    fn ready<M: Trainable>(
        &self,
        net: &M,
        ranked: bool,
    ) -> Result<(Priors, rayon::ThreadPool), TrainError> {
        let priors = Priors::new(
            net.blocks(),
            |layer| {
                self.priors
                    .iter()
                    .find(|(l, _)| *l == layer)
                    .map_or(self.prior_all, |p| p.1)
            },
            self.opt.lr(),
        );
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .build()
            .map_err(|e| {
                TrainError::Config(format!("cannot start {} threads: {e}", self.threads))
            })?;
        if self.threads > 1 && self.sharing == Sharing::Replicas && priors.active() {
            return Err(TrainError::Config(
                "priors need shared weights: use Sharing::Hogwild (or Sharing::Auto) with priors"
                    .into(),
            ));
        }
        if ranked && priors.active() {
            // Their lazy steps are counted per row on each rank.
            return Err(TrainError::Config(
                "priors are not supported across ranks: train without them".into(),
            ));
        }
        Ok((priors, pool))
    }
}
