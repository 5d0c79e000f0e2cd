//! Ranks as threads of one process: the [`Collective`] for tests, and for measuring how
//! training behaves at many ranks on one machine.
//!
//! [`Local::group`] makes the ranks of one job, one [`Local`] per rank, for a caller that
//! runs its own threads; [`run`] spawns the threads too:
//!
//! ```
//! use vectorflow::cluster::{local, Collective};
//!
//! let sums = local::run(4, |comm| {
//!     let mut buf = vec![comm.rank() as f32, 1.0];
//!     comm.sum_f32(&mut buf)?;
//!     Ok::<_, vectorflow::cluster::CollectiveError>(buf)
//! });
//! for sum in sums {
//!     assert_eq!(sum.unwrap(), [0.0 + 1.0 + 2.0 + 3.0, 4.0]);
//! }
//! ```
//!
//! The ranks meet at one shared table: each operation puts every rank's part in its slot,
//! the last rank to arrive combines them (sums added in rank order, so every rank gets the
//! same bits, equal to a serial sum and to the MPI engine's) and every rank copies the
//! outcome out. A rank whose [`Local`] is dropped (its thread returned early or panicked)
//! marks the job broken, and every operation of the other ranks, under way or later,
//! returns a [`CollectiveError`] naming it: a job never hangs on a rank that is gone.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

use super::{add_next_rank, Collective, CollectiveError, Summand};

/// One rank of a job whose ranks are threads of this process. Make the ranks with
/// [`Local::group`] (or let [`run`] make them), hand one to each thread, and call the
/// same [`Collective`] operations in the same order on every rank.
///
/// Dropping a rank's `Local` (its thread returns or panics) makes every operation the
/// other ranks have under way or start later fail with an error naming that rank, rather
/// than wait for it forever.
pub struct Local {
    rank: usize,
    group: Arc<Group>,
}

/// What the ranks of one job share.
struct Group {
    size: usize,
    table: Mutex<Table>,
    /// Signalled when an operation completes or a rank leaves.
    changed: Condvar,
}

struct Table {
    /// Each rank's part of the operation under way, until every rank has put its own.
    parts: Vec<Option<Part>>,
    arrived: usize,
    /// How many operations have completed: a waiting rank knows its own completed when
    /// this moves on.
    completed: u64,
    /// The last completed operation's outcome. No rank can start the next operation's
    /// completion before every rank has taken its copy, since every rank must arrive.
    outcome: Result<Arc<Part>, CollectiveError>,
    /// The first rank whose `Local` was dropped: the job can complete nothing more.
    left: Option<Left>,
}

#[derive(Clone, Copy)]
struct Left {
    rank: usize,
    panicked: bool,
}

/// A rank's contribution to one operation, and the operation's outcome.
enum Part {
    F32(Vec<f32>),
    F64(Vec<f64>),
    U64(Vec<u64>),
    /// Rank `root`'s bytes; the other ranks put none.
    Broadcast {
        root: usize,
        bytes: Vec<u8>,
    },
    Barrier,
}

/// What every rank must agree on for an operation: which one and its shape.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Call {
    SumF32(usize),
    SumF64(usize),
    SumU64(usize),
    Broadcast(usize),
    Barrier,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::SumF32(len) => write!(f, "sum_f32 of {len} values"),
            Call::SumF64(len) => write!(f, "sum_f64 of {len} values"),
            Call::SumU64(len) => write!(f, "sum_u64 of {len} values"),
            Call::Broadcast(root) => write!(f, "broadcast from rank {root}"),
            Call::Barrier => f.write_str("barrier"),
        }
    }
}

impl Part {
    fn call(&self) -> Call {
        match self {
            Part::F32(v) => Call::SumF32(v.len()),
            Part::F64(v) => Call::SumF64(v.len()),
            Part::U64(v) => Call::SumU64(v.len()),
            Part::Broadcast { root, .. } => Call::Broadcast(*root),
            Part::Barrier => Call::Barrier,
        }
    }
}

/// The element types of the sums, and where their buffers sit in a [`Part`].
trait Element: Summand + Send + Sync + 'static {
    fn into_part(values: Vec<Self>) -> Part;
    fn from_part(part: &Part) -> Option<&[Self]>;
    fn sum_in_rank_order(parts: Vec<Part>) -> Option<Part>;
}

macro_rules! element {
    ($ty:ty, $variant:ident) => {
        impl Element for $ty {
            fn into_part(values: Vec<$ty>) -> Part {
                Part::$variant(values)
            }

            fn from_part(part: &Part) -> Option<&[$ty]> {
                match part {
                    Part::$variant(values) => Some(values),
                    _ => None,
                }
            }

            fn sum_in_rank_order(parts: Vec<Part>) -> Option<Part> {
                let mut parts = parts.into_iter().map(|part| match part {
                    Part::$variant(values) => Some(values),
                    _ => None,
                });
                let mut acc = parts.next()??;
                for next in parts {
                    add_next_rank(&mut acc, &next?);
                }
                Some(Part::$variant(acc))
            }
        }
    };
}

element!(f32, F32);
element!(f64, F64);
element!(u64, U64);

impl Local {
    /// The `size` ranks of one new job, in rank order: hand one to each thread. (An empty
    /// job for `size == 0`.)
    pub fn group(size: usize) -> Vec<Local> {
        let group = Arc::new(Group {
            size,
            table: Mutex::new(Table {
                parts: (0..size).map(|_| None).collect(),
                arrived: 0,
                completed: 0,
                outcome: Ok(Arc::new(Part::Barrier)),
                left: None,
            }),
            changed: Condvar::new(),
        });
        (0..size)
            .map(|rank| Local {
                rank,
                group: Arc::clone(&group),
            })
            .collect()
    }

    /// Puts this rank's part of an operation on the table, waits for every rank's, and
    /// returns the combined outcome.
    fn exchange(&self, part: Part) -> Result<Arc<Part>, CollectiveError> {
        let call = part.call();
        let mut table = self.group.lock();
        if let Some(left) = table.left {
            return Err(self.left_error(left, call));
        }
        if table.parts[self.rank].is_some() {
            // Two threads calling through one rank at once: refuse the second rather than
            // count the rank twice.
            return Err(CollectiveError(format!(
                "cluster::Local rank {}: {call} called while this rank's previous \
                 operation is under way (one Local is one rank: share it between threads \
                 only in turns)",
                self.rank
            )));
        }
        let ticket = table.completed;
        table.parts[self.rank] = Some(part);
        table.arrived += 1;
        if table.arrived == self.group.size {
            let parts: Vec<Part> = table.parts.iter_mut().filter_map(Option::take).collect();
            table.outcome = combine(parts).map(Arc::new);
            table.arrived = 0;
            table.completed += 1;
            self.group.changed.notify_all();
            return table.outcome.clone();
        }
        loop {
            table = self
                .group
                .changed
                .wait(table)
                .unwrap_or_else(PoisonError::into_inner);
            if table.completed != ticket {
                return table.outcome.clone();
            }
            if let Some(left) = table.left {
                return Err(self.left_error(left, call));
            }
        }
    }

    fn left_error(&self, left: Left, call: Call) -> CollectiveError {
        let how = if left.panicked {
            "panicked"
        } else {
            "ended (its cluster::Local was dropped)"
        };
        CollectiveError(format!(
            "rank {} of {} {how}, so rank {}'s {call} cannot complete",
            left.rank, self.group.size, self.rank
        ))
    }

    fn sum<T: Element>(&self, buf: &mut [T]) -> Result<(), CollectiveError> {
        let outcome = self.exchange(T::into_part(buf.to_vec()))?;
        // `combine` checked that every rank called this sum with this length.
        if let Some(sum) = T::from_part(&outcome).filter(|sum| sum.len() == buf.len()) {
            buf.copy_from_slice(sum);
        }
        Ok(())
    }
}

impl Group {
    fn lock(&self) -> MutexGuard<'_, Table> {
        // The table is consistent between statements (nothing panics while holding it),
        // so a panic elsewhere in a rank's thread does not make it unusable.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The outcome of an operation every rank has joined, from their parts in rank order; an
/// error (the same on every rank) if they did not all call the same operation.
fn combine(parts: Vec<Part>) -> Result<Part, CollectiveError> {
    let size = parts.len();
    let first = parts[0].call();
    if let Some((rank, other)) = parts.iter().enumerate().find(|(_, p)| p.call() != first) {
        return Err(CollectiveError(format!(
            "cluster::Local: the ranks called different operations: rank 0 {first}, \
             rank {rank} {}",
            other.call()
        )));
    }
    let summed = match first {
        Call::SumF32(_) => f32::sum_in_rank_order(parts),
        Call::SumF64(_) => f64::sum_in_rank_order(parts),
        Call::SumU64(_) => u64::sum_in_rank_order(parts),
        Call::Broadcast(root) if root >= size => {
            return Err(CollectiveError(format!(
                "cluster::Local: broadcast from rank {root}, but the job has {size} ranks"
            )))
        }
        Call::Broadcast(root) => parts.into_iter().nth(root),
        Call::Barrier => Some(Part::Barrier),
    };
    // Every part matched `first`, so the sum found its buffers.
    Ok(summed.unwrap_or(Part::Barrier))
}

impl Collective for Local {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.group.size
    }

    sums_by_generic_sum!();

    fn broadcast(&self, buf: &mut Vec<u8>, root: usize) -> Result<(), CollectiveError> {
        let bytes = if self.rank == root {
            buf.clone()
        } else {
            Vec::new()
        };
        let outcome = self.exchange(Part::Broadcast { root, bytes })?;
        if self.rank != root {
            if let Part::Broadcast { bytes, .. } = &*outcome {
                buf.clear();
                buf.extend_from_slice(bytes);
            }
        }
        Ok(())
    }

    fn barrier(&self) -> Result<(), CollectiveError> {
        self.exchange(Part::Barrier).map(drop)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let mut table = self.group.lock();
        if table.left.is_none() {
            table.left = Some(Left {
                rank: self.rank,
                panicked: thread::panicking(),
            });
        }
        drop(table);
        self.group.changed.notify_all();
    }
}

impl fmt::Debug for Local {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Local {{ rank: {}, size: {} }}",
            self.rank, self.group.size
        )
    }
}

/// Runs `f` on `size` ranks, each on its own thread (named `rank N`) with its [`Local`],
/// and returns their results in rank order once every rank has returned.
///
/// A rank that returns early or panics drops its `Local`, so the others' operations fail
/// (with an error naming it) rather than hang; if a rank panicked, `run` then resumes the
/// lowest such rank's panic.
pub fn run<T, F>(size: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(&Local) -> T + Sync,
{
    let f = &f;
    thread::scope(|scope| {
        let threads: Vec<_> = Local::group(size)
            .into_iter()
            .map(|comm| {
                thread::Builder::new()
                    .name(format!("rank {}", comm.rank))
                    .spawn_scoped(scope, move || f(&comm))
                    .expect("spawning a rank's thread")
            })
            .collect();
        let joined: Vec<thread::Result<T>> = threads.into_iter().map(|t| t.join()).collect();
        let mut results = Vec::with_capacity(size);
        for result in joined {
            match result {
                Ok(value) => results.push(value),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect_err(result: Result<(), CollectiveError>) -> String {
        match result {
            Ok(()) => panic!("the operation succeeded"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn a_rank_that_returns_early_fails_the_others_pending_and_later_operations() {
        let results = run(4, |comm| {
            if comm.rank() == 2 {
                // Leaves before the first operation: the others are waiting or about to.
                return Vec::new();
            }
            let mut buf = vec![1.0f32; 3];
            vec![
                expect_err(comm.sum_f32(&mut buf)),
                expect_err(comm.barrier()),
                expect_err(comm.broadcast(&mut Vec::new(), 0)),
            ]
        });
        for (rank, errors) in results.iter().enumerate() {
            if rank == 2 {
                continue;
            }
            assert_eq!(errors.len(), 3);
            for e in errors {
                assert!(e.starts_with("rank 2 of 4 ended"), "{e}");
                assert!(e.contains(&format!("rank {rank}'s")), "{e}");
            }
        }
    }

    #[test]
    fn a_rank_that_panics_mid_job_fails_the_others_and_is_named() {
        let mut group = Local::group(3);
        let last = group.pop().expect("three ranks");
        let errors = thread::scope(|scope| {
            let others: Vec<_> = group
                .into_iter()
                .map(|comm| {
                    scope.spawn(move || {
                        comm.barrier().expect("every rank joins the first barrier");
                        let mut buf = vec![0u64; 5];
                        expect_err(comm.sum_u64(&mut buf))
                    })
                })
                .collect();
            let panicker = scope.spawn(move || {
                last.barrier().expect("every rank joins the first barrier");
                panic!("rank 2 fails on purpose");
            });
            assert!(panicker.join().is_err());
            others
                .into_iter()
                .map(|t| t.join().expect("ranks 0 and 1 do not panic"))
                .collect::<Vec<_>>()
        });
        assert_eq!(errors.len(), 2);
        for (rank, e) in errors.iter().enumerate() {
            assert_eq!(
                e,
                &format!(
                    "rank 2 of 3 panicked, so rank {rank}'s sum_u64 of 5 values cannot complete"
                )
            );
        }
    }

    #[test]
    fn run_resumes_a_ranks_panic_after_every_rank_finished() {
        let caught = std::panic::catch_unwind(|| {
            run(2, |comm| {
                if comm.rank() == 1 {
                    panic!("rank 1 fails on purpose");
                }
                comm.barrier()
            })
        });
        let panic = caught.expect_err("run resumes rank 1's panic");
        assert_eq!(
            panic.downcast_ref::<&str>(),
            Some(&"rank 1 fails on purpose")
        );
    }

    #[test]
    fn ranks_calling_different_operations_all_get_the_same_error() {
        let errors = run(3, |comm| {
            let result = if comm.rank() == 1 {
                comm.sum_f32(&mut [0.0; 4])
            } else {
                comm.sum_f32(&mut [0.0; 3])
            };
            expect_err(result)
        });
        for e in &errors {
            assert_eq!(
                e,
                "cluster::Local: the ranks called different operations: rank 0 sum_f32 of 3 \
                 values, rank 1 sum_f32 of 4 values"
            );
        }
        let errors = run(2, |comm| expect_err(comm.broadcast(&mut vec![1], 2)));
        for e in &errors {
            assert_eq!(
                e,
                "cluster::Local: broadcast from rank 2, but the job has 2 ranks"
            );
        }
    }

    #[test]
    fn broadcast_replaces_every_ranks_bytes_whatever_their_length() {
        let received = run(3, |comm| {
            let mut buf = vec![comm.rank() as u8; 10 * comm.rank()];
            if comm.rank() == 1 {
                buf = vec![7, 8, 9];
            }
            comm.broadcast(&mut buf, 1).map(|()| buf)
        });
        for buf in received {
            assert_eq!(buf.unwrap(), [7, 8, 9]);
        }
    }

    #[test]
    fn one_rank_and_empty_buffers_complete() {
        let [comm] = <[Local; 1]>::try_from(Local::group(1)).expect("one rank");
        let mut buf = vec![-0.0f32, 1.5];
        comm.sum_f32(&mut buf).unwrap();
        assert_eq!(buf[0].to_bits(), (-0.0f32).to_bits());
        comm.sum_f64(&mut []).unwrap();
        comm.barrier().unwrap();
        assert!(Local::group(0).is_empty());
        assert!(run(0, |_| ()).is_empty());
    }
}
