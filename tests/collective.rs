//! The in-process ranks (`cluster::Local`) pass the conformance check the MPI engine
//! passes under `mpirun` (examples/collective_check.rs): sums equal to a serial
//! rank-order sum bit for bit, broadcasts of any length from every root, barriers, in a
//! mixed sequence, at 1 to 16 ranks.

#[path = "../examples/common/collective.rs"]
mod collective;

use vectorflow::cluster::local;

#[test]
fn in_process_ranks_pass_the_conformance_check_at_1_to_16_ranks() {
    for size in 1..=16 {
        let outcomes = local::run(size, |comm| collective::check(comm));
        for outcome in outcomes {
            let ops = outcome.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(ops, 3 * (size + 1) + 4 * 13, "{size} ranks");
        }
    }
}

/// The check has teeth: at 3 ranks or more some element's rank-order sum differs from
/// the reverse order's in `f32` and in `f64`, so an engine adding in another order fails.
#[test]
fn the_checks_values_sum_differently_in_another_order() {
    for size in 3..=16 {
        let differs = |round: usize, f: &dyn Fn(usize, usize) -> (u64, u64)| {
            (0..4096).any(|i| {
                let (forward, reverse) = f(i, round);
                forward != reverse
            })
        };
        let f32s = |i: usize, round: usize| {
            let v = |r: usize| collective::value_f32(r, i, round);
            let forward = collective::rank_order_sum(size, i, |r, _| v(r));
            let reverse = collective::rank_order_sum(size, i, |r, _| v(size - 1 - r));
            (forward.to_bits() as u64, reverse.to_bits() as u64)
        };
        let f64s = |i: usize, round: usize| {
            let v = |r: usize| collective::value_f64(r, i, round);
            let forward = collective::rank_order_sum(size, i, |r, _| v(r));
            let reverse = collective::rank_order_sum(size, i, |r, _| v(size - 1 - r));
            (forward.to_bits(), reverse.to_bits())
        };
        assert!(differs(0, &f32s), "f32 at {size} ranks");
        assert!(differs(1, &f64s), "f64 at {size} ranks");
    }
}
