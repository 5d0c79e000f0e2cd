//! Training: a generic Hogwild solver.
//!
//! [`Trainer`] is a builder; [`Trainer::fit`] trains any network on a slice of any row
//! type with any loss that fits the network's output. Each pass shuffles the training
//! rows (seeded), splits them into one contiguous chunk per thread, and every thread runs
//! per-row SGD (or mini-batches) on the shared parameters without locks.
//!
//! **Soundness of Hogwild.** Threads share the weights and optimizer state as
//! `&[AtomicF32]` (see [`crate::params::as_atomic`]) and access them only with Relaxed
//! atomic loads and stores: no `&mut` is aliased and no `static mut` exists, so the
//! races Hogwild tolerates (two threads updating one weight, one update lost) are
//! well-defined. On x86-64 and ARM64 a Relaxed load or store is an ordinary move. Each
//! thread owns its activations, gradients, input cache and random stream. With one
//! thread no atomics are used at all, and a seed gives bit-identical results.

mod priors;
mod progress;
mod report;
mod state;
mod store;
mod validate;

pub use priors::Prior;
pub use progress::Progress;
pub use report::{PassReport, TrainError, TrainReport};
pub use state::TrainState;

use crate::features::Features;
use crate::layers::{InputFeed, Zeroed};
use crate::loss::Loss;
use crate::network::{Net, Stack, Workspace};
use crate::optim::Optimizer;
use crate::params::{as_atomic, as_atomic_u32};
use crate::rng::{splitmix64, Rng};
use priors::Priors;
use progress::Counters;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use store::{apply_batch, Batch, Plain, Shared, Stepper, Store};

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
}

impl<O: Optimizer> Trainer<O> {
    /// A trainer with optimizer `opt`: 1 pass, all cores, per-row updates, shuffled,
    /// no holdout, constant rate, seed 0, live progress.
    pub fn new(opt: O) -> Trainer<O> {
        Trainer {
            opt,
            passes: 1,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            batch: 1,
            shuffle: true,
            holdout: Holdout::None,
            patience: None,
            schedule: Schedule::Constant,
            seed: 0,
            progress: Progress::Auto,
            prior_all: Prior::default(),
            priors: Vec::new(),
        }
    }
    /// The number of passes over the rows.
    pub fn passes(self, passes: usize) -> Self {
        Trainer { passes, ..self }
    }
    /// The number of Hogwild threads.
    pub fn threads(self, threads: usize) -> Self {
        Trainer { threads, ..self }
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
        self.check()?;
        if rows.len() > u32::MAX as usize {
            return Err(TrainError::Config("at most 2^32 − 1 rows per call".into()));
        }
        let (mut train, mut holdout) = (Vec::new(), Vec::new());
        for i in 0..rows.len() {
            if self.is_holdout(i) {
                holdout.push(i as u32);
            } else {
                train.push(i as u32);
            }
        }
        if train.is_empty() {
            return Err(TrainError::NoRows);
        }
        validate::holdout::<I, S, R, L>(rows, &holdout, &loss)?;
        let n_params = net.params().len();
        let state = net.parts_mut().1.take();
        let mut state = state
            .filter(|s| s.fits::<O>(n_params))
            .unwrap_or_else(|| TrainState::new(&self.opt, net.params()));
        let result = self.passes_on(net, &mut state, rows, &train, &holdout, &loss);
        // Kept whatever happened: the state matches the weights as training left them.
        *net.parts_mut().1 = Some(state);
        result
    }

    /// Runs the passes of [`Trainer::fit`] on the `train` rows of `rows`, reporting the
    /// loss on the `holdout` rows, continuing from `state`.
    fn passes_on<I, S, R, L>(
        &self,
        net: &mut Net<I, S>,
        state: &mut TrainState,
        rows: &[R],
        train: &[u32],
        holdout: &[u32],
        loss: &L,
    ) -> Result<TrainReport, TrainError>
    where
        I: InputFeed<R>,
        S: Stack<In = I::Out>,
        R: Features + Sync,
        L: Loss<R, S::Out>,
    {
        let lr = self.opt.lr();
        let priors = Priors::new(
            Net::<I, S>::blocks(),
            |layer| {
                self.priors
                    .iter()
                    .find(|(l, _)| *l == layer)
                    .map_or(self.prior_all, |p| p.1)
            },
            lr,
        );
        let mut stamps = vec![0u32; priors.stamps];
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(self.threads)
            .build()
            .map_err(|e| {
                TrainError::Config(format!("cannot start {} threads: {e}", self.threads))
            })?;
        let counters = Counters::new();
        let total = (train.len() * self.passes) as u64;
        let mut order = train.to_vec();
        let mut report = TrainReport::default();
        let mut best: Option<(f64, usize, Vec<f32>)> = None;
        let start = Instant::now();
        let error = Mutex::new(None);
        let stop = AtomicBool::new(false);

        std::thread::scope(|scope| -> Result<(), TrainError> {
            scope.spawn(|| progress::report(self.progress, &counters, total, start));
            // Ends the progress thread however this closure ends, a panic included:
            // the scope would otherwise wait for it forever.
            let _done = progress::Done(&counters.done);
            (|| {
                for pass in 1..=self.passes {
                    let t0 = Instant::now();
                    let (rows0, nnz0) = (
                        counters.rows.load(Ordering::Relaxed),
                        counters.nnz.load(Ordering::Relaxed),
                    );
                    let (l0, w0) = *counters.loss.lock().unwrap_or_else(|e| e.into_inner());
                    // Each pass's order and masks depend on the seed and on how many
                    // passes the net has had, so a resumed run repeats an unbroken one.
                    let global = state.passes() + 1;
                    if self.shuffle {
                        order.copy_from_slice(train);
                        Rng::new(self.seed ^ global.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                            .shuffle(&mut order);
                    }
                    let train = &order;
                    let clock = state.rows();
                    let job = Job {
                        trainer: self,
                        rows,
                        loss,
                        priors: &priors,
                        counters: &counters,
                        stop: &stop,
                        error: &error,
                        pass,
                    };
                    let [p0, p1, p2] = state.planes_mut();
                    // Prior stamps count this pass's rows; the flush brings every row to
                    // the pass's end, after which they start again from 0.
                    let now = train.len() as u32;
                    let scale_end = self.schedule.scale(clock + train.len() as u64);
                    if self.threads == 1 {
                        let mut store = Plain {
                            w: net.params_mut(),
                            s: [p0, p1, p2],
                            stamps: &mut stamps,
                        };
                        job.run::<I, S, _>(
                            &mut store,
                            train,
                            Clock {
                                pass: clock,
                                stride: 1,
                                phase: 0,
                            },
                            splitmix64(&mut (self.seed ^ global)),
                        );
                        priors.flush(&mut store, now, scale_end);
                        stamps.fill(0);
                    } else {
                        let store = Shared {
                            w: as_atomic(net.params_mut()),
                            s: [as_atomic(p0), as_atomic(p1), as_atomic(p2)],
                            stamps: as_atomic_u32(&mut stamps),
                        };
                        let chunk = train.len().div_ceil(self.threads);
                        pool.scope(|s| {
                            for (t, part) in train.chunks(chunk).enumerate() {
                                let job = &job;
                                let mut seed = self.seed ^ (global << 32) ^ t as u64;
                                let seed = splitmix64(&mut seed);
                                let mut store = store;
                                // Threads advance together, so each counts the rows of
                                // all of them: its k-th row is row k·T + t of the pass.
                                let clock = Clock {
                                    pass: clock,
                                    stride: self.threads,
                                    phase: t,
                                };
                                s.spawn(move |_| job.run::<I, S, _>(&mut store, part, clock, seed));
                            }
                        });
                        priors.flush(&mut { store }, now, scale_end);
                        stamps.fill(0);
                    }
                    if let Some(e) = error.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        return Err(e);
                    }
                    state.end_pass(train.len() as u64);
                    let holdout_loss = (!holdout.is_empty()).then(|| {
                        holdout_loss::<I, S, R, L>(&pool, net.params(), rows, holdout, loss)
                    });
                    if let Some(h) = holdout_loss {
                        counters.holdout.store(h.to_bits(), Ordering::Relaxed);
                    }
                    let (l1, w1) = *counters.loss.lock().unwrap_or_else(|e| e.into_inner());
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
                    if let (Some(patience), Some(h)) = (self.patience, holdout_loss) {
                        match &best {
                            // A NaN holdout loss is no improvement.
                            Some((b, _, _)) if h.is_nan() || h >= *b => {
                                let best_pass = best.as_ref().map_or(pass, |b| b.1);
                                if pass - best_pass >= patience {
                                    report.stopped_early = pass < self.passes;
                                    break;
                                }
                            }
                            _ if h.is_nan() => {}
                            _ => best = Some((h, pass, net.params().to_vec())),
                        }
                    }
                }
                Ok(())
            })()
        })?;
        if let Some((_, pass, params)) = best {
            if pass != report.passes.len() {
                net.params_mut().copy_from_slice(&params);
            }
            report.best_pass = pass;
        }
        Ok(report)
    }
}

/// Where a thread's rows fall in training time: its k-th row of the pass is row
/// `k·stride + phase` of the pass, and `pass` rows came before the pass.
#[derive(Clone, Copy)]
struct Clock {
    pass: u64,
    stride: usize,
    phase: usize,
}

/// What every thread of a pass shares.
struct Job<'a, T, R, L> {
    trainer: &'a T,
    rows: &'a [R],
    loss: &'a L,
    priors: &'a Priors,
    counters: &'a Counters,
    stop: &'a AtomicBool,
    error: &'a Mutex<Option<TrainError>>,
    pass: usize,
}

impl<O: Optimizer, R: Features + Sync, L> Job<'_, Trainer<O>, R, L> {
    /// Trains on the rows `order` names, the thread's share of a pass.
    fn run<I, S, St>(&self, store: &mut St, order: &[u32], clock: Clock, seed: u64)
    where
        I: InputFeed<R>,
        S: Stack<In = I::Out>,
        L: Loss<R, S::Out>,
        St: Store,
    {
        let t = self.trainer;
        let mut ws = Workspace::<I, S>::train(seed);
        let (mut batch, mut pending) = (Batch::default(), 0);
        let (mut rows, mut nnz, mut loss_sum, mut weight_sum) = (0u64, 0u64, 0f64, 0f64);
        let priors = self.priors.active();
        let fail = |e: TrainError| {
            let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                *slot = Some(e);
            }
            self.stop.store(true, Ordering::Relaxed);
        };
        for (k, &ri) in order.iter().enumerate() {
            if k % 64 == 0 && self.stop.load(Ordering::Relaxed) {
                break;
            }
            let row = &self.rows[ri as usize];
            if let Err(source) = Net::<I, S>::load_row(&mut ws, row) {
                fail(TrainError::Feature {
                    pass: self.pass,
                    row: ri as usize,
                    source,
                });
                break;
            }
            if let Err(e) = validate::row(self.loss, row, self.pass, ri as usize) {
                fail(e);
                break;
            }
            let in_pass = k * clock.stride + clock.phase;
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
                fail(TrainError::NonFiniteLoss {
                    pass: self.pass,
                    row: ri as usize,
                    loss: l,
                });
                break;
            }
            // Before the backward pass, so that no weight takes a NaN step.
            if let Err(e) = validate::gradient(dy.as_ref(), self.pass, ri as usize) {
                fail(e);
                break;
            }
            rows += 1;
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
            if rows % 512 == 0 {
                self.counters.add(rows, nnz, loss_sum, weight_sum);
                (rows, nnz, loss_sum, weight_sum) = (0, 0, 0.0, 0.0);
            }
        }
        if pending > 0 {
            let end = clock.pass + (order.len() * clock.stride) as u64;
            apply_batch(&t.opt, store, &mut batch, pending, t.schedule.scale(end));
        }
        self.counters.add(rows, nnz, loss_sum, weight_sum);
    }
}

/// The weighted mean loss of the holdout rows (rows whose features or loss are not
/// finite are left out).
fn holdout_loss<I, S, R, L>(
    pool: &rayon::ThreadPool,
    params: &[f32],
    rows: &[R],
    idx: &[u32],
    loss: &L,
) -> f64
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
    R: Features + Sync,
    L: Loss<R, S::Out>,
{
    use rayon::prelude::*;
    let (l, w) = pool.install(|| {
        idx.par_chunks(4096)
            .map(|chunk| {
                let mut ws = Workspace::<I, S>::predict();
                let (mut l, mut w) = (0.0f64, 0.0f64);
                for &i in chunk {
                    let row = &rows[i as usize];
                    if let Ok(out) = Net::<I, S>::forward(params, &mut ws, row) {
                        let out = *out;
                        let loss = loss.loss(&out, row, &mut S::Out::zeroed());
                        if loss.is_finite() {
                            l += loss as f64;
                            w += row.weight() as f64;
                        }
                    }
                }
                (l, w)
            })
            .reduce(|| (0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    // No usable holdout row: NaN, which early stopping never counts as an improvement.
    if w > 0.0 {
        l / w
    } else {
        f64::NAN
    }
}
