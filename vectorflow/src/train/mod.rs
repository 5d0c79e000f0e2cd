//! Training: SGD with sparse updates on one thread (the default) or several.
//!
//! [`Trainer`] is a builder; [`Trainer::fit`] trains any network on a slice of any row
//! type, and [`Trainer::fit_stream`] on a [`Stream`] of rows in bounded memory, with any
//! loss that fits the network's output. Both run one pass driver over chunks of rows:
//!
//! - a slice's chunks are runs of its rows in a seeded order per pass (its holdout
//!   rows last, so they are scored with the pass's final weights);
//! - a stream's chunks are read and hashed by a reader thread while the threads train
//!   on the chunk before, and shuffled within the chunk.
//!
//! Each chunk's training rows are split into one contiguous part per thread, and every
//! thread runs per-row SGD (or mini-batches) on its part, without locks.
//! What a pass depends on besides the weights (optimizer state, passes and rows so far)
//! is a [`TrainState`] the net keeps, so training continues across calls and files (it
//! lives in [`crate::optim`], so that the net and model files need not import the
//! trainer). The parts: `pass` (the pass driver), `step` (the
//! per-row step, which reaches the net only through `crate::trainable::Trainable`),
//! `feed`/`chunk`/`stream` (where rows come from), `sharing` (how threads share the
//! weights, one file per scheme: `one_thread`, `hogwild`, `replicas`), `store` (the
//! buffers a fit trains and how threads read and update them: plain, shared, packed,
//! replica copies and their merges), `priors`, `early` (early stopping), `validate`,
//! `progress` and `report`.
//!
//! **How threads share the weights** ([`Sharing`]). With one thread, training updates
//! the net's buffers in place, and a seed gives bit-identical results. With several:
//!
//! - **Replicas** (the default): each thread trains its own copy of the weights and
//!   optimizer state, with the same vectorised code as one thread, in rounds of up to
//!   8,192 rows per thread. After each round the threads merge together, each over
//!   its own piece of every buffer: every thread's changes to the *hot* parameters
//!   are added into the net and copied back (the
//!   biases, the dense layers and the Zipf head of the sparse rows: the 64-byte units
//!   that at least 1/64 of the first round's rows touched). The *tail*, every other
//!   touched unit, is merged the same way every 32 rounds and at the end of each pass.
//!   While threads train, no cache line is shared, so none moves between cores, and
//!   no memory is shared at all: there are no atomics and no data races, and a seed
//!   and a thread count give bit-identical results. The cost is one copy of the
//!   weights and state per thread, and a merge proportional to the units touched.
//! - **Hogwild**: the threads share one copy as `&[AtomicF32]` (see
//!   [`crate::params::as_atomic`]), accessed only with Relaxed atomic loads and stores,
//!   so the races Hogwild tolerates (two threads updating one weight, one update lost)
//!   are well-defined: no `&mut` is aliased and no `static mut` exists. It needs no
//!   extra memory, but every row writes the output bias and the popular features'
//!   rows, whose cache lines then bounce between the cores, and atomic rows of 16
//!   floats are loaded and stored one float at a time. Lazy priors need it (their
//!   stamps are shared), so [`Sharing::Auto`] uses it when priors are on.
//!
//! Each thread owns its activations, gradients, row inputs and random stream.
//! `examples/threads.rs` measures both schemes against one thread and against the
//! machine's ceiling (two independent fits at once, sharing nothing).

pub(crate) use row_cache::fuzz_block as fuzz_cache_block;
mod chunk;
mod early;
mod feed;
mod hogwild;
mod one_thread;
mod pass;
mod priors;
mod progress;
mod ranks;
mod replicas;
mod report;
mod row_cache;
#[cfg(test)]
mod seam_tests;
mod sharing;
mod step;
mod store;
mod stream;
mod validate;

pub use chunk::StreamRow;
pub(crate) use feed::SliceFeed;
pub use priors::Prior;
pub use progress::Progress;
pub(crate) use ranks::checkpoint;
pub use ranks::{Ranked, DEFAULT_SYNC_ROWS};
pub(crate) use row_cache::inputs as cache_inputs;

/// Re-exported from [`crate::optim`], where it lives beside the optimizers whose state it
/// holds.
pub use crate::optim::TrainState;
pub use report::{PassReport, TrainError, TrainReport};
pub use stream::{Stream, StreamError};

use crate::features::{AuxFields, AuxValue, Features};
use crate::layers::{InputFeed, InputLayer};
use crate::loss::Loss;
use crate::network::{Net, Stack};
use crate::optim::Optimizer;
use crate::rng::splitmix64;
use crate::trainable::{LoadRow, Trainable, Typed};
use crate::weights::Weights;
use chunk::Chunk;
use feed::Feed;
use stream::StreamFeed;

/// Which rows are held out of training to measure the loss after each pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Holdout {
    /// No holdout.
    None,
    /// A pseudo-random fraction of the rows (a fixed function of the row index and seed).
    Fraction(f64),
    /// Every k-th row (rows k−1, 2k−1, ...), as Vowpal Wabbit does with k = 10.
    EveryKth(usize),
}

/// The learning-rate schedule: a factor on the optimizer's rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// A constant rate.
    Constant,
    /// Vowpal Wabbit's power-t decay: `(t0 / (t0 + t))^power` after `t` training rows.
    PowerT {
        /// The offset (VW's `initial_t`, here at least 1).
        t0: f64,
        /// The exponent (VW's `power_t`, 0.5 by default there).
        power: f64,
    },
}

impl Schedule {
    #[inline]
    fn scale(&self, t: u64) -> f32 {
        match *self {
            Schedule::Constant => 1.0,
            Schedule::PowerT { t0, power } => (t0 / (t0 + t as f64)).powf(power) as f32,
        }
    }
}

/// Rows per chunk of a slice, unless [`Trainer::chunk_rows`] says otherwise.
pub const SLICE_CHUNK: usize = 1 << 15;

/// Rows per chunk of a stream, unless [`Trainer::chunk_rows`] says otherwise.
pub const STREAM_CHUNK: usize = 1 << 12;

/// Trains networks: a builder of training settings.
///
/// ```
/// use vectorflow::prelude::*;
///
/// #[derive(Features)]
/// struct Row {
///     #[label]
///     y: bool,
///     #[hash]
///     word: &'static str,
/// }
///
/// let rows: Vec<Row> = (0..2000)
///     .map(|i| Row { y: i % 2 == 0, word: if i % 2 == 0 { "good" } else { "bad" } })
///     .collect();
/// type Lr = network![Sparse<{ 1 << 10 }> => Linear<1>];
/// let mut net = Lr::new(Init::zeros());
/// let report = Trainer::new(AdaGrad::new(0.5))
///     .passes(2)
///     .threads(1)
///     .progress(Progress::Silent)
///     .fit(&mut net, &rows, Logistic)
///     .unwrap();
/// assert!(report.last().unwrap().train_loss < 0.1);
/// assert!(net.predict(&rows[0]).unwrap()[0] > 2.0);
/// ```
#[derive(Clone, Debug)]
pub struct Trainer<O> {
    opt: O,
    passes: usize,
    threads: usize,
    batch: usize,
    shuffle: bool,
    holdout: Holdout,
    patience: Option<usize>,
    schedule: Schedule,
    seed: u64,
    progress: Progress,
    prior_all: Prior,
    priors: Vec<(usize, Prior)>,
    /// `None`: [`SLICE_CHUNK`] for a slice, [`STREAM_CHUNK`] for a stream.
    chunk_rows: Option<usize>,
    cache: Option<std::path::PathBuf>,
    sharing: Sharing,
}

/// How several training threads share the weights ([`Trainer::sharing`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sharing {
    /// [`Sharing::Replicas`], or [`Sharing::Hogwild`] where replicas do not apply (with
    /// priors).
    #[default]
    Auto,
    /// Each thread trains its own copy of the weights and optimizer state, merged into
    /// the net's at chunk boundaries: no cache line is shared while threads train, and
    /// the result is deterministic for a thread count. Costs one copy of the weights
    /// and state per thread. Not with priors.
    Replicas,
    /// Threads update one copy of the weights and state with Relaxed atomics, lock-free;
    /// an update may be lost when two threads write one weight at once.
    Hogwild,
}

impl<O: Optimizer> Trainer<O> {
    /// A trainer with optimizer `opt`: 1 pass, 1 thread (see [`Trainer::threads`]),
    /// per-row updates, shuffled,
    /// no holdout, constant rate, seed 0, live progress.
    pub fn new(opt: O) -> Trainer<O> {
        Trainer {
            opt,
            passes: 1,
            threads: 1,
            batch: 1,
            shuffle: true,
            holdout: Holdout::None,
            patience: None,
            schedule: Schedule::Constant,
            seed: 0,
            progress: Progress::Auto,
            prior_all: Prior::default(),
            priors: Vec::new(),
            chunk_rows: None,
            cache: None,
            sharing: Sharing::Auto,
        }
    }
    /// The number of passes over the rows.
    pub fn passes(self, passes: usize) -> Self {
        Trainer { passes, ..self }
    }
    /// The number of training threads (1 by default, so that a seed gives the same model
    /// on every machine and no replica of the weights is made unasked). On the 2-core
    /// virtual machines of `docs/performance.md` two threads with replicas trained logistic
    /// regression 0.8–1.7× as fast as one and `Sparse → 16 → ReLU → 1` 0.6–1.5×, at
    /// 70–93% of what two fits sharing nothing reached at the time (0.7–1.8×): training
    /// is bound by memory traffic, which the cores share. Each replica holds a copy of
    /// the weights and optimizer state. Measure your machine with `examples/threads.rs`
    /// before setting more.
    pub fn threads(self, threads: usize) -> Self {
        Trainer { threads, ..self }
    }
    /// How several threads share the weights ([`Sharing::Auto`] by default).
    pub fn sharing(self, sharing: Sharing) -> Self {
        Trainer { sharing, ..self }
    }

    /// Whether several threads train replicas (see [`Sharing`]), given whether priors
    /// are active.
    fn replicated(&self, priors: bool) -> bool {
        self.threads > 1
            && match self.sharing {
                Sharing::Auto => !priors,
                Sharing::Replicas => true,
                Sharing::Hogwild => false,
            }
    }
    /// Rows per update (1: per-row SGD). A mini-batch's gradients are averaged.
    pub fn batch(self, batch: usize) -> Self {
        Trainer { batch, ..self }
    }
    /// Whether each pass visits the rows in a new seeded order (on by default).
    pub fn shuffle(self, shuffle: bool) -> Self {
        Trainer { shuffle, ..self }
    }
    /// The holdout rows, whose loss is reported after each pass.
    pub fn holdout(self, holdout: Holdout) -> Self {
        Trainer { holdout, ..self }
    }
    /// Stops when the holdout loss has not improved for `patience` passes, and keeps the
    /// weights of the best pass. Needs a holdout.
    pub fn early_stopping(self, patience: usize) -> Self {
        Trainer {
            patience: Some(patience),
            ..self
        }
    }
    /// The learning-rate schedule.
    pub fn schedule(self, schedule: Schedule) -> Self {
        Trainer { schedule, ..self }
    }
    /// Rows per chunk: the unit the threads share and, for a stream, the reading unit
    /// and the shuffle window. By default 32,768 for a slice ([`SLICE_CHUNK`]) and 4,096
    /// for a stream ([`STREAM_CHUNK`]), whose chunks are small enough that the rows the
    /// reader thread has just hashed or decoded are still in the CPU caches when they
    /// are trained on (with chunks of 32,768 rows, passes from the cache ran at 0.7-0.8×
    /// the speed of 4,096). Memory for a stream is about two chunks of hashed rows.
    pub fn chunk_rows(self, chunk_rows: usize) -> Self {
        Trainer {
            chunk_rows: Some(chunk_rows),
            ..self
        }
    }
    /// A binary cache file for [`Trainer::fit_stream`]: the first pass writes the
    /// stream's hashed rows to it (atomically: it appears when complete), and later
    /// passes read it instead of the stream, several times faster than parsing text;
    /// a one-pass stream can then be trained for several passes. A later `fit` reuses
    /// a cache built for the same net inputs, chunk size, row type and spec
    /// ([`Features::SPEC`]) and [`Stream::source`]
    /// (for a file: its content identity and the reader's options), and rebuilds any
    /// other.
    pub fn cache(self, path: impl Into<std::path::PathBuf>) -> Self {
        Trainer {
            cache: Some(path.into()),
            ..self
        }
    }
    /// The seed of shuffles and dropout masks.
    pub fn seed(self, seed: u64) -> Self {
        Trainer { seed, ..self }
    }
    /// How progress is shown.
    pub fn progress(self, progress: Progress) -> Self {
        Trainer { progress, ..self }
    }
    /// A prior on the weights of every layer (biases excluded).
    pub fn prior(self, prior: Prior) -> Self {
        Trainer {
            prior_all: prior,
            ..self
        }
    }
    /// A prior on the weights of one layer: 0 is the input layer, then each `Linear`
    /// after it in order. Overrides [`Trainer::prior`] for that layer.
    pub fn layer_prior(mut self, layer: usize, prior: Prior) -> Self {
        self.priors.retain(|(l, _)| *l != layer);
        self.priors.push((layer, prior));
        self
    }

    fn check(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::Config(m.to_string()));
        if self.passes == 0 {
            return bad("passes must be at least 1");
        }
        if self.threads == 0 {
            return bad("threads must be at least 1");
        }
        if self.batch == 0 {
            return bad("the mini-batch size must be at least 1");
        }
        if self.chunk_rows == Some(0) {
            return bad("chunks must hold at least 1 row");
        }
        match self.holdout {
            Holdout::Fraction(f) if !(0.0..1.0).contains(&f) => {
                return bad("the holdout fraction must be in [0, 1)")
            }
            Holdout::EveryKth(k) if k < 2 => return bad("a holdout of every k-th row needs k ≥ 2"),
            _ => {}
        }
        if self.patience.is_some() && self.holdout == Holdout::None {
            return bad("early stopping needs a holdout");
        }
        if let Schedule::PowerT { t0, power } = self.schedule {
            if !(t0 >= 1.0 && power >= 0.0 && t0.is_finite() && power.is_finite()) {
                return bad("power-t decay needs a finite t0 ≥ 1 and a finite power ≥ 0");
            }
        }
        self.check_values().map_err(TrainError::Config)
    }

    fn is_holdout(&self, i: usize) -> bool {
        match self.holdout {
            Holdout::None => false,
            Holdout::EveryKth(k) => i % k == k - 1,
            Holdout::Fraction(f) => {
                let mut s = self.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                (splitmix64(&mut s) >> 11) as f64 / (1u64 << 53) as f64 <= f
            }
        }
    }

    /// Trains `net` on `rows` with `loss`, continuing from the net's current weights.
    ///
    /// Fails before training on a setting out of range ([`TrainError::Config`], naming
    /// the setting and its value), and during it, naming the pass, the row and the
    /// field, on a non-finite feature value, a label the loss does not accept, a
    /// negative or non-finite row weight, or a non-finite loss or gradient. A bad row
    /// stops training before its update: no weight takes a NaN step.
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
        self.fit_rows(&Typed::<I, S>::new(), net.parts_mut(), rows, &loss)
    }

    /// [`Trainer::fit`] for a net of shape `shape` whose weights and state are `parts`.
    pub(crate) fn fit_rows<M, R, L>(
        &self,
        shape: &M,
        parts: (&mut Weights, &mut Option<TrainState>),
        rows: &[R],
        loss: &L,
    ) -> Result<TrainReport, TrainError>
    where
        M: LoadRow<R>,
        R: Features + Sync,
        L: Loss<R, M::Out>,
    {
        let mut feed = self.slice_feed(shape, rows, loss, false)?;
        self.fit_feed(shape, parts, &mut feed, loss, None)
    }

    /// The checked settings and the feed of `rows` for [`Trainer::fit`]; `none_ok`:
    /// whether a slice of no training rows is fine (a rank's, whose job has rows).
    pub(crate) fn slice_feed<'r, M, R, L>(
        &self,
        shape: &M,
        rows: &'r [R],
        loss: &L,
        none_ok: bool,
    ) -> Result<SliceFeed<'r, R>, TrainError>
    where
        M: LoadRow<R>,
        R: Features + Sync,
        L: Loss<R, M::Out>,
    {
        self.check()?;
        if rows.len() > u32::MAX as usize {
            return Err(TrainError::Config("at most 2^32 − 1 rows per call".into()));
        }
        let (train, holdout): (Vec<u32>, Vec<u32>) =
            (0..rows.len() as u32).partition(|&i| !self.is_holdout(i as usize));
        if train.is_empty() && !none_ok {
            return Err(TrainError::NoRows {
                input: String::new(),
            });
        }
        validate::holdout(shape, rows, &holdout, loss)?;
        Ok(SliceFeed::new(
            rows,
            (train, holdout),
            self.shuffle,
            self.seed,
            self.chunk_rows.unwrap_or(SLICE_CHUNK),
        ))
    }

    /// Trains `net` on the rows of `stream` with `loss`, like [`Trainer::fit`], in
    /// bounded memory: a reader thread reads and hashes the next chunk of rows
    /// ([`Trainer::chunk_rows`]) while the training threads work through this one.
    /// The first pass reads the stream from where it is, or from its start when it
    /// writes the [`Trainer::cache`] of a stream that knows its [`Stream::source`] (a
    /// cache holds every row of its source); each pass after it rewinds the stream (or
    /// reads the cache). Shuffling shuffles within each chunk.
    /// Row numbers in errors count from where the first pass started.
    ///
    /// A stream whose [`Stream::source`] changes while a pass reads it, or between
    /// passes (a file rewritten meanwhile), stops training with an error naming it, and
    /// no cache is built from it.
    ///
    /// The loss sees each row as a [`StreamRow`]: its label, its weight and its
    /// `#[aux]` fields ([`crate::features::aux`]), the only parts of a row kept once its
    /// features are hashed.
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
        let inputs = row_cache::inputs(&I::layout().roots);
        self.fit_stream_with(
            &Typed::<I, S>::new(),
            net.parts_mut(),
            inputs,
            stream,
            &loss,
        )
    }

    /// [`Trainer::fit_stream`] for a net of shape `shape` whose weights and state are
    /// `parts`, and whose inputs a cache records as `inputs`.
    pub(crate) fn fit_stream_with<M, St, L, A>(
        &self,
        shape: &M,
        parts: (&mut Weights, &mut Option<TrainState>),
        inputs: String,
        stream: &mut St,
        loss: &L,
    ) -> Result<TrainReport, TrainError>
    where
        M: for<'a> LoadRow<St::Row<'a>>,
        St: Stream,
        for<'a> St::Row<'a>: AuxFields<Aux = A>,
        A: AuxValue,
        L: Loss<StreamRow<A>, M::Out>,
    {
        let mut feed = self.stream_feed(stream, inputs, self.cache.clone())?;
        self.fit_feed(shape, parts, &mut feed, loss, None)
    }

    /// The checked settings and the feed of `stream` for [`Trainer::fit_stream`], whose
    /// net's inputs a cache records as `inputs`, with the binary cache at `cache`.
    fn stream_feed<'s, St, A>(
        &self,
        stream: &'s mut St,
        inputs: String,
        cache: Option<std::path::PathBuf>,
    ) -> Result<StreamFeed<'s, St, A>, TrainError>
    where
        St: Stream,
        for<'a> St::Row<'a>: AuxFields<Aux = A>,
        A: AuxValue,
    {
        self.check()?;
        let chunk_rows = self.chunk_rows.unwrap_or(STREAM_CHUNK);
        // Read once here, and again around each pass that reads the stream.
        let source = stream.source();
        let cache = match cache {
            Some(path) => {
                let key = row_cache::CacheKey {
                    hashing: crate::hash::SCHEME.to_string(),
                    inputs,
                    rows: row_cache::rows::<St::Row<'static>>(),
                    chunk_rows,
                    source: source.clone(),
                    aux: row_cache::aux_key::<A>(),
                };
                // A cache of an unknown source may hold other rows: it is rebuilt.
                let ready =
                    !key.source.is_empty() && row_cache::CacheReader::open(&path, &key)?.is_some();
                Some((path, key, ready))
            }
            None => None,
        };
        Ok(StreamFeed {
            stream,
            chunk_rows,
            shuffle: self.shuffle,
            seed: self.seed,
            started: false,
            source,
            cache,
            aux: std::marker::PhantomData,
        })
    }

    /// Takes the net's training state (or starts one), runs the passes and gives the
    /// state back to the net.
    pub(crate) fn fit_feed<M, F, L>(
        &self,
        shape: &M,
        (weights, slot): (&mut Weights, &mut Option<TrainState>),
        feed: &mut F,
        loss: &L,
        ranks: Option<&ranks::Link<'_>>,
    ) -> Result<TrainReport, TrainError>
    where
        M: Trainable,
        F: Feed<M>,
        L: Loss<<F::Chunk as Chunk<M>>::Row, M::Out>,
    {
        let skip = weights.table_ranges();
        let (mut state, keep) = match slot.take() {
            Some(s) => s.resume(&self.opt, weights.rest(), &skip),
            None => (TrainState::fresh(&self.opt, weights.rest(), &skip), false),
        };
        let result = self.run(shape, weights, &mut state, keep, feed, loss, ranks);
        // Kept whatever happened: the state matches the weights as training left them.
        *slot = Some(state);
        result
    }
}
