//! Training one model across ranks: each rank (a process under `mpirun`, or a thread
//! of [`crate::cluster`]'s in-process ranks) trains its own rows with its own threads,
//! as one process does, and the ranks combine their changes through a
//! [`Collective`]. One more way of sharing the weights ([`Ranks`], in `scheme.rs`,
//! wraps the scheme the rank's threads use); the pass driver does not know it runs.
//!
//! # The protocol
//!
//! Every exchange is a collective operation that every rank calls, in the same order,
//! with buffers of the same lengths:
//!
//! 1. **Start** (`status.rs`): rank 0 broadcasts its settings (topology, hashing
//!    scheme, optimizer and its hyper-parameters, passes, seed, holdout, schedule,
//!    batch, shuffle, chunk rows, rows per sync, shard plan); every rank compares them
//!    with its own. Then the ranks agree on a status (below): a mismatch, or a rank
//!    whose settings or rows failed their checks, stops every rank with that rank's
//!    message. Then rank 0 broadcasts its weights and training state, so every rank
//!    starts from the same bits (a job restarted from rank 0's checkpoint resumes on
//!    every rank).
//! 2. **Rounds**, in a pass: a rank that has trained [`Ranked::sync_rows`] rows since
//!    its last round, or has trained all its rows of the pass, joins a round: a status
//!    agreement whose sum also counts the ranks still training, then the exchange of
//!    the hot rows (found in the first round: the sparse rows that at least 1/32 of the
//!    rows each rank sampled touch, united over the ranks) and of every weight outside
//!    the sparse tables (biases, dense layers). A rank done with its pass keeps joining
//!    rounds, with no new changes, until the sum says no rank is training: so ranks
//!    with fewer rows, or none, join as many rounds as the others.
//! 3. **Pass end**, after that last round: every sparse row a rank changed since its
//!    last exchange is exchanged. Per table, the ranks sum their counts of changed
//!    rows; when the ids (broadcast by every rank) and the values of their union move
//!    fewer bytes than the whole table, only those rows are summed, else the whole
//!    table. Then the pass's figures (rows, non-zeros, loss sums, holdout sums) are
//!    summed, so every rank's report is the job's and early stopping decides the same
//!    on every rank.
//!    Holdout rows are scored where the driver meets them (the end of a slice's pass,
//!    between a stream's chunks), with the rank's weights as its last exchange left
//!    them and its own rows since; their loss sums add up over the ranks like the rest.
//! 4. **End**: rank 0 broadcasts a checksum of its weights and state; a rank whose own
//!    differs fails the job (it would be a bug: it cannot happen by construction).
//!
//! **Why it cannot hang.** Every operation above is called by every rank: the rounds of
//! a pass are counted by the ranks still training, which every rank learns from the
//! same sum. An error on a rank (a malformed row of its shard, a failed read, a
//! non-finite feature) is not returned at once: the rank joins the next status
//! agreement with its failure flag set (every rank sums one flag per rank), the lowest
//! failing rank broadcasts its message, and every rank returns: the failing rank its
//! own error, the others [`TrainError::Rank`] naming it and its message. A rank that
//! is gone makes the engine fail the operation ([`TrainError::Collective`]); under MPI
//! the runtime aborts every rank when a process dies, and the recovery is a restart
//! from the last checkpoint.
//!
//! **Why the weights are bit-identical.** Every rank starts from rank 0's bits, and an
//! exchange sets every float it covers, on every rank, to a function of the values the
//! floats had at their last exchange (identical on every rank) and of sums that every
//! rank receives with identical bits ([`Collective`] adds in rank order). Each float's
//! last exchange value is kept (the *base*), and what a rank sends is its change since.
//! After a pass's end every float a rank changed has been exchanged, and the others
//! still hold their base.
//!
//! # The merge rule
//!
//! Each coordinate (a weight and its state floats) combines the ranks' changes since
//! its base by the trainer's merge rule (`store/rule.rs`: VW's adaptive weighting,
//! applied to changes), in one of two forms, by what the exchange carries:
//!
//! - **Rounds** (hot rows, weights outside the tables) take the *averaged* form
//!   (`Rule::averaged`): the weight and its accumulator are each the ranks' values
//!   averaged, weighted by each rank's growth of the accumulator, as VW's
//!   `accumulate_weighted_avg` does. Between two rounds
//!   every rank takes thousands of steps on these weights and nearly reaches its own
//!   optimum, so their changes are N estimates of one move, not N moves.
//! - **The pass's end** (every other row a rank changed: rows each rank touched a few
//!   times) takes the *standard* form, the one replicas use in a process: accumulators
//!   add up, and the weight is the rescaled sum `m + Σ d_t √(G + g_t) / √(G + Σ g)`,
//!   the step one process would have taken on every rank's gradients. A row only one
//!   rank touched keeps that rank's update in both forms.
//!
//! Why both, measured with `examples/ranks_sim.rs` (each rank on a contiguous 1/N of
//! the rows, scored on the 200k test rows; LR at rate 0.5, the net at 0.02): the
//! standard form everywhere diverges (LR on the first 200k rows, 4 ranks, a round every
//! 4,096 rows: test logloss 6.79 after one pass; 16 ranks, at the pass's end only:
//! 0.68; one process 0.47), because a rescaled sum of N changes that each nearly close
//! the gap to the optimum moves the weight by about N times the gap. With no hot rows
//! every sparse row goes through the pass's end, and 16 ranks diverge there too (7.98
//! after 3 passes). The averaged form everywhere (weights averaged beside summed
//! accumulators) is stable but slow: it divides every later step by the root of N
//! ranks' gradients while moving hot weights by one rank's step.
//!
//! # Block momentum on the rounds
//!
//! The averaged form keeps a hot weight's accumulator at one rank's share, so each
//! rank steps at about `√N` times one process's rate, but the average of the ranks' `K`
//! steps moves the weight as one rank's `K` steps, where one process would have taken
//! `N·K`: `√N` times less progress wherever the steps are small beside the distance to
//! the optimum (most of the first pass). `momentum.rs` carries each round's merged
//! change on into the next rounds, `μ = 1 − 1/√N` (blockwise model-update filtering),
//! restarted where a round's change turns against the velocity, stopped at each pass's
//! end, and spanning at most half a pass's rounds; with one rank nothing is exchanged
//! and nothing carried. Test logloss, before (the two forms alone) and now (with the
//! momentum), a round every 8,192 rows:
//!
//! | ranks                          | 1      | 2      | 4      | 8      | 16     |
//! |--------------------------------|--------|--------|--------|--------|--------|
//! | LR 1M rows, 1 pass, before     | 0.4265 |        | 0.4485 |        | 0.5400 |
//! | LR 1M rows, 1 pass, now        | 0.4265 | 0.4301 | 0.4454 | 0.4757 | 0.5154 |
//! | LR 1M rows, 3 passes, before   | 0.4109 |        | 0.4118 |        | 0.4190 |
//! | LR 1M rows, 3 passes, now      | 0.4109 | 0.4108 | 0.4115 | 0.4125 | 0.4141 |
//! | LR 200k rows, 1 pass, before   | 0.4654 | 0.4691 | 0.4797 | 0.5007 | 0.5177 |
//! | LR 200k rows, 1 pass, now      | 0.4654 | 0.4671 | 0.4777 | 0.4773 | 0.4856 |
//! | LR 200k rows, 3 passes, before | 0.4522 | 0.4527 | 0.4540 | 0.4565 | 0.4620 |
//! | LR 200k rows, 3 passes, now    | 0.4522 | 0.4522 | 0.4525 | 0.4532 | 0.4566 |
//! | net 200k rows, 1 pass, before  | 0.4786 | 0.4900 | 0.5061 | 0.5294 | 0.5590 |
//! | net 200k rows, 1 pass, now     | 0.4786 | 0.4844 | 0.4948 | 0.5036 | 0.5488 |
//! | net 200k rows, 3 passes, before| 0.4533 |        | 0.4617 |        | 0.4811 |
//! | net 200k rows, 3 passes, now   | 0.4533 | 0.4558 | 0.4599 | 0.4657 | 0.4773 |
//!
//! Sixteen ranks on the 1M rows end LR 0.0032 from one process after 3 passes (the
//! issue's target: 0.005). The net is further off (16 ranks on 200k rows, 12,500 rows
//! each: +0.024 at 8,192 rows a round, +0.013 at 2,048; on the 1M rows 8 ranks end
//! at 0.4210 against one process's 0.4091, +0.012; 16 ranks at 0.4185 / 0.4208 /
//! 0.4243 / 0.4276 with a round every 512 / 1,024 / 2,048 / 8,192 rows, +0.0094 at
//! 512): each rank's hidden layer fits its own rows between rounds, and an average of
//! those fits is not one process's, the less so the longer the round.
//!
//! Rows per round, LR on 1M rows, 16 ranks, 3 passes: 0.4137 / 0.4136 / 0.4141 /
//! 0.4147 / 0.4217 at 2,048 / 4,096 / 8,192 / 16,384 / 65,536. Fewer rounds a pass
//! leave the momentum less room (at 65,536 a rank's 62,500 rows make one round a pass,
//! and no carry); the net on 200k rows, 16 ranks, 3 passes: 0.4659 at 2,048, 0.4773 at
//! 8,192 (two rounds a pass).
//!
//! Tried and left out (LR, 200k rows, 16 ranks, 3 passes unless said): merging each
//! rank's *implied target* (its change divided by the share of the way AdaGrad's
//! accumulator growth says it went, `1 − exp(−2·lr·(√(G + g) − √G))`, exact for one
//! logistic weight alone, whose mean squared gradient is its curvature) took 1 pass
//! from 0.5177 to 0.4788 but diverged in later passes (6.60) and at shorter rounds
//! (2,048 rows: 1.02 in pass 1's rounds): the share model sees one weight alone, while
//! the features of a row share its logit and close its gap together, and rows seen
//! again fit faster than their gradients say. Shorter rounds early in pass 1 (from
//! K/8, doubling) with it: worse (1 pass 0.5749). Exchanging every touched row at every
//! round (not the hot ones alone) at 2,048 or 8,192 rows: 0.4612 and 0.4611 against
//! 0.4620, for three times the bytes. Which rows count as hot (the averaged form,
//! before the momentum): 1/16, 1/64, 1/128 or 1/1,024 of the rows gave 0.4678, 0.4656,
//! 0.4713, 0.4916 (1/32: 0.4620).

pub(crate) mod checkpoint;
mod mirror;
mod momentum;
mod scheme;
mod status;

pub(crate) use scheme::Ranks;
pub(crate) use status::Link;

use super::{row_cache, Progress, Stream, StreamRow, TrainError, TrainReport, Trainer};
use crate::cluster::Collective;
use crate::features::{AuxFields, AuxValue, Features};
use crate::layers::{InputFeed, InputLayer};
use crate::loss::Loss;
use crate::network::{Net, Stack};
use crate::optim::Optimizer;
use crate::trainable::Typed;
use std::fmt;
use std::path::PathBuf;

/// Rows each rank trains between two exchanges of the hot rows, unless
/// [`Ranked::sync_rows`] says otherwise.
///
/// Measured with `examples/ranks_sim.rs` on the 1M generated rows (`gen_svm`), test
/// logloss of LR on 16 ranks after 3 passes: 0.4137 / 0.4136 / 0.4141 / 0.4147 /
/// 0.4217 at 2,048 / 4,096 / 8,192 / 16,384 / 65,536 rows per round (one process:
/// 0.4109). The rounds' momentum needs a few rounds a pass (see the module docs of
/// `train::ranks`): keep a rank's rows per pass at several times this.
pub const DEFAULT_SYNC_ROWS: usize = 8_192;

/// A [`Trainer`] whose fits train one model across the ranks of a [`Collective`]
/// ([`Trainer::ranks`]): every rank calls the same fit with its own rows (its shard)
/// and ends with the same weights. See the module docs of `train::ranks` in the
/// source for the protocol.
///
/// ```
/// use vectorflow::cluster::{Collective, CollectiveError};
/// use vectorflow::prelude::*;
///
/// /// A job of one rank (use the in-process ranks or MPI for more).
/// struct Alone;
/// impl Collective for Alone {
///     fn rank(&self) -> usize { 0 }
///     fn size(&self) -> usize { 1 }
///     fn sum_f32(&self, _: &mut [f32]) -> Result<(), CollectiveError> { Ok(()) }
///     fn sum_f64(&self, _: &mut [f64]) -> Result<(), CollectiveError> { Ok(()) }
///     fn sum_u64(&self, _: &mut [u64]) -> Result<(), CollectiveError> { Ok(()) }
///     fn broadcast(&self, _: &mut Vec<u8>, _: usize) -> Result<(), CollectiveError> { Ok(()) }
///     fn barrier(&self) -> Result<(), CollectiveError> { Ok(()) }
/// }
///
/// #[derive(Features)]
/// struct Row {
///     #[label]
///     y: bool,
///     #[hash]
///     word: &'static str,
/// }
///
/// let rows: Vec<Row> = (0..1000)
///     .map(|i| Row { y: i % 2 == 0, word: if i % 2 == 0 { "good" } else { "bad" } })
///     .collect();
/// type Lr = network![Sparse<{ 1 << 10 }> => Linear<1>];
/// let mut net = Lr::new(Init::zeros());
/// let report = Trainer::new(AdaGrad::new(0.5))
///     .passes(2)
///     .progress(Progress::Silent)
///     .ranks(&Alone)
///     .sync_rows(256)
///     .fit(&mut net, &rows, Logistic)
///     .unwrap();
/// assert_eq!(report.rows(), 2000);
/// ```
pub struct Ranked<'c, O> {
    trainer: Trainer<O>,
    comm: &'c dyn Collective,
    sync_rows: usize,
    plan: Option<String>,
    pub(crate) checkpoint: Option<PathBuf>,
}

impl<O: Optimizer> Trainer<O> {
    /// Trains across the ranks of `comm`: every rank calls the same fit, with the same
    /// settings, on its own rows, and every rank ends with the same weights and the
    /// job's report (its rows, losses and holdout losses summed over the ranks). Within
    /// a rank, threads share the weights as they do in one process. Ranks other than 0
    /// show no progress. Priors are not supported across ranks.
    pub fn ranks(self, comm: &dyn Collective) -> Ranked<'_, O> {
        Ranked {
            trainer: self,
            comm,
            sync_rows: DEFAULT_SYNC_ROWS,
            plan: None,
            checkpoint: None,
        }
    }
}

impl<'c, O: Optimizer> Ranked<'c, O> {
    /// Rows each rank trains between two exchanges of the hot rows
    /// ([`DEFAULT_SYNC_ROWS`] by default): fewer keep the ranks closer, more exchange
    /// less. Every touched row is exchanged at the end of each pass in any case.
    pub fn sync_rows(self, rows: usize) -> Self {
        Ranked {
            sync_rows: rows,
            ..self
        }
    }

    /// A description of how the data was split among the ranks (a shard plan), which
    /// must be the same on every rank: a job whose ranks split it differently stops at
    /// the start with an error naming both.
    pub fn plan(self, plan: impl Into<String>) -> Self {
        Ranked {
            plan: Some(plan.into()),
            ..self
        }
    }

    /// Checkpoints at `path` (a model file): after every pass, rank 0 saves the net
    /// with its training state there, atomically, and a job restarted with the same
    /// command resumes after the last pass saved, ending with the weights an unbroken
    /// job would have (a job that had finished returns at once). The job then runs one
    /// fit per pass (rewinding a stream before each) and its report lists the passes
    /// this run trained. Not with early stopping. Rank 0 alone reads and writes
    /// `path` and the small file beside it (`path` with `.job` appended); under MPI,
    /// when a rank dies the runtime stops every rank, and a restart is the recovery.
    pub fn checkpoint(self, path: impl Into<PathBuf>) -> Self {
        Ranked {
            checkpoint: Some(path.into()),
            ..self
        }
    }

    /// Trains `net` on this rank's `rows` with `loss`, as [`Trainer::fit`] does, one
    /// model across the ranks. A rank may have no rows; the job must have some.
    ///
    /// An error on any rank stops every rank: the failing rank returns its error, the
    /// others [`TrainError::Rank`] naming it, with its message.
    pub fn fit<I, S, R, L>(
        &self,
        net: &mut Net<I, S>,
        rows: &[R],
        loss: L,
    ) -> Result<TrainReport, TrainError>
    where
        I: InputFeed<R>,
        S: Stack<In = I::Out>,
        R: Features + Sync,
        L: Loss<R, S::Out>,
    {
        let link = self.link::<I, S>();
        let fit = |trainer: &Trainer<O>, net: &mut Net<I, S>| {
            let link = self.link::<I, S>();
            let shape = Typed::<I, S>::new();
            let feed = trainer.slice_feed(&shape, rows, &loss, true);
            match self.check().and(feed) {
                Ok(mut feed) => {
                    trainer.fit_feed(&shape, net.parts_mut(), &mut feed, &loss, Some(&link))
                }
                Err(e) => Err(link.start(Err(&e)).err().unwrap_or(e)),
            }
        };
        match &self.checkpoint {
            Some(path) => checkpoint::passes(self, &link, net, path, fit),
            None => fit(&self.trainer(), net),
        }
    }

    /// Trains `net` on this rank's `stream` with `loss`, as [`Trainer::fit_stream`]
    /// does, one model across the ranks. With a [`Trainer::cache`] and more than one
    /// rank, each rank's cache is the path with `.rank<r>-of-<n>` appended.
    pub fn fit_stream<I, S, St, L, A>(
        &self,
        net: &mut Net<I, S>,
        stream: &mut St,
        loss: L,
    ) -> Result<TrainReport, TrainError>
    where
        I: InputLayer + for<'a> InputFeed<St::Row<'a>>,
        S: Stack<In = I::Out>,
        St: Stream,
        for<'a> St::Row<'a>: AuxFields<Aux = A>,
        A: AuxValue,
        L: Loss<StreamRow<A>, S::Out>,
    {
        let (rank, size) = (self.comm.rank(), self.comm.size());
        let cache = self.trainer.cache.clone().map(|p| {
            if size == 1 {
                return p;
            }
            let mut name = p.into_os_string();
            name.push(format!(".rank{rank}-of-{size}"));
            name.into()
        });
        let link = self.link::<I, S>();
        let mut fit = |trainer: &Trainer<O>, net: &mut Net<I, S>, rewind: bool| {
            let link = self.link::<I, S>();
            let rewound = match rewind {
                true => stream.rewind().map_err(|e| TrainError::Read(e.to_string())),
                false => Ok(()),
            };
            let inputs = row_cache::inputs(&I::layout().roots);
            let feed = rewound.and_then(|()| trainer.stream_feed(stream, inputs, cache.clone()));
            match self.check().and(feed) {
                Ok(mut feed) => {
                    let shape = Typed::<I, S>::new();
                    trainer.fit_feed(&shape, net.parts_mut(), &mut feed, &loss, Some(&link))
                }
                Err(e) => Err(link.start(Err(&e)).err().unwrap_or(e)),
            }
        };
        match &self.checkpoint {
            Some(path) => checkpoint::passes(self, &link, net, path, |t, net| fit(t, net, true)),
            None => fit(&self.trainer(), net, false),
        }
    }

    /// The settings of this builder alone.
    pub(crate) fn check(&self) -> Result<(), TrainError> {
        if self.sync_rows == 0 {
            return Err(TrainError::Config(
                "sync_rows must be at least 1 row".into(),
            ));
        }
        Ok(())
    }

    /// The trainer this rank runs: silent but on rank 0.
    pub(crate) fn trainer(&self) -> Trainer<O> {
        let t = self.trainer.clone();
        if self.comm.rank() == 0 {
            t
        } else {
            t.progress(Progress::Silent)
        }
    }

    /// The link of a fit of `Net<I, S>`: what every rank's settings must agree on.
    fn link<I: InputLayer, S: Stack<In = I::Out>>(&self) -> Link<'c> {
        self.link_of(Net::<I, S>::topology())
    }

    /// The link of a fit of a net of `topology`.
    pub(crate) fn link_of(&self, topology: String) -> Link<'c> {
        let t = &self.trainer;
        let mut fields = vec![
            ("topology", topology),
            ("hashing scheme", crate::hash::SCHEME.to_string()),
            ("optimizer", t.opt.describe()),
            ("passes", t.passes.to_string()),
            ("seed", t.seed.to_string()),
            ("holdout", format!("{:?}", t.holdout)),
            ("early stopping", format!("{:?}", t.patience)),
            ("schedule", format!("{:?}", t.schedule)),
            ("mini-batch", t.batch.to_string()),
            ("shuffle", t.shuffle.to_string()),
            ("chunk rows", format!("{:?}", t.chunk_rows)),
            ("sync rows", self.sync_rows.to_string()),
        ];
        if let Some(plan) = &self.plan {
            fields.push(("shard plan", plan.clone()));
        }
        Link::new(self.comm, self.sync_rows, fields)
    }
}

impl<O: fmt::Debug> fmt::Debug for Ranked<'_, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ranked")
            .field("trainer", &self.trainer)
            .field("rank", &self.comm.rank())
            .field("size", &self.comm.size())
            .field("sync_rows", &self.sync_rows)
            .field("plan", &self.plan)
            .field("checkpoint", &self.checkpoint)
            .finish()
    }
}
