//! Predictions of tiny nets against values computed by hand.

use vectorflow::features::{group_id, DenseGroup, FeatureError, Features, SparseGroup};
use vectorflow::prelude::*;

/// A hand-written row: two sparse features in the default group, a dense pair in `ctx`.
struct Row {
    ids: Vec<(u32, f32)>,
    ctx: [f32; 2],
}

impl Features for Row {}

impl SparseGroup<{ group_id("") }> for Row {
    fn visit<F: FnMut(u32, f32)>(&self, mut f: F) -> Result<(), FeatureError> {
        self.ids.iter().for_each(|&(i, v)| f(i, v));
        Ok(())
    }
}

impl DenseGroup<{ group_id("ctx") }, 2> for Row {
    fn dense(&self, out: &mut [f32; 2]) -> Result<(), FeatureError> {
        *out = self.ctx;
        Ok(())
    }
}

#[test]
fn linear_over_sparse_input() {
    type Lr = network![Sparse<4> => Linear<1>];
    let mut net = Lr::new(Init::zeros());
    // rows of 1 weight per slot, then the bias
    net.params_mut()
        .copy_from_slice(&[0.5, -1.0, 2.0, 3.0, 0.25]);
    // id 6 wraps to slot 2
    let row = Row {
        ids: vec![(1, 2.0), (6, 0.5)],
        ctx: [0.0; 2],
    };
    let [y] = net.predict(&row).unwrap();
    assert_eq!(y, 0.25 - 2.0 + 0.5 * 2.0);
}

#[test]
fn two_layer_relu_net_by_hand() {
    type M = network![Sparse<3> => Linear<2> => ReLU => Linear<1>];
    assert_eq!(M::PARAMS, 3 * 2 + 2 + 2 + 1);
    let mut net = M::new(Init::zeros());
    #[rustfmt::skip]
    net.params_mut().copy_from_slice(&[
        1.0, -1.0,   // slot 0
        2.0, 0.5,    // slot 1
        -3.0, 1.0,   // slot 2
        0.1, 0.2,    // bias of layer 1
        1.5, -2.0,   // layer 2 weights
        0.3,         // layer 2 bias
    ]);
    let row = Row {
        ids: vec![(0, 1.0), (2, 0.5)],
        ctx: [0.0; 2],
    };
    // h = [1 - 1.5 + 0.1, -1 + 0.5 + 0.2] = [-0.4, -0.3] -> relu [0, 0] -> 0.3
    assert_eq!(net.predict(&row).unwrap(), [0.3]);
    let row = Row {
        ids: vec![(1, 1.0)],
        ctx: [0.0; 2],
    };
    // h = [2.1, 0.7] -> 1.5 * 2.1 - 2 * 0.7 + 0.3
    let [y] = net.predict(&row).unwrap();
    assert!((y - (1.5 * 2.1 - 2.0 * 0.7 + 0.3)).abs() < 1e-6);
}

#[test]
fn multi_root_concatenates_inputs() {
    type M = network![Sparse<2>, ctx: Dense<2> => Linear<1, bias = false> => Sigmoid];
    let mut net = M::new(Init::zeros());
    net.params_mut().copy_from_slice(&[0.5, -0.5, 2.0, 1.0]);
    let row = Row {
        ids: vec![(0, 1.0)],
        ctx: [0.25, -1.0],
    };
    let z: f32 = 0.5 + 2.0 * 0.25 - 1.0;
    let [y] = net.predict(&row).unwrap();
    assert!((y - 1.0 / (1.0 + (-z).exp())).abs() < 1e-6);
    assert_eq!(
        M::topology(),
        "Sparse(2) + Dense(2) => Linear(4->1, no bias) => Sigmoid"
    );
}

#[test]
fn initialisation_is_seeded() {
    type M = network![Sparse<{ 1 << 10 }> => Linear<4> => TanH => Linear<1>];
    let a = M::new(Init::uniform(0.1).seed(3));
    let b = M::new(Init::uniform(0.1).seed(3));
    let c = M::new(Init::uniform(0.1).seed(4));
    assert_eq!(a.params(), b.params());
    assert_ne!(a.params(), c.params());
    assert!(a.params().iter().all(|w| w.abs() <= 0.1));
}

#[derive(vectorflow::Features)]
struct Clicks<'a> {
    #[hash]
    site: &'a str,
    #[value]
    price: f32,
}

#[test]
fn predict_batch_equals_predict_row_by_row() {
    type Mlp = network![Sparse<{ 1 << 10 }> => Linear<4> => TanH => Linear<3>];
    let net = Mlp::new(Init::uniform(0.3).seed(4));
    let sites: Vec<String> = (0..5000).map(|i| format!("s{}", i % 97)).collect();
    let rows: Vec<Clicks> = sites
        .iter()
        .enumerate()
        .map(|(i, site)| Clicks {
            site,
            price: i as f32 / 1000.0,
        })
        .collect();
    let batch = net.predict_batch(&rows).unwrap();
    assert_eq!(batch.len(), rows.len());
    for (row, out) in rows.iter().zip(&batch) {
        assert_eq!(*out, net.predict(row).unwrap());
    }
    let mut into = vec![[0.0; 3]; rows.len()];
    net.predict_batch_into(&rows, &mut into).unwrap();
    assert_eq!(into, batch);
}

#[test]
fn predict_batch_names_the_first_bad_row() {
    type Lr = network![Sparse<{ 1 << 10 }> => Linear<1>];
    let net = Lr::new(Init::uniform(0.3).seed(4));
    let mut rows: Vec<Clicks> = (0..3000)
        .map(|_| Clicks {
            site: "a",
            price: 1.0,
        })
        .collect();
    rows[2500].price = f32::INFINITY;
    rows[1700].price = f32::NAN;
    let e = net.predict_batch(&rows).unwrap_err();
    assert_eq!(e.row, 1700);
    assert_eq!(e.to_string(), format!("row 1700: {}", e.source));
    assert!(e.to_string().contains("price"), "{e}");
}

#[test]
fn probabilities_of_logistic_and_softmax_outputs() {
    use vectorflow::predict::{probability, softmax};
    assert_eq!(probability([0.0]), 0.5);
    assert!((probability([2.0]) - 0.880_797).abs() < 1e-6);
    let p = softmax([1000.0, 1000.0, 999.0]);
    let e = (-1.0f32).exp();
    assert!((p[0] - 1.0 / (2.0 + e)).abs() < 1e-6, "{p:?}");
    assert!((p[2] - e / (2.0 + e)).abs() < 1e-6, "{p:?}");
}
