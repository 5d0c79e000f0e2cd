//! Live progress while training: a Vowpal-Wabbit-style progressive-validation table.
//!
//! Lines come at doubling row counts, 1, 2, 4, 8, ... rows over all passes (with one
//! thread exactly there; with more, at the first hand-over of a thread's rows at or past
//! it), and one closes the table. Each has the pass, the rows and their weight, the
//! average loss so far and since the line before, the last holdout loss, the last
//! row's features, the rows per second, the time so far and the time left. On a
//! terminal a status line below the table is redrawn in place; when stderr is piped
//! only the table lines are written.

use super::PassReport;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// How training reports progress, on stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// A live status line on a terminal, plain table lines when piped.
    #[default]
    Auto,
    /// Plain table lines only.
    Lines,
    /// Nothing.
    Silent,
}

/// The row counts of a pass that each thread hands its sums over at, at the latest.
const EVERY: u64 = 512;

/// One progress line, as it stood when the row count reached the line's row count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Line {
    /// The pass of the rows that reached it, from 1.
    pub pass: usize,
    /// Rows trained so far, over all passes.
    pub rows: u64,
    /// Their weighted loss sum and weight sum.
    pub loss: f64,
    pub weight: f64,
    /// The features (non-zero inputs) of the last row.
    pub features: u64,
    /// Seconds since training started.
    pub secs: f64,
}

/// What the threads' hand-overs add up, behind one lock.
#[derive(Default)]
struct Sums {
    loss: f64,
    weight: f64,
    /// The lines due and not printed yet.
    lines: Vec<Line>,
    /// The pass and features of the last hand-over, for the closing line.
    pass: usize,
    features: u64,
}

/// Counters the training threads add to every few hundred rows, and at the row counts
/// where a progress line is due: 1, 2, 4, 8, ... rows, as Vowpal Wabbit prints.
pub(crate) struct Counters {
    pub rows: AtomicU64,
    pub nnz: AtomicU64,
    /// The row count of the next line (`u64::MAX` when silent: no line is ever due).
    due: AtomicU64,
    sums: Mutex<Sums>,
    start: Instant,
    pub done: Finish,
    /// The last holdout loss, as f64 bits (NaN if none yet).
    pub holdout: AtomicU64,
}

/// The counters when a pass started, to report the pass from.
pub(crate) struct Mark {
    t0: Instant,
    rows: u64,
    nnz: u64,
    sums: (f64, f64),
}

impl Mark {
    /// The counters now.
    pub fn now(c: &Counters) -> Mark {
        Mark {
            t0: Instant::now(),
            rows: c.rows.load(Ordering::Relaxed),
            nnz: c.nnz.load(Ordering::Relaxed),
            sums: c.loss_sums(),
        }
    }

    /// What this process trained since the mark: its rows, non-zeros and loss sums,
    /// with `held`, its holdout rows' weighted loss sum, weight sum and count.
    pub fn totals(&self, held: (f64, f64, usize), c: &Counters) -> Totals {
        let ((l0, w0), (l1, w1)) = (self.sums, c.loss_sums());
        Totals {
            rows: c.rows.load(Ordering::Relaxed) - self.rows,
            nnz: c.nnz.load(Ordering::Relaxed) - self.nnz,
            loss: l1 - l0,
            weight: w1 - w0,
            held: (held.0, held.1, held.2 as u64),
        }
    }

    /// The report of pass `pass`, which started at this mark and trained `t`; records
    /// its holdout loss in `c`. No usable holdout row gives NaN, never an improvement.
    pub fn report(self, pass: usize, t: &Totals, c: &Counters) -> PassReport {
        let held = t.held;
        let holdout_loss = (held.2 > 0).then(|| {
            if held.1 > 0.0 {
                held.0 / held.1
            } else {
                f64::NAN
            }
        });
        if let Some(h) = holdout_loss {
            c.holdout.store(h.to_bits(), Ordering::Relaxed);
        }
        let seconds = self.t0.elapsed().as_secs_f64();
        PassReport {
            pass,
            train_loss: t.loss / t.weight.max(f64::MIN_POSITIVE),
            holdout_loss,
            rows: t.rows,
            nnz: t.nnz,
            seconds,
            rows_per_s: t.rows as f64 / seconds.max(1e-9),
        }
    }
}

/// The figures of a pass its report is made of: those of this process, or, across
/// ranks, their sums.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Totals {
    /// Training rows.
    pub rows: u64,
    /// Their non-zero inputs.
    pub nnz: u64,
    /// Their weighted loss sum and weight sum.
    pub loss: f64,
    pub weight: f64,
    /// The holdout rows' weighted loss sum, weight sum and count.
    pub held: (f64, f64, u64),
}

impl Counters {
    /// Counters for training in `mode` that started at `start`.
    pub fn new(mode: Progress, start: Instant) -> Counters {
        Counters {
            rows: AtomicU64::new(0),
            nnz: AtomicU64::new(0),
            due: AtomicU64::new(if mode == Progress::Silent {
                u64::MAX
            } else {
                1
            }),
            sums: Mutex::default(),
            start,
            done: Finish::default(),
            holdout: AtomicU64::new(f64::NAN.to_bits()),
        }
    }

    fn sums(&self) -> std::sync::MutexGuard<'_, Sums> {
        self.sums.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a thread's `rows` of pass `pass`, whose last row had `features` features;
    /// queues a line if the row count reached the next one due. Returns the row count
    /// and the row count of the next line.
    pub fn add(
        &self,
        pass: usize,
        rows: u64,
        nnz: u64,
        loss: f64,
        weight: f64,
        features: u64,
    ) -> (u64, u64) {
        let mut s = self.sums();
        s.loss += loss;
        s.weight += weight;
        // Under the lock, so that a line's sums are those of its row count.
        let total = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        self.nnz.fetch_add(nnz, Ordering::Relaxed);
        if rows == 0 {
            return (total, self.due.load(Ordering::Relaxed));
        }
        (s.pass, s.features) = (pass, features);
        let due = self.due.load(Ordering::Relaxed);
        if total < due {
            return (total, due);
        }
        let line = Line {
            pass,
            rows: total,
            loss: s.loss,
            weight: s.weight,
            features,
            secs: self.start.elapsed().as_secs_f64(),
        };
        s.lines.push(line);
        let next = (total + 1).next_power_of_two();
        self.due.store(next, Ordering::Relaxed);
        (total, next)
    }

    /// The weighted loss sum and weight sum so far.
    pub fn loss_sums(&self) -> (f64, f64) {
        let s = self.sums();
        (s.loss, s.weight)
    }

    /// The lines due since the last call.
    fn take_lines(&self) -> Vec<Line> {
        std::mem::take(&mut self.sums().lines)
    }

    /// The line at the current row count, to close the table.
    fn closing(&self) -> Line {
        let s = self.sums();
        Line {
            pass: s.pass,
            rows: self.rows.load(Ordering::Relaxed),
            loss: s.loss,
            weight: s.weight,
            features: s.features,
            secs: self.start.elapsed().as_secs_f64(),
        }
    }
}

/// One training thread's sums since it last handed them to the [`Counters`]: every
/// [`EVERY`] rows, and as soon as the row count it knows of reaches the next line's,
/// so that with one thread the lines fall exactly at 1, 2, 4, ... rows. The per-row
/// cost is a few additions and one comparison of locals.
pub(crate) struct Tally<'a> {
    counters: &'a Counters,
    pass: usize,
    n: u64,
    nnz: u64,
    loss: f64,
    weight: f64,
    /// The row count at the last hand-over (other threads' rows since are not in it).
    seen: u64,
    /// The next line's row count as of the last hand-over.
    due: u64,
}

impl<'a> Tally<'a> {
    /// A thread's tally of pass `pass`.
    pub fn new(counters: &'a Counters, pass: usize) -> Tally<'a> {
        Tally {
            counters,
            pass,
            n: 0,
            nnz: 0,
            loss: 0.0,
            weight: 0.0,
            seen: counters.rows.load(Ordering::Relaxed),
            due: counters.due.load(Ordering::Relaxed),
        }
    }

    /// Counts one trained row of `features` features, loss `loss` and weight `weight`.
    #[inline(always)]
    pub fn row(&mut self, features: u64, loss: f32, weight: f32) {
        self.n += 1;
        self.nnz += features;
        self.loss += loss as f64;
        self.weight += weight as f64;
        if self.n == EVERY || self.seen + self.n >= self.due {
            self.flush(features);
        }
    }

    /// Hands the sums over (at the end of the thread's rows, and by [`Tally::row`]).
    pub fn flush(&mut self, features: u64) {
        let c = self.counters;
        (self.seen, self.due) = c.add(
            self.pass,
            self.n,
            self.nnz,
            self.loss,
            self.weight,
            features,
        );
        (self.n, self.nnz, self.loss, self.weight) = (0, 0, 0.0, 0.0);
    }
}

/// Whether training ended, with a condition variable so the progress thread wakes as
/// soon as it does: a small fit must not wait out the thread's sleep.
#[derive(Default)]
pub(crate) struct Finish {
    ended: Mutex<bool>,
    wake: Condvar,
}

impl Finish {
    /// Marks training as ended and wakes the waiting thread.
    fn end(&self) {
        *self.ended.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.wake.notify_all();
    }
    /// Waits up to `timeout` for the end of training; returns whether it ended.
    fn wait(&self, timeout: Duration) -> bool {
        let ended = self.ended.lock().unwrap_or_else(|e| e.into_inner());
        let (ended, _) = self
            .wake
            .wait_timeout_while(ended, timeout, |ended| !*ended)
            .unwrap_or_else(|e| e.into_inner());
        *ended
    }
}

/// Ends training when dropped: tells the progress thread that training ended, however
/// it ended.
pub(crate) struct Done<'a>(pub &'a Finish);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The table's header, aligned with [`format_line`]'s columns.
fn header() -> String {
    format!(
        "{:>4} {:>12} {:>12} {:>10} {:>10} {:>10} {:>8} {:>11} {:>9} {:>9}",
        "pass",
        "rows",
        "weight",
        "avg loss",
        "since last",
        "holdout",
        "features",
        "rows/s",
        "elapsed",
        "left"
    )
}

/// A line of the table: `prev` is the line before (for the loss since), `total` the
/// rows all passes will train on (0 when unknown: then no time left is shown, nor in
/// the first second).
fn format_line(line: &Line, prev: Option<&Line>, holdout: f64, total: u64) -> String {
    let (l0, w0) = prev.map_or((0.0, 0.0), |p| (p.loss, p.weight));
    let avg = |l: f64, w: f64| if w > 0.0 { l / w } else { f64::NAN };
    let secs = line.secs.max(1e-9);
    let rate = line.rows as f64 / secs;
    // The rate of the first second is mostly start-up: no time left from it.
    let left = if rate > 0.0 && total > 0 && line.secs >= 1.0 {
        format!("{:.1}s", total.saturating_sub(line.rows) as f64 / rate)
    } else {
        "-".to_string()
    };
    let h = if holdout.is_nan() {
        "-".to_string()
    } else {
        format!("{holdout:.6}")
    };
    format!(
        "{:>4} {:>12} {:>12} {:>10.6} {:>10.6} {:>10} {:>8} {:>11.0} {:>8.1}s {:>9}",
        line.pass,
        line.rows,
        format!("{:.1}", line.weight),
        avg(line.loss, line.weight),
        avg(line.loss - l0, line.weight - w0),
        h,
        line.features,
        rate,
        line.secs,
        left
    )
}

/// Prints the table while `counters.done` is false: each line as its row count comes
/// (1, 2, 4, ... rows) and a closing line at the end, unless one fell there already.
/// `total` is the number of rows all passes will train on, 0 when unknown (a stream):
/// then no time left is shown.
pub(crate) fn report(mode: Progress, counters: &Counters, total: u64) {
    if mode == Progress::Silent {
        return;
    }
    let live = mode == Progress::Auto && std::io::stderr().is_terminal();
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{}", header());
    let mut prev: Option<Line> = None;
    let mut finished = false;
    while !finished {
        // Lines wait here at most this long; a small fit is not held up: the end of
        // training wakes the thread at once.
        finished = counters.done.wait(Duration::from_millis(50));
        let mut lines = counters.take_lines();
        if finished
            && prev.iter().chain(&lines).last().map(|l| l.rows)
                != Some(counters.rows.load(Ordering::Relaxed))
        {
            lines.push(counters.closing());
        }
        let holdout = f64::from_bits(counters.holdout.load(Ordering::Relaxed));
        for line in lines.iter().filter(|l| l.rows > 0) {
            let text = format_line(line, prev.as_ref(), holdout, total);
            let _ = writeln!(err, "{}{text}", if live { "\r\x1b[2K" } else { "" });
            prev = Some(*line);
        }
        if live && !finished {
            let rows = counters.rows.load(Ordering::Relaxed);
            let rate = rows as f64 / counters.start.elapsed().as_secs_f64().max(1e-9);
            if total > 0 {
                let pct = 100.0 * rows as f64 / total as f64;
                let bar = "#".repeat((pct / 5.0) as usize);
                let left = total.saturating_sub(rows) as f64 / rate.max(1e-9);
                let _ = write!(
                    err,
                    "\r\x1b[2K[{bar:<20}] {pct:5.1}%  {rate:.0} rows/s  {left:.1}s left"
                );
            } else {
                let _ = write!(err, "\r\x1b[2K{rows} rows  {rate:.0} rows/s");
            }
            let _ = err.flush();
        }
    }
    if live {
        let _ = write!(err, "\r\x1b[2K");
    }
}

#[cfg(test)]
mod tests {
    use super::{format_line, header, Counters, Done, Finish, Line, Progress, Tally};
    use std::time::{Duration, Instant};

    /// The row counts and passes of the lines queued so far.
    fn lines(c: &Counters) -> Vec<(u64, usize)> {
        c.take_lines().iter().map(|l| (l.rows, l.pass)).collect()
    }

    /// One thread, 3 passes of 1,000 rows each handed over by chunks of 300 (a tally per
    /// chunk, as `Job::run` has): a line at every power of two, exactly, in its pass.
    #[test]
    fn one_thread_prints_at_exactly_each_power_of_two() {
        let c = Counters::new(Progress::Lines, Instant::now());
        for pass in 1..=3 {
            for chunk in [300, 300, 300, 100] {
                let mut t = Tally::new(&c, pass);
                for _ in 0..chunk {
                    t.row(7, 0.5, 1.0);
                }
                t.flush(7);
            }
        }
        let mut want: Vec<(u64, usize)> = (0..=11).map(|k| (1u64 << k, 1)).collect();
        want[10].1 = 2; // row 1024 is the 24th of pass 2
        want[11].1 = 3; // row 2048 the 48th of pass 3
        assert_eq!(lines(&c), want);
        let close = c.closing();
        assert_eq!((close.rows, close.pass, close.weight), (3000, 3, 3000.0));
    }

    /// Two threads handing over their rows in turns: one line per power of two, at or
    /// just past it, never two powers in one line.
    #[test]
    fn threads_print_one_line_per_power_of_two() {
        let c = Counters::new(Progress::Lines, Instant::now());
        let (mut a, mut b) = (Tally::new(&c, 1), Tally::new(&c, 1));
        for i in 0..5000 {
            let t = if (i / 3) % 2 == 0 { &mut a } else { &mut b };
            t.row(1, 0.1, 1.0);
        }
        a.flush(1);
        b.flush(1);
        let rows: Vec<u64> = lines(&c).iter().map(|l| l.0).collect();
        assert_eq!(rows.len(), 13, "{rows:?}"); // 1, 2, ..., 4096
        for (k, r) in rows.iter().enumerate() {
            assert!((1u64 << k..2u64 << k).contains(r), "{rows:?}");
        }
        assert_eq!(c.closing().rows, 5000);
    }

    /// Silent training queues no line, and hands over only every 512 rows.
    #[test]
    fn silent_training_queues_no_line() {
        let c = Counters::new(Progress::Silent, Instant::now());
        let mut t = Tally::new(&c, 1);
        for _ in 0..511 {
            t.row(1, 0.1, 1.0);
        }
        assert_eq!(c.rows.load(std::sync::atomic::Ordering::Relaxed), 0);
        t.row(1, 0.1, 1.0);
        assert_eq!(c.rows.load(std::sync::atomic::Ordering::Relaxed), 512);
        assert!(lines(&c).is_empty());
    }

    #[test]
    fn a_line_has_the_pass_and_the_loss_so_far_and_since_the_line_before() {
        let prev = Line {
            pass: 1,
            rows: 4,
            loss: 2.0,
            weight: 4.0,
            features: 3,
            secs: 1.0,
        };
        let line = Line {
            pass: 2,
            rows: 8,
            loss: 6.0,
            weight: 8.0,
            features: 5,
            secs: 2.0,
        };
        let text = format_line(&line, Some(&prev), f64::NAN, 16);
        let cols: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(
            cols,
            ["2", "8", "8.0", "0.750000", "1.000000", "-", "5", "4", "2.0s", "2.0s"]
        );
        assert_eq!(text.len(), header().len(), "{text}\n{}", header());
        let early = Line { secs: 0.5, ..line };
        let text = format_line(&early, Some(&prev), 0.25, 16);
        let cols: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(cols[5..], ["0.250000", "5", "16", "0.5s", "-"]);
    }

    #[test]
    fn waits_until_the_end_of_training() {
        let f = Finish::default();
        assert!(!f.wait(Duration::ZERO));
        drop(Done(&f));
        assert!(f.wait(Duration::ZERO));
    }

    /// The end of training wakes a waiting thread at once: were it not woken, this test
    /// would wait out the hour.
    #[test]
    fn the_end_wakes_the_waiting_thread() {
        let f = Finish::default();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| f.wait(Duration::from_secs(3600)));
            f.end();
            assert!(waiter.join().unwrap());
        });
    }
}
