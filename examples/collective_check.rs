//! The conformance check of the MPI engine (`vectorflow::cluster::Mpi`), run under
//! `mpirun`: the same checks the in-process ranks pass in tests/collective.rs (sums equal
//! to a serial rank-order sum bit for bit, broadcasts of any length from every root,
//! barriers, in a mixed sequence).
//!
//! ```text
//! cargo build --release --features mpi --example collective_check
//! mpirun --oversubscribe -np 4 target/release/examples/collective_check
//! ```
//!
//! Rank 0 prints one line; a rank that finds a mismatch prints it and aborts the job with
//! a non-zero exit.

#[path = "common/collective.rs"]
mod collective;

use std::process::ExitCode;
use vectorflow::cluster::{Collective, Mpi};

fn main() -> ExitCode {
    let comm = match Mpi::init() {
        Ok(comm) => comm,
        Err(e) => {
            eprintln!("collective_check: {e}");
            return ExitCode::FAILURE;
        }
    };
    match collective::check(&comm) {
        Ok(ops) => {
            if comm.rank() == 0 {
                println!(
                    "collective_check: {} ranks passed {ops} operations (sums in rank order, \
                     broadcasts, barriers)",
                    comm.size()
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("collective_check: FAILED: {e}");
            comm.abort(1)
        }
    }
}
