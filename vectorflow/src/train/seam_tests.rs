//! A network whose widths are known at run time only trains through the seam
//! ([`crate::trainable::Trainable`]) alone, with every way of sharing the weights.

use super::{Progress, Sharing, SliceFeed, TrainState, Trainer};
use crate::features::FeatureError;
use crate::features::Features;
use crate::layers::{Block, RowInputs};
use crate::loss::Loss;
use crate::optim::AdaGrad;
use crate::params::{Learn, Params};
use crate::trainable::{LoadRow, Trainable};

/// Logistic regression over `dim` hashed ids, its width known at run time only: a
/// net the trainer reaches through the seam alone, with an unsized output.
struct DynLinear {
    dim: usize,
}

struct DynWorkspace {
    inputs: RowInputs,
    out: Vec<f32>,
    dy: Vec<f32>,
}

/// A row: its ids and label.
struct Row {
    ids: Vec<u32>,
    y: f32,
}

impl Features for Row {}

impl Trainable for DynLinear {
    type Workspace = DynWorkspace;
    type Out = [f32];

    fn workspace(&self, _: Option<u64>) -> DynWorkspace {
        DynWorkspace {
            inputs: RowInputs::default(),
            out: vec![0.0],
            dy: vec![0.0],
        }
    }
    fn blocks(&self) -> Vec<Block> {
        // The sparse rows (of one weight), then the bias.
        vec![Block {
            layer: 0,
            offset: 0,
            len: self.dim,
            row: Some(1),
        }]
    }
    fn inputs<'w>(&self, ws: &'w mut DynWorkspace) -> &'w mut RowInputs {
        &mut ws.inputs
    }
    fn loaded<'w>(&self, ws: &'w DynWorkspace) -> &'w RowInputs {
        &ws.inputs
    }
    fn prefetch<P: Params + ?Sized>(&self, _: &P, _: &mut DynWorkspace, _: &RowInputs) {}
    fn forward<P: Params + ?Sized>(&self, p: &P, ws: &mut DynWorkspace) {
        let z: f32 = ws
            .inputs
            .sparse
            .iter()
            .map(|&(i, v)| v * p.get(i as usize))
            .sum();
        ws.out[0] = z + p.get(self.dim);
    }
    fn output<'w>(&self, ws: &'w mut DynWorkspace) -> (&'w [f32], &'w mut [f32]) {
        (&ws.out, &mut ws.dy)
    }
    fn backward<L: Learn + ?Sized>(&self, l: &mut L, ws: &DynWorkspace) {
        for &(i, v) in &ws.inputs.sparse {
            l.step(i as usize, &[v * ws.dy[0]]);
        }
        l.step(self.dim, &ws.dy);
    }
}

impl LoadRow<Row> for DynLinear {
    fn load(&self, row: &Row, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        inputs.clear();
        let ids = row.ids.iter().map(|&i| (i % self.dim as u32, 1.0));
        inputs.sparse.extend(ids);
        inputs.counts.push(row.ids.len());
        Ok(())
    }
    fn why_refused(&self, _: &Row) -> Option<String> {
        None
    }
}

/// The logistic loss on a run-time-width output.
struct Logit;

impl Loss<Row, [f32]> for Logit {
    fn loss(&self, out: &[f32], row: &Row, grad: &mut [f32]) -> f32 {
        let p = 1.0 / (1.0 + (-out[0]).exp());
        grad[0] = p - row.y;
        crate::loss::softplus(out[0]) - row.y * out[0]
    }
}

#[test]
fn a_net_of_run_time_widths_trains_through_the_seam() {
    // Ids below 8 say 1, the others 0: a net that learns scores them apart.
    let rows: Vec<Row> = (0..2000u32)
        .map(|i| Row {
            ids: vec![i % 16, 16 + i % 5],
            y: (i % 16 < 8) as u8 as f32,
        })
        .collect();
    let net = DynLinear { dim: 32 };
    for (threads, sharing) in [
        (1, Sharing::Auto),
        (2, Sharing::Replicas),
        (2, Sharing::Hogwild),
    ] {
        let t = Trainer::new(AdaGrad::new(0.5))
            .passes(3)
            .threads(threads)
            .sharing(sharing)
            .progress(Progress::Silent);
        let mut w = crate::weights::Weights::new(vec![0.0f32; 33], &net.blocks());
        let mut state = TrainState::new(&AdaGrad::new(0.5), &w.to_vec());
        let split = ((0..2000).collect(), Vec::new());
        let mut feed = SliceFeed::new(&rows, split, true, 0, 1 << 10);
        let report = t
            .run(&net, &mut w, &mut state, false, &mut feed, &Logit, None)
            .unwrap();
        let at = format!("{threads} threads, {sharing:?}");
        let w = w.to_vec();
        assert!(report.passes[2].train_loss < 0.1, "{at}: {report:?}");
        assert!(w[..8].iter().all(|&x| x > 1.0), "{at}: {w:?}");
        assert!(w[8..16].iter().all(|&x| x < -1.0), "{at}: {w:?}");
        assert_eq!(state.passes(), 3);
    }
}
