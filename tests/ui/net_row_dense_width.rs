// The row's `ctx` group is 3 wide, the net's `ctx` input 4.
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

type M = network![Sparse<64>, ctx: Dense<4> => Linear<1>];

fn main() {
    let net = M::new(Init::zeros());
    let row = Row { ids: vec![], ctx: [0.0; 3] };
    let _ = net.predict(&row);
}
