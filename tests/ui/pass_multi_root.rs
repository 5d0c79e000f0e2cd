//! A multi-root net over a hand-written row builds, runs, and its generated code is
//! warning-free under `#![deny(warnings)]`.
#![deny(warnings)]

use vectorflow::features::{group_id, DenseGroup, FeatureError, Features, SparseGroup};
use vectorflow::prelude::*;

struct Row {
    ids: Vec<(u32, f32)>,
    ctx: [f32; 3],
}

impl Features for Row {}

impl SparseGroup<{ group_id("") }> for Row {
    fn visit<F: FnMut(u32, f32)>(&self, mut f: F) -> Result<(), FeatureError> {
        self.ids.iter().for_each(|&(i, v)| f(i, v));
        Ok(())
    }
}

impl DenseGroup<{ group_id("ctx") }, 3> for Row {
    fn dense(&self, out: &mut [f32; 3]) -> Result<(), FeatureError> {
        *out = self.ctx;
        Ok(())
    }
}

const HIDDEN: usize = 8;

type Model = network![
    Sparse<{ 1 << 10 }>, ctx: Dense<3>
        => Linear<HIDDEN> => ReLU<HIDDEN> => Dropout<0.25>
        => Linear<HIDDEN, 4, bias = false> => TanH
        => Linear<{ 2 * 2 }, 1>
        => Sigmoid
];

fn main() {
    let net = Model::new(Init::uniform(0.1).seed(7));
    let row = Row {
        ids: vec![(3, 1.0), (2000, 0.5)],
        ctx: [0.25, -1.0, 2.0],
    };
    let [p] = net.predict(&row).unwrap();
    assert!(p > 0.0 && p < 1.0);
    assert_eq!(
        Model::topology(),
        "Sparse(1024) + Dense(3) => Linear(1027->8) => ReLU => Dropout(0.25) => Linear(8->4, no bias) => TanH => Linear(4->1) => Sigmoid"
    );
}
