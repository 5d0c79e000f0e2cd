//! The merge rule on single weights, as two ranks would combine them.

use super::mirror::Rule;

/// Packs each rank's `(now, base)` of a weight and its states, sums the packs in rank
/// order as a collective would, and applies the sum to the base.
fn merge(rule: Rule, ranks: &[(&[f32], &[f32])]) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    for (cur, base) in ranks {
        let mut out = Vec::new();
        rule.pack(cur, base, &mut out);
        if sum.is_empty() {
            sum = out;
        } else {
            sum.iter_mut().zip(out).for_each(|(s, x)| *s += x);
        }
    }
    let mut base = ranks[0].1.to_vec();
    rule.apply(&mut base, &sum);
    base
}

#[test]
fn a_weight_one_rank_moved_keeps_its_step_and_several_average_by_their_accumulators() {
    let ada = Rule::for_optimizer("AdaGrad");
    let base: &[f32] = &[1.0, 2.0];
    // Rank 0 moved the weight by 0.5, its accumulator by 1; rank 1 did not touch it.
    assert_eq!(merge(ada, &[(&[1.5, 3.0], base), (base, base)]), [1.5, 3.0]);
    // Both moved it: the steps average, weighted 3 : 1; the accumulators add up.
    let got = merge(ada, &[(&[1.4, 5.0], base), (&[1.8, 3.0], base)]);
    assert_eq!(got, [1.5, 6.0]);
    // Two ranks' equal steps are one step, not two.
    let got = merge(ada, &[(&[1.5, 3.0], base), (&[1.5, 3.0], base)]);
    assert_eq!(got, [1.5, 4.0]);
    // Without an accumulator (momentum), the ranks that moved it average, states too.
    let sgd = Rule::for_optimizer("Sgd");
    let got = merge(
        sgd,
        &[(&[1.25, 1.5], base), (&[1.75, 3.5], base), (base, base)],
    );
    assert_eq!(got, [1.5, 2.5]);
    // Untouched everywhere: unchanged, to the bit.
    assert_eq!(merge(ada, &[(base, base), (base, base)]), base);
}
