//! Checkpoints across ranks ([`Ranked::checkpoint`]): the job runs its passes one fit
//! at a time, and after each, rank 0 saves the net with its training state, atomically
//! (a crash leaves the previous checkpoint whole). A job restarted with the same
//! command finds it: rank 0 loads it, every rank starts the next fit from rank 0's
//! weights and state (as every fit across ranks does), and the job runs the passes it
//! had left.
//!
//! A fit's passes depend only on the weights, the training state (its pass and row
//! counts seed the shuffles and masks and drive the schedule) and the settings, so a
//! resumed job ends with the same weights as one that was never stopped. Beside the
//! model, a small file (the model's path with `.job` appended) records how many passes
//! the net had had when the job started; it is written once, before the first
//! checkpoint, so the two never disagree about the passes done.

use super::{Link, Ranked};
use crate::layers::InputLayer;
use crate::network::{Net, Stack};
use crate::optim::{Optimizer, TrainState};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::super::{PassReport, TrainError, TrainReport, Trainer};

/// A net a job checkpoints: a typed net, or a run-time one (its impl is in `dynnet`, which
/// the trainer does not import). Reading one back keeps the
/// net's shape (a run-time net's inputs keep their feature groups).
pub(crate) trait Checkpointed: Sized {
    /// Its training state, if it has one.
    fn state(&self) -> Option<&TrainState>;
    /// Writes it with its training state.
    fn write(&self, w: &mut Vec<u8>) -> Result<(), String>;
    /// Saves it with its training state, atomically.
    fn save_at(&self, path: &Path) -> Result<(), String>;
    /// The net of this shape in the model file `bytes`.
    fn read(&self, bytes: &[u8]) -> Result<Self, String>;
    /// The net of this shape in the model file at `path`.
    fn load_at(&self, path: &Path) -> Result<Self, String>;
}

impl<I: InputLayer, S: Stack<In = I::Out>> Checkpointed for Net<I, S> {
    fn state(&self) -> Option<&TrainState> {
        self.train_state()
    }
    fn write(&self, w: &mut Vec<u8>) -> Result<(), String> {
        self.to_writer(w).map_err(|e| e.to_string())
    }
    fn save_at(&self, path: &Path) -> Result<(), String> {
        self.save(path).map_err(|e| e.to_string())
    }
    fn read(&self, bytes: &[u8]) -> Result<Self, String> {
        Net::from_reader(bytes).map_err(|e| e.to_string())
    }
    fn load_at(&self, path: &Path) -> Result<Self, String> {
        Net::load(path).map_err(|e| e.to_string())
    }
}

/// Runs the passes of `ranked`'s job on `net`, one call of `pass` (a fit of one pass
/// with the trainer it is given) at a time, resuming from the checkpoint at `path`
/// when there is one and writing it after every pass.
pub(crate) fn passes<'c, O, N>(
    ranked: &Ranked<'c, O>,
    link: &Link<'c>,
    net: &mut N,
    path: &Path,
    mut pass: impl FnMut(&Trainer<O>, &mut N) -> Result<TrainReport, TrainError>,
) -> Result<TrainReport, TrainError>
where
    O: Optimizer,
    N: Checkpointed,
{
    let trainer = ranked.trainer();
    let ready = if trainer.patience.is_some() {
        // Early stopping would have to carry its best pass across the fits.
        Err(TrainError::Config(
            "early stopping is not supported with checkpoints: train without one of them".into(),
        ))
    } else if link.rank() == 0 {
        resume(net, path)
    } else {
        Ok(0)
    };
    let mut done = [*ready.as_ref().unwrap_or(&0)];
    link.settle(ready.map(|_| ()), &mut done)?;
    let mut report = TrainReport::default();
    if done[0] >= trainer.passes as u64 {
        // The job had finished: every rank takes rank 0's net, as a fit would have.
        let mut bytes = Vec::new();
        let written = match link.rank() {
            0 => net
                .write(&mut bytes)
                .map_err(|e| TrainError::Checkpoint(format!("sending {}: {e}", path.display()))),
            _ => Ok(()),
        };
        link.settle(written, &mut [])?;
        link.broadcast(&mut bytes, 0)?;
        let read = net
            .read(&bytes[..])
            .map(|n| *net = n)
            .map_err(|e| TrainError::Checkpoint(format!("rank 0's net: {e}")));
        link.settle(read, &mut [])?;
        return Ok(report);
    }
    let one = trainer.clone().passes(1);
    for k in done[0]..trainer.passes as u64 {
        let r = pass(&one, net)?;
        let number = k as usize + 1;
        report.passes.extend(
            r.passes
                .into_iter()
                .map(|p| PassReport { pass: number, ..p }),
        );
        report.sync_bytes += r.sync_bytes;
        report.sync_seconds += r.sync_seconds;
        let saved = if link.rank() == 0 {
            net.save_at(path)
                .map_err(|e| TrainError::Checkpoint(format!("writing {}: {e}", path.display())))
        } else {
            Ok(())
        };
        link.settle(saved, &mut [])?;
    }
    report.best_pass = report.passes.last().map_or(0, |p| p.pass);
    Ok(report)
}

/// The job file beside the checkpoint at `path`.
fn job_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".job");
    name.into()
}

/// On rank 0: loads the checkpoint at `path` into `net` if there is one, and returns
/// the passes the job has done; else records the passes `net` has had, for a restart.
fn resume<N: Checkpointed>(net: &mut N, path: &Path) -> Result<u64, TrainError> {
    let job = job_file(path);
    let error = |what: &str, e: &dyn std::fmt::Display| {
        TrainError::Checkpoint(format!("{what} {}: {e}", path.display()))
    };
    if !path.exists() {
        let start = net.state().map_or(0, |s| s.passes());
        crate::fsio::write_atomic(&job, |w| writeln!(w, "passes before the job: {start}"))
            .map_err(|e| error("writing the job file of", &e))?;
        return Ok(0);
    }
    let text = std::fs::read_to_string(&job).map_err(|e| error("reading the job file of", &e))?;
    let start: u64 = text
        .trim()
        .strip_prefix("passes before the job: ")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| {
            error(
                "reading the job file of",
                &format!(
                    "expected `passes before the job: N`, found `{}`",
                    text.trim()
                ),
            )
        })?;
    *net = net.load_at(path).map_err(|e| error("loading", &e))?;
    let had = net.state().map_or(0, |s| s.passes());
    had.checked_sub(start).ok_or_else(|| {
        error(
            "resuming from",
            &format!("it has had {had} passes, fewer than the {start} before the job started"),
        )
    })
}
