//! Row-wise AdaGrad: every store steps a sparse row by the mean square of its gradient,
//! one thread, replicas and Hogwild alike, per row and in mini-batches.

use vectorflow::prelude::*;

#[derive(Features, Clone)]
struct Ids {
    #[sparse]
    pairs: Vec<(u32, f32)>,
}

fn rows(ids: &[(u32, f32)]) -> Vec<Ids> {
    ids.iter().map(|&p| Ids { pairs: vec![p] }).collect()
}

const LR: f32 = 0.1;
const EPS: f32 = vectorflow::optim::INIT_ACC;

type Table = network![Sparse<16> => Linear<4, bias = false>];

/// The weights of a table trained on `rows` with the output gradient `DY` on every row.
fn fit(rows: &[Ids], threads: usize, sharing: Sharing, batch: usize) -> Vec<f32> {
    const DY: [f32; 4] = [1.0, 2.0, 3.0, 4.0];
    let mut net = Table::new(Init::zeros());
    let loss = |_: &[f32; 4], _: &Ids, g: &mut [f32; 4]| -> f32 {
        *g = DY;
        0.0
    };
    Trainer::new(RowAdaGrad::new(LR))
        .threads(threads)
        .sharing(sharing)
        .batch(batch)
        .shuffle(false)
        .progress(Progress::Silent)
        .fit(&mut net, rows, loss)
        .unwrap();
    net.params().to_vec()
}

/// Row `id`'s weights after steps whose gradients are `v · DY` for each `v` in `steps`.
fn expected(id: usize, steps: &[f32]) -> Vec<(usize, f32)> {
    let mut w = [0.0f32; 4];
    let mut acc = EPS;
    for &v in steps {
        let g = [v, 2.0 * v, 3.0 * v, 4.0 * v];
        acc += g.iter().map(|g| g * g).sum::<f32>() / 4.0;
        for k in 0..4 {
            w[k] -= LR * g[k] / acc.sqrt();
        }
    }
    (0..4).map(|k| (id * 4 + k, w[k])).collect()
}

fn assert_weights(got: &[f32], want: &[(usize, f32)], what: &str) {
    for (i, w) in got.iter().enumerate() {
        let e = want.iter().find(|p| p.0 == i).map_or(0.0, |p| p.1);
        assert!(
            (w - e).abs() < 1e-6,
            "{what}: weight {i} is {w}, expected {e}"
        );
    }
}

#[test]
fn one_thread_steps_each_row_by_its_mean_square() {
    let got = fit(&rows(&[(3, 1.0), (3, 1.0), (5, 2.0)]), 1, Sharing::Auto, 1);
    let mut want = expected(3, &[1.0, 1.0]);
    want.extend(expected(5, &[2.0]));
    assert_weights(&got, &want, "one thread");
}

#[test]
fn threads_step_their_rows_as_one_thread_would() {
    // Each thread trains one contiguous half: one row each, nothing raced.
    let mut want = expected(3, &[1.0]);
    want.extend(expected(5, &[2.0]));
    for sharing in [Sharing::Replicas, Sharing::Hogwild] {
        let got = fit(&rows(&[(3, 1.0), (5, 2.0)]), 2, sharing, 1);
        assert_weights(&got, &want, &format!("{sharing:?}"));
    }
}

#[test]
fn a_mini_batch_takes_one_row_wise_step_per_row() {
    // Two rows of feature 3 averaged into one step, then two of feature 5.
    let data = rows(&[(3, 1.0), (3, 1.0), (5, 2.0), (5, 2.0)]);
    let mut want = expected(3, &[1.0]);
    want.extend(expected(5, &[2.0]));
    assert_weights(&fit(&data, 1, Sharing::Auto, 2), &want, "one thread");
    for sharing in [Sharing::Replicas, Sharing::Hogwild] {
        let got = fit(&data, 2, sharing, 2);
        assert_weights(&got, &want, &format!("{sharing:?}, batches"));
    }
}

#[test]
fn a_sparse_output_gradient_steps_its_outputs_by_the_row_mean() {
    // One non-zero output gradient of 8: the backward pass steps that output alone,
    // and the row's accumulator takes the mean square over all 8.
    type Wide = network![Sparse<16> => Linear<8, bias = false>];
    let loss = |_: &[f32; 8], _: &Ids, g: &mut [f32; 8]| -> f32 {
        g[2] = 2.0;
        0.0
    };
    for (threads, sharing) in [
        (1, Sharing::Auto),
        (2, Sharing::Hogwild),
        (2, Sharing::Replicas),
    ] {
        let mut net = Wide::new(Init::zeros());
        Trainer::new(RowAdaGrad::new(LR))
            .threads(threads)
            .sharing(sharing)
            .shuffle(false)
            .progress(Progress::Silent)
            .fit(&mut net, &rows(&[(1, 1.0), (6, 1.0)]), loss)
            .unwrap();
        let w = -LR * 2.0 / (EPS + 4.0 / 8.0f32).sqrt();
        let want = [(8 + 2, w), (6 * 8 + 2, w)];
        assert_weights(
            &net.params().to_vec(),
            &want,
            &format!("{threads} threads, {sharing:?}"),
        );
    }
}

#[test]
fn the_row_state_lives_in_the_rows_first_weights_plane() {
    let mut net = Table::new(Init::zeros());
    let loss = |_: &[f32; 4], _: &Ids, g: &mut [f32; 4]| -> f32 {
        *g = [1.0, 2.0, 3.0, 4.0];
        0.0
    };
    let trainer = Trainer::new(RowAdaGrad::new(LR))
        .threads(1)
        .shuffle(false)
        .progress(Progress::Silent);
    let data = rows(&[(3, 1.0)]);
    trainer.clone().fit(&mut net, &data, loss).unwrap();
    let state = net.train_state().unwrap();
    assert_eq!(state.optimizer(), "RowAdaGrad");
    let planes = net.state_planes();
    let plane = &planes[0];
    assert!((plane[3 * 4] - (EPS + 7.5)).abs() < 1e-6, "{}", plane[12]);
    assert_eq!(
        plane[3 * 4 + 1],
        EPS,
        "the row's other weights keep no state"
    );
    // A second fit continues from the saved accumulator: the step of a second visit.
    trainer.fit(&mut net, &data, loss).unwrap();
    assert_weights(
        &net.params().to_vec(),
        &expected(3, &[1.0, 1.0]),
        "two fits",
    );
}
