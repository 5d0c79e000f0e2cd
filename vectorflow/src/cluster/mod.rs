//! Training one model across processes: the operations the ranks exchange through.
//!
//! A job of N ranks (processes under `mpirun`, or threads in one process for tests and
//! simulations) trains one model: each rank reads its own shard of the data, trains it
//! with its own threads as one process does, and the ranks combine their changes at
//! every sync. [`Collective`] is the one interface to whatever carries the bytes, so the
//! trainer is the same on every engine.
//!
//! Engines: [`Local`], ranks as threads of one process (for tests and simulations), and
//! `Mpi`, one rank per process under `mpirun` (with the cargo feature `mpi`).

use std::fmt;

/// The three sums of an engine whose own `fn sum<T>(&self, buf: &mut [T])` sums any of
/// the element types: one line in each engine's `impl Collective` rather than the
/// forwarding written again.
macro_rules! sums_by_generic_sum {
    () => {
        fn sum_f32(&self, buf: &mut [f32]) -> Result<(), CollectiveError> {
            self.sum(buf)
        }

        fn sum_f64(&self, buf: &mut [f64]) -> Result<(), CollectiveError> {
            self.sum(buf)
        }

        fn sum_u64(&self, buf: &mut [u64]) -> Result<(), CollectiveError> {
            self.sum(buf)
        }
    };
}

pub mod local;
#[cfg(feature = "mpi")]
pub mod mpi;

#[cfg(feature = "mpi")]
pub use self::mpi::Mpi;
pub use local::Local;

/// A rank's link to the other ranks of its job: the few collective operations the
/// trainer needs. Every rank calls the same operations in the same order with buffers of
/// the same lengths (the trainer guarantees it); an operation returns once every rank
/// has called it.
///
/// Sums are added in rank order (rank 0's buffer, plus rank 1's, and so on) on every
/// implementation, so that every rank ends with the same bits and a job of N in-process
/// ranks trains the same weights as N processes.
pub trait Collective {
    /// This rank, from 0.
    fn rank(&self) -> usize;

    /// How many ranks the job has.
    fn size(&self) -> usize;

    /// Replaces `buf`, on every rank, with the element-wise sum of every rank's `buf`,
    /// added in rank order.
    fn sum_f32(&self, buf: &mut [f32]) -> Result<(), CollectiveError>;

    /// As [`Collective::sum_f32`], for `f64`.
    fn sum_f64(&self, buf: &mut [f64]) -> Result<(), CollectiveError>;

    /// As [`Collective::sum_f32`], for `u64` (wrapping).
    fn sum_u64(&self, buf: &mut [u64]) -> Result<(), CollectiveError>;

    /// Replaces `buf`, on every rank, with the bytes of rank `root`'s (of any length;
    /// the other ranks' contents are ignored).
    fn broadcast(&self, buf: &mut Vec<u8>, root: usize) -> Result<(), CollectiveError>;

    /// Returns once every rank has called it.
    fn barrier(&self) -> Result<(), CollectiveError>;
}

/// A collective operation could not complete: another rank is gone (its thread ended or
/// panicked, its process died) or the engine failed. Its message says which.
#[derive(Clone, PartialEq, Eq)]
pub struct CollectiveError(pub String);

impl fmt::Display for CollectiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CollectiveError {}

debug_as_message!(CollectiveError);

/// An element type the collective sums: one addition per element, shared by every engine
/// so that they all add the same way and agree to the bit.
pub(crate) trait Summand: Copy {
    /// `self + other`, as the sums add it.
    fn plus(self, other: Self) -> Self;
}

impl Summand for f32 {
    #[inline(always)]
    fn plus(self, other: f32) -> f32 {
        self + other
    }
}

impl Summand for f64 {
    #[inline(always)]
    fn plus(self, other: f64) -> f64 {
        self + other
    }
}

impl Summand for u64 {
    #[inline(always)]
    fn plus(self, other: u64) -> u64 {
        self.wrapping_add(other)
    }
}

/// Adds `next` (the next rank's buffer) into `acc` (the sum of the ranks before it),
/// element by element. A rank-order sum is rank 0's buffer followed by this with ranks
/// 1, 2, ... in turn (starting from rank 0's values rather than zeros, so that a lone
/// `-0.0` stays `-0.0`).
pub(crate) fn add_next_rank<T: Summand>(acc: &mut [T], next: &[T]) {
    for (a, &b) in acc.iter_mut().zip(next) {
        *a = a.plus(b);
    }
}
