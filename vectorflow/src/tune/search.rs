//! Successive halving over trials, run in parallel, one pass at a time.
//!
//! Each rung trains its trials up to the rung's passes and keeps the best 1/η for the
//! next. A trial keeps its net (weights and training state) between rungs, so it
//! resumes where it stopped; while a rung runs, only the nets that are still among the
//! best 1/η are kept, which bounds memory to about n/η nets plus one per thread.

use super::fit::{Run, Tunable};
use super::report::{Outcome, Trial, TuneReport};
use super::space::{short, Setting};
use super::Tuner;
use crate::train::{Holdout, Progress, TrainError};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// A trial and what it needs to go on.
struct Slot<M> {
    trial: Trial,
    net: Option<M>,
    /// Passes since the best one.
    since_best: usize,
    /// No more passes: early-stopped, diverged, out of budget or at the most passes.
    done: bool,
}

/// What every worker shares.
struct Ctx<'a, T, F> {
    tuner: &'a Tuner,
    fresh: &'a F,
    data: &'a T,
    start: Instant,
    out_of_budget: AtomicBool,
    failed: AtomicBool,
}

impl<T, F> Ctx<'_, T, F> {
    /// Whether a pass may start: the budget is not spent, or it is the first pass of
    /// the first trial.
    fn may_start(&self, trial: &Trial) -> bool {
        let first = trial.id == 0 && trial.passes_run == 0;
        let spent = self.tuner.budget.is_some_and(|b| self.start.elapsed() >= b);
        if spent && !first {
            self.out_of_budget.store(true, Ordering::Relaxed);
        }
        !spent || first
    }
}

/// The rates, as factors of the leader's, at which the leader of the rung before the
/// last also runs the last rung.
const REFINE: [f32; 2] = [0.5, std::f32::consts::FRAC_1_SQRT_2];

impl<M> Slot<M> {
    /// Trial `id` of `setting`, not started.
    fn new(id: usize, setting: Setting) -> Mutex<Slot<M>> {
        Mutex::new(Slot {
            trial: Trial {
                id,
                setting: Setting {
                    passes: 0,
                    ..setting
                },
                loss: f64::INFINITY,
                passes_run: 0,
                seconds: 0.0,
                outcome: Outcome::Completed,
            },
            net: None,
            since_best: 0,
            done: false,
        })
    }
}

/// The ranking of trials: lower loss first, then lower id.
fn better(a: (f64, usize), b: (f64, usize)) -> bool {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).is_lt()
}

/// Trains `settings` through `rungs` (passes per rung, increasing), keeping the best
/// 1/η after each.
pub(crate) fn run<T, F>(
    tuner: &Tuner,
    settings: Vec<Setting>,
    rungs: &[usize],
    refine: bool,
    fresh: &F,
    data: &T,
) -> Result<TuneReport, TrainError>
where
    T: Tunable,
    F: Fn() -> T::Model + Sync,
{
    let ctx = Ctx {
        tuner,
        fresh,
        data,
        start: Instant::now(),
        out_of_budget: AtomicBool::new(false),
        failed: AtomicBool::new(false),
    };
    let mut slots: Vec<Mutex<Slot<T::Model>>> = settings
        .into_iter()
        .enumerate()
        .map(|(id, s)| Slot::new(id, s))
        .collect();
    let mut alive: Vec<usize> = (0..slots.len()).collect();
    // The best scored trial of the rung before.
    let mut leader: Option<usize> = None;
    for (r, &target) in rungs.iter().enumerate() {
        let last = r + 1 == rungs.len();
        if let Some(i) = leader.filter(|_| last && refine) {
            // Early rungs favour high rates, which learn fastest in a few passes: the
            // leader also runs the last rung at lower rates.
            let base = slots[i]
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .trial
                .setting;
            for f in REFINE {
                let lr = base.lr * f;
                alive.push(slots.len());
                slots.push(Slot::new(slots.len(), Setting { lr, ..base }));
            }
        }
        let lock = |i: usize| slots[i].lock().unwrap_or_else(|e| e.into_inner());
        let keep = if last {
            0
        } else {
            alive.len().div_ceil(tuner.eta)
        };
        rung(&ctx, &slots, &alive, target, keep, r)?;
        let mut ranked: Vec<(f64, usize)> =
            alive.iter().map(|&i| (lock(i).trial.loss, i)).collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        if last {
            break;
        }
        for &(_, i) in &ranked[keep..] {
            let mut s = lock(i);
            if !s.done {
                s.trial.outcome = Outcome::Halved;
                s.done = true;
            }
            s.net = None;
        }
        leader = ranked.first().filter(|b| b.0.is_finite()).map(|b| b.1);
        alive = ranked[..keep].iter().map(|&(_, i)| i).collect();
        alive.sort_unstable();
        if tuner.progress != Progress::Silent {
            let kept: Vec<String> = ranked[..keep]
                .iter()
                .map(|(l, i)| format!("#{i} {l:.5}"))
                .collect();
            eprintln!(
                "rung {r} ({target} passes): {} go on: {}",
                keep,
                kept.join(", ")
            );
        }
    }
    let trials: Vec<Trial> = slots
        .into_iter()
        .map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()).trial)
        .collect();
    let best = trials
        .iter()
        .filter(|t| t.scored())
        .min_by(|a, b| a.loss.total_cmp(&b.loss).then(a.id.cmp(&b.id)))
        .map(|t| t.id)
        .ok_or_else(|| {
            TrainError::Config(
                "no trial scored: every one diverged; lower the space's learning rates".into(),
            )
        })?;
    Ok(TuneReport {
        passes: trials.iter().map(|t| t.passes_run).sum(),
        trials,
        best,
        seconds: ctx.start.elapsed().as_secs_f64(),
        out_of_budget: ctx.out_of_budget.load(Ordering::Relaxed),
    })
}

/// Trains the trials `alive` up to `target` passes on the tuner's threads, keeping
/// the nets of the best `keep` only.
fn rung<T, F>(
    ctx: &Ctx<'_, T, F>,
    slots: &[Mutex<Slot<T::Model>>],
    alive: &[usize],
    target: usize,
    keep: usize,
    r: usize,
) -> Result<(), TrainError>
where
    T: Tunable,
    F: Fn() -> T::Model + Sync,
{
    let lock = |i: usize| slots[i].lock().unwrap_or_else(|e| e.into_inner());
    let next = AtomicUsize::new(0);
    // The best `keep` trials so far, best first.
    let board: Mutex<Vec<(f64, usize)>> = Mutex::new(Vec::with_capacity(keep + 1));
    let error: Mutex<Option<TrainError>> = Mutex::new(None);
    let workers = ctx.tuner.threads.min(alive.len()).max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let j = next.fetch_add(1, Ordering::Relaxed);
                if j >= alive.len() || ctx.failed.load(Ordering::Relaxed) {
                    break;
                }
                let i = alive[j];
                // Taken out of its slot while it trains, so no lock is held meanwhile.
                let (mut trial, mut net, mut since, mut done) = {
                    let mut s = lock(i);
                    (s.trial.clone(), s.net.take(), s.since_best, s.done)
                };
                let ran = trial.passes_run;
                if !done {
                    if let Err(e) =
                        advance(ctx, &mut trial, &mut net, &mut since, &mut done, target)
                    {
                        ctx.failed.store(true, Ordering::Relaxed);
                        error
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(e);
                        break;
                    }
                    if trial.passes_run > ran && ctx.tuner.progress != Progress::Silent {
                        progress_line(&trial, done, r);
                    }
                }
                if done {
                    net = None;
                }
                let key = (trial.loss, i);
                {
                    let mut s = lock(i);
                    (s.trial, s.since_best, s.done) = (trial, since, done);
                    s.net = net;
                }
                // Keep the net only while the trial is among the best `keep`.
                let mut b = board.lock().unwrap_or_else(|e| e.into_inner());
                let at = b.iter().position(|&o| better(key, o)).unwrap_or(b.len());
                b.insert(at, key);
                let evicted = if b.len() > keep { b.pop() } else { None };
                drop(b);
                if let Some((_, e)) = evicted {
                    lock(e).net = None;
                }
            });
        }
    });
    match error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Trains one trial pass by pass up to `target` passes, or until it stops.
fn advance<T, F>(
    ctx: &Ctx<'_, T, F>,
    trial: &mut Trial,
    net: &mut Option<T::Model>,
    since: &mut usize,
    done: &mut bool,
    target: usize,
) -> Result<(), TrainError>
where
    T: Tunable,
    F: Fn() -> T::Model + Sync,
{
    let t = ctx.tuner;
    let run = Run {
        passes: 1,
        threads: 1,
        holdout: Holdout::Fraction(t.validation),
        seed: t.seed,
    };
    let stop = |trial: &mut Trial, done: &mut bool, outcome| {
        trial.outcome = outcome;
        *done = true;
    };
    while trial.passes_run < target {
        if !ctx.may_start(trial) {
            stop(trial, done, Outcome::OutOfBudget);
            return Ok(());
        }
        let net = net.get_or_insert_with(ctx.fresh);
        let t0 = Instant::now();
        let fitted = trial.setting.fit_with(ctx.data, net, run);
        trial.seconds += t0.elapsed().as_secs_f64();
        let report = match fitted {
            Ok(r) => r,
            Err(
                TrainError::NonFiniteLoss { .. }
                | TrainError::NonFiniteGradient { .. }
                | TrainError::NonFiniteState { .. },
            ) => {
                trial.passes_run += 1;
                stop(trial, done, Outcome::Diverged);
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        trial.passes_run += 1;
        let Some(h) = report.passes.first().and_then(|p| p.holdout_loss) else {
            return Err(TrainError::Config(format!(
                "the validation share {} of the rows holds no row; raise it",
                t.validation
            )));
        };
        // A NaN loss is never an improvement.
        if h < trial.loss {
            trial.loss = h;
            trial.setting.passes = trial.passes_run;
            *since = 0;
        } else {
            *since += 1;
            if *since >= t.patience {
                stop(trial, done, Outcome::EarlyStopped);
                return Ok(());
            }
        }
    }
    if trial.passes_run >= t.space.passes() {
        stop(trial, done, Outcome::Completed);
    }
    Ok(())
}

/// One trial's line after a rung.
fn progress_line(t: &Trial, done: bool, rung: usize) {
    let status = match (done, t.outcome) {
        (false, _) => "",
        (true, Outcome::Completed) => " completed",
        (true, Outcome::EarlyStopped) => " early-stopped",
        (true, Outcome::Diverged) => " diverged",
        (true, Outcome::OutOfBudget) => " out of budget",
        (true, Outcome::Halved) => " halved",
    };
    eprintln!(
        "trial {:>4} rung {rung}: {:>3} passes {:>8.2} s  val {:.5} at pass {}  {} {}{status}",
        t.id,
        t.passes_run,
        t.seconds,
        t.loss,
        t.setting.passes,
        t.setting.opt.name(),
        format_args!(
            "lr={:.3e}{} l1={} l2={} batch={}",
            t.setting.lr,
            if t.setting.opt.has_init_acc() {
                format!(" init_acc={:e}", t.setting.init_acc)
            } else {
                String::new()
            },
            short(t.setting.l1),
            short(t.setting.l2),
            t.setting.batch
        ),
    );
}
