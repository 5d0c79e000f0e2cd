//! A rank's link to the others: the collective operations, metered, with their errors
//! as training errors; how the ranks agree on a status (every rank learns whether one
//! failed, and the lowest failing rank's message); the settings they compare at the
//! start; and rank 0's weights, which every rank starts from.

use super::super::sharing::Weights;
use super::super::TrainError;
use super::mirror::{checksum, floats};
use crate::cluster::{Collective, CollectiveError};
use std::cell::Cell;
use std::time::Instant;

/// A rank's link to the other ranks of its fit, and what its settings must agree on.
pub(crate) struct Link<'c> {
    comm: &'c dyn Collective,
    /// Rows each rank trains between two rounds.
    pub sync_rows: usize,
    /// The settings every rank must share, by name.
    fields: Vec<(&'static str, String)>,
    /// Bytes handed to the collective operations, and seconds spent exchanging.
    bytes: Cell<u64>,
    seconds: Cell<f64>,
}

/// The training error of a failed collective operation.
fn failed(e: CollectiveError) -> TrainError {
    TrainError::Collective(e.0)
}

impl<'c> Link<'c> {
    /// The link through `comm` of a fit whose ranks train `sync_rows` rows between two
    /// rounds and must agree on `fields`.
    pub fn new(
        comm: &'c dyn Collective,
        sync_rows: usize,
        fields: Vec<(&'static str, String)>,
    ) -> Link<'c> {
        Link {
            comm,
            sync_rows,
            fields,
            bytes: Cell::new(0),
            seconds: Cell::new(0.0),
        }
    }

    /// This rank.
    pub fn rank(&self) -> usize {
        self.comm.rank()
    }

    /// The number of ranks.
    pub fn size(&self) -> usize {
        self.comm.size()
    }

    /// The bytes exchanged and the seconds spent exchanging so far.
    pub fn meter(&self) -> (u64, f64) {
        (self.bytes.get(), self.seconds.get())
    }

    /// Runs `f`, counting its time as time spent exchanging.
    pub fn timed<T>(&self, f: impl FnOnce() -> T) -> T {
        let t0 = Instant::now();
        let out = f();
        self.seconds
            .set(self.seconds.get() + t0.elapsed().as_secs_f64());
        out
    }

    fn count(&self, bytes: usize) {
        self.bytes.set(self.bytes.get() + bytes as u64);
    }

    /// [`Collective::sum_f32`], metered.
    pub fn sum_f32(&self, buf: &mut [f32]) -> Result<(), TrainError> {
        self.count(buf.len() * 4);
        self.comm.sum_f32(buf).map_err(failed)
    }

    /// [`Collective::sum_f64`], metered.
    pub fn sum_f64(&self, buf: &mut [f64]) -> Result<(), TrainError> {
        self.count(buf.len() * 8);
        self.comm.sum_f64(buf).map_err(failed)
    }

    /// [`Collective::sum_u64`], metered.
    pub fn sum_u64(&self, buf: &mut [u64]) -> Result<(), TrainError> {
        self.count(buf.len() * 8);
        self.comm.sum_u64(buf).map_err(failed)
    }

    /// [`Collective::broadcast`], metered (the root's bytes, on every rank).
    pub fn broadcast(&self, buf: &mut Vec<u8>, root: usize) -> Result<(), TrainError> {
        self.comm.broadcast(buf, root).map_err(failed)?;
        self.count(buf.len());
        Ok(())
    }

    /// Every rank's status: sums `words` over the ranks, with one failure flag per
    /// rank (`failed` holds this rank's message when it failed); when some rank
    /// failed, the lowest one broadcasts its message, returned with its rank.
    pub fn agree(
        &self,
        failed: Option<&str>,
        words: &mut [u64],
    ) -> Result<Option<(usize, String)>, TrainError> {
        let (n, me) = (self.size(), self.rank());
        let mut head = vec![0u64; n + words.len()];
        head[me] = failed.is_some() as u64;
        head[n..].copy_from_slice(words);
        self.sum_u64(&mut head)?;
        words.copy_from_slice(&head[n..]);
        let Some(first) = head[..n].iter().position(|&f| f != 0) else {
            return Ok(None);
        };
        let mut msg = match failed {
            Some(m) if first == me => m.as_bytes().to_vec(),
            _ => Vec::new(),
        };
        self.broadcast(&mut msg, first)?;
        Ok(Some((first, String::from_utf8_lossy(&msg).into_owned())))
    }

    /// Agrees on every rank's `local` outcome, summing `words`: an error on any rank
    /// is an error on every rank, this rank's own, else [`TrainError::Rank`] naming
    /// the lowest failing rank and its message.
    pub fn settle(
        &self,
        local: Result<(), TrainError>,
        words: &mut [u64],
    ) -> Result<(), TrainError> {
        self.timed(|| {
            let problem = local.as_ref().err().map(|e| e.to_string());
            let verdict = self.agree(problem.as_deref(), words)?;
            local?;
            match verdict {
                Some((rank, message)) => Err(TrainError::Rank { rank, message }),
                None => Ok(()),
            }
        })
    }

    /// The start of a fit, on every rank: whether this rank's settings and rows passed
    /// their checks (`local`) and match rank 0's. An error on any rank is an error on
    /// every rank: this rank's own, else [`TrainError::Rank`] naming the lowest failing
    /// rank and its message.
    pub fn start(&self, local: Result<(), &TrainError>) -> Result<(), TrainError> {
        self.timed(|| {
            let mut theirs = if self.rank() == 0 {
                let fields: Vec<(&str, &str)> =
                    self.fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                serde_json::to_vec(&fields).expect("strings serialize")
            } else {
                Vec::new()
            };
            self.broadcast(&mut theirs, 0)?;
            let theirs: Vec<(String, String)> = serde_json::from_slice(&theirs)
                .map_err(|e| TrainError::Collective(format!("rank 0's settings: {e}")))?;
            let mismatch = self.mismatch(&theirs);
            let problem = match local {
                Err(e) => Some(e.to_string()),
                Ok(()) => mismatch.clone().map(|m| TrainError::Config(m).to_string()),
            };
            let verdict = self.agree(problem.as_deref(), &mut [])?;
            match (local, mismatch, verdict) {
                (Err(e), _, _) => Err(e.clone()),
                (Ok(()), Some(m), _) => Err(TrainError::Config(m)),
                (Ok(()), None, Some((rank, message))) => Err(TrainError::Rank { rank, message }),
                (Ok(()), None, None) => Ok(()),
            }
        })
    }

    /// How this rank's settings differ from rank 0's `theirs`, naming both.
    fn mismatch(&self, theirs: &[(String, String)]) -> Option<String> {
        let me = self.rank();
        for (k, v) in &self.fields {
            match theirs.iter().find(|(k0, _)| k0 == k) {
                Some((_, v0)) if v0 == v => {}
                Some((_, v0)) => {
                    return Some(format!("rank {me}'s {k} {v} differs from rank 0's {v0}"))
                }
                None => return Some(format!("rank {me} has a {k} ({v}) and rank 0 none")),
            }
        }
        let extra = theirs
            .iter()
            .find(|(k0, _)| !self.fields.iter().any(|(k, _)| k == k0));
        extra.map(|(k0, v0)| format!("rank 0 has a {k0} ({v0}) and rank {me} none"))
    }

    /// Sets `weights` (every buffer, the training state's counts included) to rank 0's
    /// on every rank, unless every rank's already has rank 0's checksum.
    pub fn adopt(&self, weights: &mut Weights<'_>) -> Result<(), TrainError> {
        self.timed(|| {
            let (passes, rows) = (weights.state.passes(), weights.state.rows());
            let mut master = weights.master();
            // Ranks that made their nets alike (one seed, one checkpoint) need not send
            // them: a checksum says so.
            let mine = [checksum(&mut master), passes, rows];
            let mut theirs: Vec<u8> = mine.iter().flat_map(|x| x.to_le_bytes()).collect();
            self.broadcast(&mut theirs, 0)?;
            let mut differ = [(theirs
                != mine
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect::<Vec<u8>>()) as u64];
            self.sum_u64(&mut differ)?;
            if differ[0] == 0 {
                return Ok(());
            }
            let bufs = floats(&mut master);
            let lens: Vec<u64> = bufs.iter().map(|b| b.len() as u64).collect();
            let mut blob = Vec::new();
            if self.rank() == 0 {
                let head = [passes, rows, lens.len() as u64];
                for x in head.iter().chain(&lens) {
                    blob.extend_from_slice(&x.to_le_bytes());
                }
                for b in &bufs {
                    blob.extend(b.iter().flat_map(|x| x.to_le_bytes()));
                }
            }
            self.broadcast(&mut blob, 0)?;
            // Checked on every rank, and agreed: a rank whose buffers differ from rank
            // 0's stops every rank rather than leaving them waiting.
            let word = |i: usize| {
                blob.get(i * 8..i * 8 + 8)
                    .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
            };
            let same = word(2) == Some(lens.len() as u64)
                && lens
                    .iter()
                    .enumerate()
                    .all(|(k, &l)| word(3 + k) == Some(l))
                && blob.len() == 8 * (3 + lens.len()) + 4 * lens.iter().sum::<u64>() as usize;
            let problem = (!same).then(|| {
                format!(
                    "rank {}'s weights and training state ({} buffers of {:?} floats) are not \
                     laid out as rank 0's",
                    self.rank(),
                    lens.len(),
                    lens
                )
            });
            if let Some((rank, message)) = self.agree(problem.as_deref(), &mut [])? {
                return Err(match problem {
                    Some(m) => TrainError::Collective(m),
                    None => TrainError::Rank { rank, message },
                });
            }
            let mut at = 8 * (3 + lens.len());
            for b in bufs {
                for x in b.iter_mut() {
                    *x = f32::from_le_bytes(blob[at..at + 4].try_into().expect("4 bytes"));
                    at += 4;
                }
            }
            let (passes, rows) = (word(0).unwrap_or(0), word(1).unwrap_or(0));
            weights.state.set_counts(passes, rows);
            Ok(())
        })
    }
}
