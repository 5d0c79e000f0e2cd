//! Live progress while training: a Vowpal-Wabbit-style progressive-validation table.
//!
//! Lines come at doubling row counts (and at least every few seconds), each with the
//! average loss since the previous line. On a terminal a status line below the table is
//! redrawn in place; when stderr is piped only the table lines are written.

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

/// Counters the training threads add to every few hundred rows.
#[derive(Default)]
pub(crate) struct Counters {
    pub rows: AtomicU64,
    pub nnz: AtomicU64,
    /// Weighted loss sum and weight sum.
    pub loss: Mutex<(f64, f64)>,
    pub done: Finish,
    /// The last holdout loss, as f64 bits (NaN if none yet).
    pub holdout: AtomicU64,
}

impl Counters {
    pub fn new() -> Counters {
        let c = Counters::default();
        c.holdout.store(f64::NAN.to_bits(), Ordering::Relaxed);
        c
    }
    pub fn add(&self, rows: u64, nnz: u64, loss: f64, weight: f64) {
        self.rows.fetch_add(rows, Ordering::Relaxed);
        self.nnz.fetch_add(nnz, Ordering::Relaxed);
        let mut l = self.loss.lock().unwrap_or_else(|e| e.into_inner());
        l.0 += loss;
        l.1 += weight;
    }
    /// The weighted loss sum and weight sum so far.
    pub fn loss_sums(&self) -> (f64, f64) {
        *self.loss.lock().unwrap_or_else(|e| e.into_inner())
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

/// Prints the table while `counters.done` is false; `total` is the number of rows all
/// passes will train on, 0 when unknown (a stream): then no time left is shown.
pub(crate) fn report(mode: Progress, counters: &Counters, total: u64, start: Instant) {
    if mode == Progress::Silent {
        return;
    }
    let live = mode == Progress::Auto && std::io::stderr().is_terminal();
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "{:>12} {:>10} {:>10} {:>11} {:>12} {:>9} {:>9}",
        "rows", "avg loss", "holdout", "rows/s", "features/s", "elapsed", "left"
    );
    let (mut next, mut last_line) = (1024u64, Instant::now());
    let (mut prev_loss, mut prev_w, mut prev_rows) = (0.0, 0.0, 0u64);
    let mut finished = false;
    while !finished {
        finished = counters.done.wait(Duration::from_millis(50));
        let rows = counters.rows.load(Ordering::Relaxed);
        let nnz = counters.nnz.load(Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        let rate = rows as f64 / secs;
        let left = if rate > 0.0 && total > 0 {
            format!("{:.1}s", total.saturating_sub(rows) as f64 / rate)
        } else {
            "-".to_string()
        };
        let line_due = rows >= next || (rows > 0 && last_line.elapsed() > Duration::from_secs(5));
        if rows > prev_rows && (line_due || finished) {
            let (l, w) = counters.loss_sums();
            let avg = if w > prev_w {
                (l - prev_loss) / (w - prev_w)
            } else {
                f64::NAN
            };
            let holdout = f64::from_bits(counters.holdout.load(Ordering::Relaxed));
            let h = if holdout.is_nan() {
                "-".to_string()
            } else {
                format!("{holdout:.6}")
            };
            let _ = writeln!(
                err,
                "{}{:>12} {:>10.6} {:>10} {:>11.0} {:>12.3e} {:>8.1}s {:>9}",
                if live { "\r\x1b[2K" } else { "" },
                rows,
                avg,
                h,
                rate,
                nnz as f64 / secs,
                secs,
                left
            );
            (prev_loss, prev_w, prev_rows) = (l, w, rows);
            while next <= rows {
                next *= 2;
            }
            last_line = Instant::now();
        } else if live && total > 0 {
            let pct = 100.0 * rows as f64 / total as f64;
            let bar = "#".repeat((pct / 5.0) as usize);
            let _ = write!(
                err,
                "\r\x1b[2K[{bar:<20}] {pct:5.1}%  {rate:.0} rows/s  {left} left"
            );
            let _ = err.flush();
        } else if live {
            let _ = write!(err, "\r\x1b[2K{rows} rows  {rate:.0} rows/s");
            let _ = err.flush();
        }
    }
    if live {
        let _ = write!(err, "\r\x1b[2K");
    }
}

#[cfg(test)]
mod tests {
    use super::{Done, Finish};
    use std::time::Duration;

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
