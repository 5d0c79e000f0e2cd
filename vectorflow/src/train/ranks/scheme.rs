//! The scheme across ranks: the rank's own scheme trains its rows, and rounds with the
//! other ranks exchange the changes (see the module docs of `ranks` for the protocol).

use super::mirror::{checksum, Counter, Mirror};
use super::Link;
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::trainable::Trainable;
use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use super::super::chunk::Chunk;
use super::super::priors::Priors;
use super::super::progress::Totals;
use super::super::sharing::{Changed, Scheme, Weights};
use super::super::step::{At, Clock, Job};
use super::super::store::rule::Rule;
use super::super::TrainError;

/// The rank's scheme `S`, its changes exchanged with the other ranks of `link`.
pub(crate) struct Ranks<'l, 'c, O, S> {
    inner: S,
    link: &'l Link<'c>,
    mirror: Mirror,
    /// The rule of the rounds (hot rows, weights outside the tables): averaged.
    often: Rule,
    /// The rule of the pass's end (every other changed row): the standard one.
    rest: Rule,
    /// Rows trained since the last round.
    since: usize,
    /// The hot rows of each table, once found (in the first round).
    hot: Option<Vec<Vec<u32>>>,
    /// Counts what the rows before the first round touch.
    counter: Counter,
    /// Whether the ranks agreed that training failed: no more exchanges.
    dead: bool,
    opt: PhantomData<O>,
}

impl<'l, 'c, 'w, O: Optimizer, S: Scheme<'w, O>> Ranks<'l, 'c, O, S> {
    /// Exchanges `inner`'s weights (which every rank holds alike) through `link`.
    pub fn new(link: &'l Link<'c>, mut inner: S) -> Self {
        let master = inner.weights().master();
        let mirror = Mirror::new(&master);
        let offsets = master.tables.iter().map(|t| t.offset()).collect();
        Ranks {
            inner,
            link,
            mirror,
            often: Rule::new::<O>().averaged(),
            rest: Rule::new::<O>(),
            since: 0,
            hot: None,
            counter: Counter::new(offsets, link.sync_rows),
            dead: false,
            opt: PhantomData,
        }
    }

    /// A round: agrees on every rank's status, this one training rows of the pass or
    /// not (`active`), and exchanges the hot rows; whether a rank is still training.
    fn round(&mut self, active: bool) -> Result<bool, TrainError> {
        let link = self.link;
        link.timed(|| {
            let mut active = [active as u64];
            self.verdict(None, &mut active)?;
            if self.hot.is_none() {
                self.hot = Some(self.find_hot()?);
            }
            let hot = self.hot.take().expect("found");
            let out = self.exchange(self.often, &hot);
            self.hot = Some(hot);
            out?;
            Ok(active[0] > 0)
        })
    }

    /// Agrees on every rank's status, this one failed with `failed` or not, summing
    /// `words`; an error when a rank failed (this one's own, or naming the lowest).
    fn verdict(
        &mut self,
        failed: Option<&TrainError>,
        words: &mut [u64],
    ) -> Result<(), TrainError> {
        let message = failed.map(|e| e.to_string());
        let verdict = self
            .link
            .agree(message.as_deref(), words)
            .inspect_err(|_| {
                self.dead = true;
            })?;
        match (failed, verdict) {
            (_, None) => Ok(()),
            (Some(e), Some(_)) => {
                self.dead = true;
                Err(e.clone())
            }
            (None, Some((rank, message))) => {
                self.dead = true;
                Err(TrainError::Rank { rank, message })
            }
        }
    }

    /// Every rank's hot rows, united: each rank broadcasts its own in turn.
    fn find_hot(&mut self) -> Result<Vec<Vec<u32>>, TrainError> {
        let rows: Vec<usize> = self
            .inner
            .weights()
            .master()
            .tables
            .iter()
            .map(|t| t.rows())
            .collect();
        let mut hot = vec![Vec::new(); rows.len()];
        let mine = self.counter.hot();
        for root in 0..self.link.size() {
            let mut bytes = Vec::new();
            if root == self.link.rank() {
                for &(t, r) in &mine {
                    bytes.extend_from_slice(&t.to_le_bytes());
                    bytes.extend_from_slice(&r.to_le_bytes());
                }
            }
            self.link.broadcast(&mut bytes, root)?;
            for pair in bytes.chunks_exact(8) {
                let t = u32::from_le_bytes(pair[..4].try_into().expect("4 bytes")) as usize;
                let r = u32::from_le_bytes(pair[4..].try_into().expect("4 bytes"));
                // Every rank's tables are alike (the start agreed on the topology); a row
                // beyond them is dropped alike on every rank.
                if rows.get(t).is_some_and(|&n| (r as usize) < n) {
                    hot[t].push(r);
                }
            }
        }
        for h in &mut hot {
            h.sort_unstable();
            h.dedup();
        }
        Ok(hot)
    }

    /// Exchanges the weights outside the tables and the rows `rows` of each table:
    /// every rank sums its packed changes, and sets them from the sum by `rule`.
    fn exchange(&mut self, rule: Rule, rows: &[Vec<u32>]) -> Result<(), TrainError> {
        if self.link.size() == 1 {
            return Ok(());
        }
        let mut buf = Vec::new();
        self.mirror
            .pack(&rule, &self.inner.weights().master(), rows, &mut buf);
        self.link.sum_f32(&mut buf)?;
        self.mirror
            .apply(&rule, &mut self.inner.weights().master(), rows, &buf);
        let gaps = self.mirror.gaps().to_vec();
        self.inner.reload(&Changed { rest: &gaps, rows });
        Ok(())
    }

    /// The pass's end: every row a rank changed since its last exchange, or each whole
    /// table where that moves fewer bytes.
    fn pass_end(&mut self) -> Result<(), TrainError> {
        let link = self.link;
        if link.size() == 1 {
            // Nothing to exchange, nor to scan for.
            return Ok(());
        }
        link.timed(|| {
            let master = self.inner.weights().master();
            let mine = self.mirror.touched(&master);
            let mut counts: Vec<u64> = mine.iter().map(|r| r.len() as u64).collect();
            let shapes: Vec<(usize, usize)> = master
                .tables
                .iter()
                .map(|t| (t.rows(), Mirror::row_floats(t, &self.rest)))
                .collect();
            link.sum_u64(&mut counts)?;
            // Per table, the ids broadcast (4 bytes each) and the union's values,
            // against every row's values.
            let sparse: Vec<bool> = counts
                .iter()
                .zip(&shapes)
                .map(|(&n, &(rows, floats))| {
                    let n = n as usize;
                    4 * n + 4 * n.min(rows) * floats < 4 * rows * floats
                })
                .collect();
            let mut rows: Vec<Vec<u32>> = shapes
                .iter()
                .zip(&sparse)
                .map(|(&(n, _), &s)| {
                    if s {
                        Vec::new()
                    } else {
                        (0..n as u32).collect()
                    }
                })
                .collect();
            if sparse.iter().any(|&s| s) {
                for root in 0..link.size() {
                    let mut bytes = Vec::new();
                    if root == link.rank() {
                        for (t, ids) in mine.iter().enumerate() {
                            if sparse[t] {
                                bytes.extend_from_slice(&(t as u32).to_le_bytes());
                                bytes.extend_from_slice(&(ids.len() as u32).to_le_bytes());
                                bytes.extend(ids.iter().flat_map(|r| r.to_le_bytes()));
                            }
                        }
                    }
                    link.broadcast(&mut bytes, root)?;
                    let words: Vec<u32> = bytes
                        .chunks_exact(4)
                        .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
                        .collect();
                    let mut at = 0;
                    while at + 2 <= words.len() {
                        let (t, n) = (words[at] as usize, words[at + 1] as usize);
                        let ids = words.get(at + 2..at + 2 + n).unwrap_or(&[]);
                        if let (Some(r), Some(&(len, _))) = (rows.get_mut(t), shapes.get(t)) {
                            r.extend(ids.iter().filter(|&&i| (i as usize) < len));
                        }
                        at += 2 + n;
                    }
                }
                for (r, &s) in rows.iter_mut().zip(&sparse) {
                    if s {
                        r.sort_unstable();
                        r.dedup();
                    }
                }
            }
            let rule = self.rest;
            self.exchange(rule, &rows)
        })
    }

    /// At the end of training: checks every rank holds rank 0's weights and state.
    fn check_alike(&mut self) -> Result<(), TrainError> {
        let link = self.link;
        link.timed(|| {
            // Of the weights as they are: early stopping may have set them back to a
            // pass's (on every rank alike), and the base is the last pass's.
            let sum = checksum(&mut self.inner.weights().master());
            let mut bytes = sum.to_le_bytes().to_vec();
            link.broadcast(&mut bytes, 0)?;
            let theirs = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
            let problem = (theirs != sum).then(|| {
                TrainError::Collective(format!(
                    "rank {}'s weights differ from rank 0's after training (checksum {sum:016x} \
                     against {theirs:016x})",
                    link.rank()
                ))
            });
            self.verdict(problem.as_ref(), &mut [])
        })
    }
}

impl<'l, 'c, 'w, O: Optimizer, S: Scheme<'w, O>> Scheme<'w, O> for Ranks<'l, 'c, O, S> {
    fn weights(&mut self) -> &mut Weights<'w> {
        self.inner.weights()
    }

    fn begin_pass(&mut self) {
        self.since = 0;
        self.inner.begin_pass();
    }

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
        L: Loss<C::Row, M::Out>,
    {
        let k = self.link.sync_rows;
        let (mut a, mut part) = (0, 0u64);
        while a < rows.len() {
            if self.dead || job.stop.load(Ordering::Relaxed) {
                return;
            }
            let n = (k - self.since).min(rows.len() - a);
            let piece = &rows[a..a + n];
            if self.hot.is_none() {
                self.counter.sample(job.net, chunk, piece);
            }
            // A chunk cut by rounds trains each piece as a chunk of its own, with
            // random streams of its own; a chunk within one round trains as in one
            // process.
            let at = At {
                clock: Clock {
                    base: at.clock.base + a,
                    ..at.clock
                },
                key: at.key ^ (part << 40),
            };
            self.inner.train(job, chunk, piece, at, holdout);
            (a, part, self.since) = (a + n, part + 1, self.since + n);
            // An error is left to the driver, which hands it to `fail`.
            if self.since == k && !job.stop.load(Ordering::Relaxed) {
                self.since = 0;
                self.inner.sync();
                if let Err(e) = self.round(true) {
                    // Agreed by every rank, or the engine failed: no more exchanges.
                    self.dead = true;
                    job.fail(e);
                    return;
                }
            }
        }
    }

    fn sync(&mut self) {
        self.inner.sync();
    }

    fn agree(&mut self, totals: &mut Totals) -> Result<(), TrainError> {
        self.inner.sync();
        let out = self.last_rounds(totals);
        // Agreed by every rank, or the engine failed: no more exchanges.
        self.dead |= out.is_err();
        out
    }

    fn reload(&mut self, changed: &Changed<'_>) {
        self.inner.reload(changed);
    }

    fn finish(&mut self) -> Result<(), TrainError> {
        self.inner.finish()?;
        let out = self.check_alike();
        self.dead |= out.is_err();
        out
    }

    fn end_pass(&mut self, priors: &Priors, seen: u32, scale: f32, rows: u64) {
        self.inner.end_pass(priors, seen, scale, rows);
    }

    fn fail(&mut self, e: TrainError) -> TrainError {
        let e = self.inner.fail(e);
        if self.dead {
            return e;
        }
        // The other ranks are at a round's status, or will be: this one joins it,
        // failed, and every rank stops.
        let link = self.link;
        let out = link.timed(|| self.verdict(Some(&e), &mut [0]));
        self.dead = true;
        match out {
            Err(TrainError::Collective(_)) | Ok(()) => e,
            Err(agreed) => agreed,
        }
    }
}

impl<'w, O: Optimizer, S: Scheme<'w, O>> Ranks<'_, '_, O, S> {
    /// The rounds until no rank is training, the exchange of the pass's end and the
    /// sums of the pass's figures `totals`.
    fn last_rounds(&mut self, totals: &mut Totals) -> Result<(), TrainError> {
        while self.round(false)? {}
        self.pass_end()?;
        let link = self.link;
        link.timed(|| {
            let mut counts = [totals.rows, totals.nnz, totals.held.2];
            let mut sums = [totals.loss, totals.weight, totals.held.0, totals.held.1];
            link.sum_u64(&mut counts)?;
            link.sum_f64(&mut sums)?;
            *totals = Totals {
                rows: counts[0],
                nnz: counts[1],
                loss: sums[0],
                weight: sums[1],
                held: (sums[2], sums[3], counts[2]),
            };
            Ok(())
        })
    }
}
