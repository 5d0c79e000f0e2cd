//! The learning rate `vf train` uses without `-l`: chosen on the data.
//!
//! The best one-pass AdaGrad rate differs by two orders of magnitude between data sets
//! (docs/cli.md): 1.0 on the synthetic 1M rows (56 rare features a row, unit-norm
//! rows), about 0.01 on the flights (7 frequent binary features a row, date-ordered),
//! where a rate of 1.0 gives a test log loss of 1.15, worse than the constant's 0.51.
//! No fixed default serves both. So,
//! as fastText's autotune and the `vf tune` search do with more time, the rate is
//! measured: each of seven rates, a factor of √10 apart around the optimizer's
//! default, trains one pass over the first 80% of the first 100,000 rows, and is
//! scored by its loss on the next 20%. The rows scored come after the rows trained, so
//! data that drifts with time (most logs) picks a rate that holds up on later rows, as
//! a test split taken later in time asks. The rows are in memory: when training
//! streams its file (`-c`), its first rows are read into memory once for the probe, so
//! the seven trials run in parallel and no trial reads the text again.

use crate::args::TrainArgs;
use crate::error::{train, CliError};
use crate::optimizers::with_optimizer;
use crate::rows::RowStream;
use crate::train::prior;
use vectorflow::dynnet::{DynLoss, DynNet};
use vectorflow::loss::Loss;
use vectorflow::optim::Optimizer;
use vectorflow::prelude::*;
use vectorflow::train::{Stream, TrainError};

/// The rows the probe reads at most: 80% train it, 20% score it.
pub const PROBE_ROWS: usize = 100_000;

/// Fewer rows than this and the default rate is kept: too few to score a rate.
const MIN_ROWS: usize = 200;

/// The rates tried, as factors of the optimizer's default: √10 apart.
const FACTORS: [f32; 7] = [1.0 / 300.0, 0.01, 1.0 / 30.0, 0.1, 1.0 / 3.0, 1.0, 3.0];

/// What the probe found: each rate's score (`None`: it diverged) and the rows used.
pub struct Probe {
    pub scores: Vec<(f32, Option<f64>)>,
    pub trained: usize,
    pub scored: usize,
}

impl Probe {
    /// The rate of the lowest loss (the lower rate on a tie).
    pub fn best(&self) -> Option<f32> {
        let scored = self.scores.iter().filter_map(|&(r, s)| Some((r, s?)));
        scored.min_by(|a, b| a.1.total_cmp(&b.1)).map(|(r, _)| r)
    }
}

/// Measures the rates around `base` for optimizer `name` on the first rows of `input`,
/// each training a copy of `net` (in parallel when the rows are in memory); `input` is
/// left rewound, whole. `None` when the data has too few rows to tell.
pub fn probe(
    a: &TrainArgs,
    name: &str,
    base: f32,
    net: &DynNet,
    input: &mut RowStream,
    loss: DynLoss,
) -> Result<Option<Probe>, CliError> {
    input.first(PROBE_ROWS).map_err(stream)?;
    let rows = count(input)?;
    if rows < MIN_ROWS {
        input.first(usize::MAX).map_err(stream)?;
        return Ok(None);
    }
    let trained = rows * 4 / 5;
    let rates: Vec<f32> = FACTORS.iter().map(|f| base * f).collect();
    let try_rate = |lr: f32, input: &mut RowStream| -> Result<Option<f64>, CliError> {
        let mut copy = net.clone();
        input.first(trained).map_err(stream)?;
        let fitted = with_optimizer!(name, lr, opt => fit(a, opt, &mut copy, input, loss))?;
        if !fitted {
            return Ok(None);
        }
        input.first(rows).map_err(stream)?;
        score(&copy, input, trained, loss)
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let scores = match input.fork() {
        // Rows in memory: the rates in parallel, each thread on its own stream over them.
        Some(_) if threads > 1 => std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.min(rates.len()))
                .map(|t| {
                    let (rates, try_rate) = (&rates, &try_rate);
                    let mut own = input.fork().expect("rows in memory");
                    scope.spawn(move || {
                        (rates.iter().enumerate().skip(t).step_by(threads))
                            .map(|(i, &lr)| Ok((i, try_rate(lr, &mut own)?)))
                            .collect::<Result<Vec<_>, CliError>>()
                    })
                })
                .collect();
            let mut scores = vec![None; rates.len()];
            for w in workers {
                let done = w
                    .join()
                    .map_err(|_| crate::error::data("a probe thread failed"))?;
                for (i, s) in done? {
                    scores[i] = s;
                }
            }
            Ok::<_, CliError>(scores)
        })?,
        _ => (rates.iter().map(|&lr| try_rate(lr, input))).collect::<Result<Vec<_>, _>>()?,
    };
    input.first(usize::MAX).map_err(stream)?;
    Ok(Some(Probe {
        scores: rates.into_iter().zip(scores).collect(),
        trained,
        scored: rows - trained,
    }))
}

/// One pass of `opt` over `input` on one thread with the flags' priors and seed; false
/// when it diverged.
// One function per trainer (see train.rs's `fit`).
#[inline(never)]
fn fit<O: Optimizer>(
    a: &TrainArgs,
    opt: O,
    net: &mut DynNet,
    input: &mut RowStream,
    loss: DynLoss,
) -> Result<bool, CliError> {
    let mut t = Trainer::new(opt)
        .passes(1)
        .seed(a.seed)
        .progress(Progress::Silent);
    if let Some(p) = prior(a) {
        t = t.prior(p);
    }
    match t.fit_stream_dyn(net, input, loss) {
        Ok(_) => Ok(true),
        Err(
            TrainError::NonFiniteLoss { .. }
            | TrainError::NonFiniteGradient { .. }
            | TrainError::NonFiniteState { .. },
        ) => Ok(false),
        Err(e) => Err(train(e)),
    }
}

/// The rows of a pass of `input`, which is left rewound.
fn count(input: &mut RowStream) -> Result<usize, CliError> {
    let mut rows = 0;
    while let k @ 1.. = input.read(4096, |_| {}).map_err(stream)? {
        rows += k;
    }
    input.rewind().map_err(stream)?;
    Ok(rows)
}

/// The mean loss, weighted by the rows' weights, of `net` on the rows of a pass of
/// `input` after the first `skip`; `None` when it is not finite.
pub fn score(
    net: &DynNet,
    input: &mut RowStream,
    skip: usize,
    loss: DynLoss,
) -> Result<Option<f64>, CliError> {
    let (mut at, mut sum, mut weight) = (0usize, 0.0f64, 0.0f64);
    let mut grad = vec![0.0f32; net.outputs()];
    let mut predictor = net.predictor();
    let mut failed = None;
    loop {
        let n = input
            .read(4096, |row| {
                at += 1;
                if at <= skip || failed.is_some() {
                    return;
                }
                match predictor.predict(row) {
                    Ok(out) => {
                        let w = f64::from(row.weight());
                        sum += w * f64::from(loss.loss(out, row, &mut grad));
                        weight += w;
                    }
                    Err(e) => failed = Some(format!("row {at}: {e}")),
                }
            })
            .map_err(stream)?;
        if n == 0 {
            break;
        }
    }
    if let Some(m) = failed {
        return Err(crate::error::data(format!("{}: {m}", input.name())));
    }
    let mean = sum / weight;
    Ok(mean.is_finite().then_some(mean))
}

/// A stream's error: the data's.
fn stream(e: vectorflow::train::StreamError) -> CliError {
    crate::error::data(e)
}
