//! The conformance check of a `Collective` engine, shared by tests/collective.rs (the
//! in-process ranks at 1 to 16 ranks) and examples/collective_check.rs (the MPI world
//! under `mpirun`), so that both engines pass the very same checks.
//!
//! Every buffer is a function of (rank, element, round), so each rank knows what every
//! other rank sent and checks the outcome against a serial rank-order sum of its own,
//! bit for bit. The values mix magnitudes (1e8, 1, -1e8, ...) so that adding in any other
//! order gives other bits.

use vectorflow::cluster::Collective;

/// Rank `rank`'s value at element `i` of round `round`'s `f32` buffers: a mix of
/// magnitudes (1e8, 1, -1e8, ...) whose sums depend on the order of addition.
pub fn value_f32(rank: usize, i: usize, round: usize) -> f32 {
    mixed(rank, i, round, 1e8) as f32
}

/// As [`value_f32`] for `f64` buffers, whose large values are larger (1e17) so that the
/// small ones are lost in another order too.
pub fn value_f64(rank: usize, i: usize, round: usize) -> f64 {
    mixed(rank, i, round, 1e17)
}

fn mixed(rank: usize, i: usize, round: usize, big: f64) -> f64 {
    let table = [big, 1.0, -big, 0.5, -0.0, 3.25e-3, -0.7 * big, 0.1, -1.0];
    // A hash rather than a cycle, so that the ranks' values at an element are not a
    // rotation of another element's.
    let mut x = (rank as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (i as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (round as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    table[(x % table.len() as u64) as usize]
}

/// Rank `rank`'s value at element `i` of round `round`'s `u64` buffers: large, so that
/// the sums wrap.
pub fn value_u64(rank: usize, i: usize, round: usize) -> u64 {
    (rank as u64 + 1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((i * 131 + round) as u64)
}

/// The serial rank-order sum of `size` ranks' values at element `i`: rank 0's value, plus
/// rank 1's, and so on, in type `T`.
pub fn rank_order_sum<T: Copy + std::ops::Add<Output = T>>(
    size: usize,
    i: usize,
    value: impl Fn(usize, usize) -> T,
) -> T {
    (1..size).fold(value(0, i), |acc, rank| acc + value(rank, i))
}

/// Root `root`'s broadcast bytes in round `round`: a length of 0 to a few hundred.
fn root_bytes(root: usize, round: usize) -> Vec<u8> {
    let len = (root * 37 + round * 11) % 300;
    (0..len)
        .map(|i| (root * 31 + i * 7 + round) as u8)
        .collect()
}

/// The lengths of the sums of round `round`: empty, one element, a few, and some
/// thousands (the first round adds one of 30 011).
fn lengths(round: usize) -> Vec<usize> {
    let mut lengths = vec![0, 1, 7, 4096 + round];
    if round == 0 {
        lengths.push(30_011);
    }
    lengths
}

/// Runs every check on `comm`: three rounds of sums of each type and length, a broadcast
/// from every root, and barriers, interleaved. Returns how many operations it ran, or the
/// first mismatch or engine error, naming this rank, the operation and the element.
pub fn check(comm: &dyn Collective) -> Result<usize, String> {
    let (rank, size) = (comm.rank(), comm.size());
    let at = |e: String| format!("rank {rank} of {size}: {e}");
    let mut ops = 0;
    for round in 0..3 {
        for len in lengths(round) {
            let op = format!("sum_f32 of {len}, round {round}");
            let mut f32s: Vec<f32> = (0..len).map(|i| value_f32(rank, i, round)).collect();
            comm.sum_f32(&mut f32s)
                .map_err(|e| at(format!("{op}: {e}")))?;
            let want = |i| rank_order_sum(size, i, |r, i| value_f32(r, i, round));
            same_bits(&op, &f32s, want, |x| x.to_bits() as u64).map_err(at)?;

            // A broadcast between the sums, from every root in turn.
            broadcast_check(comm, (round + len) % size, round).map_err(at)?;

            let op = format!("sum_f64 of {len}, round {round}");
            let mut f64s: Vec<f64> = (0..len).map(|i| value_f64(rank, i, round + 1)).collect();
            comm.sum_f64(&mut f64s)
                .map_err(|e| at(format!("{op}: {e}")))?;
            let want = |i| rank_order_sum(size, i, |r, i| value_f64(r, i, round + 1));
            same_bits(&op, &f64s, want, f64::to_bits).map_err(at)?;

            let op = format!("sum_u64 of {len}, round {round}");
            let mut u64s: Vec<u64> = (0..len).map(|i| value_u64(rank, i, round)).collect();
            comm.sum_u64(&mut u64s)
                .map_err(|e| at(format!("{op}: {e}")))?;
            let want = |i| (0..size).fold(0u64, |acc, r| acc.wrapping_add(value_u64(r, i, round)));
            same_bits(&op, &u64s, want, |x| x).map_err(at)?;
            ops += 4;
        }
        for root in 0..size {
            broadcast_check(comm, root, round + 1).map_err(at)?;
        }
        comm.barrier().map_err(|e| at(format!("barrier: {e}")))?;
        ops += size + 1;
    }
    Ok(ops)
}

/// Checks that `got` has `want(i)`'s bits at every element `i`.
fn same_bits<T: Copy + std::fmt::Debug>(
    op: &str,
    got: &[T],
    want: impl Fn(usize) -> T,
    bits: impl Fn(T) -> u64,
) -> Result<(), String> {
    for (i, &got) in got.iter().enumerate() {
        let want = want(i);
        if bits(got) != bits(want) {
            return Err(format!(
                "{op}: element {i} is {got:?}, the serial rank-order sum is {want:?}"
            ));
        }
    }
    Ok(())
}

/// Broadcasts `root`'s bytes of round `round` over buffers of other lengths on the other
/// ranks, and checks that every rank received them.
fn broadcast_check(comm: &dyn Collective, root: usize, round: usize) -> Result<(), String> {
    let rank = comm.rank();
    let sent = root_bytes(root, round);
    let mut bytes = if rank == root {
        sent.clone()
    } else {
        vec![rank as u8; rank * 3 + 1]
    };
    let op = format!("broadcast from rank {root}, round {round}");
    comm.broadcast(&mut bytes, root)
        .map_err(|e| format!("{op}: {e}"))?;
    if bytes != sent {
        return Err(format!(
            "{op}: received {} bytes, not rank {root}'s {}",
            bytes.len(),
            sent.len()
        ));
    }
    Ok(())
}
