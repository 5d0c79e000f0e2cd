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
