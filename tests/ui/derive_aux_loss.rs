use vectorflow::prelude::*;
use vectorflow::train::{Stream, StreamError, StreamRow};

#[derive(Features)]
struct Visit {
    #[label]
    returned: bool,
    #[hash]
    shop: u32,
    #[aux]
    days: f32,
}

struct Visits;

impl Stream for Visits {
    type Row<'a> = Visit;
    fn read<F: FnMut(&Visit)>(&mut self, _: usize, _: F) -> Result<usize, StreamError> {
        Ok(0)
    }
    fn rewind(&mut self) -> Result<(), StreamError> {
        Ok(())
    }
}

fn main() {
    type Lr = network![Sparse<1024> => Linear<1>];
    let mut net = Lr::new(Init::zeros());
    // A streamed loss reads `StreamRow<VisitAux>`, not the row it was read from.
    let loss = |out: &[f32; 1], r: &Visit, g: &mut [f32; 1]| {
        g[0] = out[0] - r.days;
        0.0
    };
    let _ = Trainer::new(AdaGrad::new(0.1)).fit_stream(&mut net, &mut Visits, loss);
    // The aux struct has the row's #[aux] fields only.
    let _ = |r: &StreamRow<VisitAux>| r.aux.shop;
}
