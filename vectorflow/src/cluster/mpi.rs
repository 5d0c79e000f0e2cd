//! MPI as the [`Collective`]: one rank per process, started by `mpirun`, Slurm's `srun` or
//! the Kubernetes MPI Operator (only with the cargo feature `mpi`).
//!
//! ```no_run
//! use vectorflow::cluster::{Collective, Mpi};
//!
//! let comm = Mpi::init()?;
//! let mut rows = [1_000u64];
//! comm.sum_u64(&mut rows)?;
//! if comm.rank() == 0 {
//!     println!("{} ranks read {} rows", comm.size(), rows[0]);
//! }
//! # Ok::<(), vectorflow::cluster::CollectiveError>(())
//! ```
//!
//! # Sums in rank order, and what they move
//!
//! `MPI_Allreduce` adds in an order that depends on the algorithm the library picks (by
//! message size and rank count) and may differ between ranks, so its float sums can
//! differ in their last bits between job shapes and between ranks. The sums here move
//! the values with MPI and add them with the in-process engine's code (`add_next_rank`),
//! in rank order; with `w` bytes an element, `len` elements and `n` ranks:
//!
//! - **Small buffers** (`len × n` ≤ 4096 elements, the metrics and counts): one
//!   `MPI_Allgather`, then every rank adds the `n` buffers in rank order itself; the same
//!   additions of the same values give every rank the same bits. Each rank receives
//!   `(n − 1) × len × w` bytes, in one collective's latency (about log2 `n` steps).
//! - **Larger buffers** (the weights): a reduce-scatter then an allgather. The buffer is
//!   cut into `n` ranges, `MPI_Alltoallv` sends each range to the rank that owns it, the
//!   owner adds the `n` copies in rank order, and `MPI_Allgatherv` hands every range's sum
//!   to every rank. Each element is added once, by its owner, so every rank ends with the
//!   same bits. Each rank sends and receives about `2 × (n − 1)/n × len × w` bytes: what
//!   a ring allreduce moves, with no rank carrying more than the others (a gather to rank
//!   0 then a broadcast would make rank 0 receive `(n − 1) × len × w`).
//!
//! `u64` sums take the same path (integer sums do not depend on the order, but one path is
//! less code to trust). A broadcast moves 8 bytes of length, then the bytes
//! (`MPI_Bcast`). Buffers are sent in pieces of at most 2^27 elements, since MPI counts
//! are `i32`.
//!
//! # Failures
//!
//! MPI's default error handler aborts the job on an MPI error, and `mpirun` (or the
//! scheduler) ends every rank, with a non-zero exit, when one process dies: a job never
//! hangs on a dead rank, but it cannot continue either; restarting it (from a checkpoint)
//! is the recovery. [`Mpi::abort`] ends every rank when one finds an error of its own.

use std::marker::PhantomData;
use std::sync::{Mutex, MutexGuard, PoisonError};

// `::mpi` is the rsmpi crate, not this module.
use ::mpi::datatype::{Partition, PartitionMut};
use ::mpi::environment::Universe;
use ::mpi::topology::SimpleCommunicator;
use ::mpi::traits::{Communicator, CommunicatorCollectives, Equivalence, Root};
use ::mpi::{Count, Rank, Threading};

use super::{add_next_rank, Collective, CollectiveError, Summand};

/// Buffers of at most this many elements across all ranks are summed by one allgather.
const SMALL: usize = 4096;

/// The most elements one MPI call moves: MPI counts and displacements are `i32`.
const PIECE: usize = 1 << 27;

/// This process's rank in the MPI world (`MPI_COMM_WORLD`): the [`Collective`] of a job
/// run under `mpirun -np N`, `srun` or the MPI Operator. See the [module docs](self) for
/// the cost of each operation.
///
/// Make one per process with [`Mpi::init`]; dropping it finalizes MPI. It is `Sync` (the
/// threads of a rank may share `&Mpi`; their calls take turns, as
/// `MPI_THREAD_SERIALIZED` requires) but not `Send`, since MPI must be finalized by the
/// thread that initialised it.
pub struct Mpi {
    rank: usize,
    size: usize,
    /// One MPI call at a time, whichever thread makes it.
    turn: Mutex<()>,
    /// Finalizes MPI when dropped.
    universe: Universe,
    /// Not `Send` (a `MutexGuard` is `Sync` but not `Send`): see the type's docs.
    _stays_on_its_thread: PhantomData<MutexGuard<'static, ()>>,
}

impl Mpi {
    /// Initialises MPI and joins its world. Errors if MPI is already initialised in this
    /// process (make one `Mpi` and share it) or cannot serve calls from several threads in
    /// turn.
    pub fn init() -> Result<Mpi, CollectiveError> {
        let (universe, provided) = ::mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| {
                CollectiveError(
                    "cluster::Mpi::init: MPI is already initialised in this process (make \
                     one Mpi and share it)"
                        .into(),
                )
            })?;
        if !matches!(provided, Threading::Serialized | Threading::Multiple) {
            return Err(CollectiveError(format!(
                "cluster::Mpi::init: the MPI library provides thread level {provided:?}; \
                 vectorflow needs Serialized (calls from any thread, one at a time)"
            )));
        }
        let world = universe.world();
        Ok(Mpi {
            rank: rank_index(world.rank()),
            size: rank_index(world.size()),
            turn: Mutex::new(()),
            universe,
            _stays_on_its_thread: PhantomData,
        })
    }

    /// Ends every rank of the job with exit status `code` (`MPI_Abort`): what a rank does
    /// when it finds an error the others cannot see (a malformed line in its shard, a full
    /// disk), after printing it, so that no rank waits for it.
    pub fn abort(&self, code: i32) -> ! {
        self.universe.world().abort(code)
    }

    fn world(&self) -> (MutexGuard<'_, ()>, SimpleCommunicator) {
        // The guard protects no data, only MPI's turn: a panic elsewhere leaves it usable.
        let turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        (turn, self.universe.world())
    }

    fn sum<T: Equivalence + Summand + Default>(
        &self,
        buf: &mut [T],
    ) -> Result<(), CollectiveError> {
        let (_turn, world) = self.world();
        // Every rank has the same length, so every rank cuts the same pieces and takes the
        // same path for each.
        for piece in buf.chunks_mut(PIECE) {
            if piece.len() * self.size <= SMALL {
                self.sum_by_allgather(&world, piece);
            } else {
                self.sum_by_owners(&world, piece);
            }
        }
        Ok(())
    }

    /// Every rank receives every rank's `piece` and adds them in rank order.
    fn sum_by_allgather<T: Equivalence + Summand + Default>(
        &self,
        world: &SimpleCommunicator,
        piece: &mut [T],
    ) {
        let len = piece.len();
        let mut all = vec![T::default(); len * self.size];
        world.all_gather_into(&*piece, &mut all[..]);
        let (first, rest) = all.split_at(len);
        piece.copy_from_slice(first);
        for next in rest.chunks_exact(len.max(1)) {
            add_next_rank(piece, next);
        }
    }

    /// Rank `j` owns elements `[j × len / n, (j + 1) × len / n)`: it receives every rank's
    /// copy of them, adds them in rank order, and every rank gathers every owner's sums.
    fn sum_by_owners<T: Equivalence + Summand + Default>(
        &self,
        world: &SimpleCommunicator,
        piece: &mut [T],
    ) {
        let (n, len) = (self.size, piece.len());
        // `PIECE × n` fits a usize and every bound fits a Count, since len ≤ PIECE.
        let bound = |j: usize| (j * len / n) as Count;
        let starts: Vec<Count> = (0..n).map(bound).collect();
        let counts: Vec<Count> = (0..n).map(|j| bound(j + 1) - bound(j)).collect();
        let owned = counts[self.rank] as usize;
        let mut copies = vec![T::default(); owned * n];
        let copy_counts = vec![owned as Count; n];
        let copy_starts: Vec<Count> = (0..n).map(|r| (r * owned) as Count).collect();
        world.all_to_all_varcount_into(
            &Partition::new(&*piece, &counts[..], &starts[..]),
            &mut PartitionMut::new(&mut copies[..], &copy_counts[..], &copy_starts[..]),
        );
        let (first, rest) = copies.split_at(owned);
        let mut sums = first.to_vec();
        for next in rest.chunks_exact(owned.max(1)) {
            add_next_rank(&mut sums, next);
        }
        world.all_gather_varcount_into(
            &sums[..],
            &mut PartitionMut::new(piece, &counts[..], &starts[..]),
        );
    }
}

/// A rank or size from MPI (never negative) as an index.
fn rank_index(rank: Rank) -> usize {
    usize::try_from(rank).unwrap_or(0)
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn size(&self) -> usize {
        self.size
    }

    fn broadcast(&self, buf: &mut Vec<u8>, root: usize) -> Result<(), CollectiveError> {
        if root >= self.size {
            return Err(CollectiveError(format!(
                "cluster::Mpi: broadcast from rank {root}, but the job has {} ranks",
                self.size
            )));
        }
        let (_turn, world) = self.world();
        let root = world.process_at_rank(root as Rank);
        let mut len = [buf.len() as u64];
        root.broadcast_into(&mut len[..]);
        if self.rank != root.rank() as usize {
            let len = usize::try_from(len[0]).map_err(|_| {
                CollectiveError(format!(
                    "cluster::Mpi: a broadcast of {} bytes does not fit this rank's memory",
                    len[0]
                ))
            })?;
            buf.clear();
            buf.resize(len, 0);
        }
        for piece in buf.chunks_mut(PIECE) {
            root.broadcast_into(piece);
        }
        Ok(())
    }

    fn barrier(&self) -> Result<(), CollectiveError> {
        let (_turn, world) = self.world();
        world.barrier();
        Ok(())
    }

    sums_by_generic_sum!();
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mpi {{ rank: {}, size: {} }}", self.rank, self.size)
    }
}
