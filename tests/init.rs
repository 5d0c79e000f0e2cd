//! Default initialisation of sparse nets: a `Sparse<DIM>` input's weights do not shrink
//! with `DIM`, dense inputs and later layers are Xavier over their own fans.

use vectorflow::prelude::*;

fn extent(w: &[f32]) -> f32 {
    w.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

#[test]
fn a_wide_sparse_input_starts_at_the_sparse_scale_not_at_one_over_its_width() {
    const DIM: usize = 1 << 20;
    type Mlp = network![Sparse<DIM> => Linear<16> => ReLU => Linear<1>];
    let net = Mlp::new(Init::default());
    let p = net.params().to_vec();
    let (first, rest) = p.split_at(DIM * 16);
    let m = extent(first);
    assert!(
        m <= Init::SPARSE_SCALE && m > 0.99 * Init::SPARSE_SCALE,
        "first layer in ±{m}"
    );
    // Xavier over all 2^20 slots would have been ±0.0024.
    assert!(m > 10.0 * (6.0f32 / (DIM + 16) as f32).sqrt());
    let (bias, second) = rest.split_at(16);
    assert!(bias.iter().all(|b| *b == 0.0));
    let xavier = (6.0f32 / 17.0).sqrt();
    let m2 = extent(&second[..16]);
    assert!(m2 <= xavier && m2 > 0.5 * xavier, "second layer in ±{m2}");

    let wider = Mlp::new(Init::default().sparse_scale(0.2));
    assert!((extent(&wider.params().to_vec()[..DIM * 16]) - 0.2).abs() < 0.001);
    // An explicit scheme is drawn as asked, sparse input or not.
    let uniform = Mlp::new(Init::uniform(0.1));
    assert!((extent(&uniform.params().to_vec()[..DIM * 16]) - 0.1).abs() < 0.001);
}

#[test]
fn dense_roots_beside_a_sparse_one_count_only_the_dense_fan_in() {
    type M = network![Sparse<{ 1 << 12 }>, ctx: Dense<8> => Linear<4> => Linear<1>];
    let net = M::new(Init::default().seed(3));
    let p = net.params().to_vec();
    let sparse = &p[..(1 << 12) * 4];
    let dense = &p[(1 << 12) * 4..(1 << 12) * 4 + 8 * 4];
    assert!(extent(sparse) <= Init::SPARSE_SCALE);
    let xavier = (6.0f32 / (8.0 + 4.0)).sqrt();
    let m = extent(dense);
    assert!(m <= xavier && m > 0.6 * xavier, "dense block in ±{m}");
}
