// A row with only dense features cannot feed a `Sparse` input.
use vectorflow::features::{group_id, DenseGroup, FeatureError, Features};
use vectorflow::prelude::*;

struct Sensor {
    reading: [f32; 2],
}

impl Features for Sensor {}

impl DenseGroup<{ group_id("") }, 2> for Sensor {
    fn dense(&self, out: &mut [f32; 2]) -> Result<(), FeatureError> {
        *out = self.reading;
        Ok(())
    }
}

type M = network![Sparse<64> => Linear<1>];

fn main() {
    let net = M::new(Init::zeros());
    let _ = net.predict(&Sensor { reading: [1.0, 2.0] });
}
