//! The seam between the trainer and a network: all the trainer knows of a net.
//!
//! The trainer (`train`) drives passes, shares weights among threads and steps the
//! optimizer; a network computes. They meet here, at [`Trainable`], whose methods and
//! workspace take no width known at compile time, so a network whose widths are chosen
//! at run time implements it as well as the typed `network!` nets do ([`Typed`], with
//! their const widths: everything still monomorphises). A net's rows reach it through
//! [`LoadRow`].

use crate::features::FeatureError;
use crate::layers::{Block, InputFeed, InputLayer, RowInputs, Zeroed};
use crate::network::{Net, Stack, Workspace};
use crate::params::{Learn, Params};
use std::marker::PhantomData;

/// A network the trainer can train: its *shape*, not its weights.
///
/// The weights are one flat buffer of `f32` that the trainer owns during a fit and lays
/// out as it likes (packed sparse rows, per-thread replicas, atomics): the net reads
/// them only through the [`Params`] it is handed and hands its gradients to a
/// [`Learn`], at the offsets of the flat buffer. Implement it for a value describing
/// the layers (a zero-sized marker for a typed net, the widths for a net built at run
/// time); the trainer holds it by `&self`, shared by every thread.
///
/// What the trainer does for each training row, on the thread's own workspace:
///
/// 1. loads the row's inputs into [`Trainable::inputs`] (through [`LoadRow`], or by
///    copying inputs loaded earlier);
/// 2. calls [`Trainable::forward`], then reads [`Trainable::output`]: the loss sets the
///    output gradient (which the trainer zeroes first);
/// 3. calls [`Trainable::backward`], which hands each parameter's gradient to the
///    `Learn`. A trainer may apply each step at once (per-row SGD) or record it for a
///    mini-batch: the net must compute every gradient it hands over from values read
///    before its first step of the row, as [`crate::layers::Layer::backward`] says.
///
/// What the trainer guarantees: one workspace per thread, made on that thread once per
/// chunk of rows (so nothing need be allocated per row, and a workspace's buffers are
/// reused row after row); `backward` follows a `forward` on the same workspace and
/// inputs; the `Params` of `forward` and the `Learn` of `backward` read the same
/// weights. Under Hogwild other threads may change weights between the two: reads must
/// go through the `Params`/`Learn` each time, never through a copy kept across rows.
pub(crate) trait Trainable: Sync {
    /// One thread's buffers for a row: the loaded inputs, every activation kept from
    /// forward to backward, the output and its gradient, and the dropout stream.
    type Workspace;
    /// The output the loss sees, and its gradient (`[f32; N]` for a typed net).
    type Out: ?Sized + AsRef<[f32]> + AsMut<[f32]>;

    /// A workspace: for training with dropout masks drawn from `seed` when it is
    /// `Some`, for prediction (no dropout) when `None`.
    fn workspace(&self, seed: Option<u64>) -> Self::Workspace;

    /// The blocks of weights of the flat buffer, in order: which are sparse rows (which
    /// the trainer may pack with their optimizer state, and priors catch up lazily) and
    /// which every row touches.
    fn blocks(&self) -> Vec<Block>;

    /// The workspace's loaded inputs, for the trainer to load a row into.
    fn inputs<'w>(&self, ws: &'w mut Self::Workspace) -> &'w mut RowInputs;

    /// The inputs of the last row loaded.
    fn loaded<'w>(&self, ws: &'w Self::Workspace) -> &'w RowInputs;

    /// Reads through `p` the weight rows a forward pass over `inputs` will read (a row
    /// about to be trained): `p` prefetches rather than reads. Whatever it computes
    /// goes to the workspace's scratch, never to its activations.
    fn prefetch<P: Params + ?Sized>(&self, p: &P, ws: &mut Self::Workspace, inputs: &RowInputs);

    /// Computes every layer from the loaded inputs with the weights `p`.
    fn forward<P: Params + ?Sized>(&self, p: &P, ws: &mut Self::Workspace);

    /// The output of the last forward pass and the buffer for its gradient.
    fn output<'w>(&self, ws: &'w mut Self::Workspace) -> (&'w Self::Out, &'w mut Self::Out);

    /// Back-propagates the output gradient of the last forward pass, handing every
    /// parameter's gradient to `l`.
    fn backward<L: Learn + ?Sized>(&self, l: &mut L, ws: &Self::Workspace);
}

/// A network that reads rows of type `R`.
pub(crate) trait LoadRow<R>: Trainable {
    /// Reads (and hashes) the row's inputs into `inputs`.
    fn load(&self, row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError>;

    /// Why `load` refused `row` with [`FeatureError::ID_BEYOND_INPUT`], in words, when
    /// the row knows (its file and line).
    fn why_refused(&self, row: &R) -> Option<String>;
}

/// The shape of the typed net `Net<I, S>`: zero-sized, its widths are its type's.
pub(crate) struct Typed<I, S>(PhantomData<fn() -> (I, S)>);

impl<I, S> Typed<I, S> {
    /// The shape of `Net<I, S>`.
    pub fn new() -> Self {
        Typed(PhantomData)
    }
}

/// A typed net's workspace: the net's own, the output gradient, and the input layer's
/// output for [`Trainable::prefetch`] to write.
pub(crate) struct TypedWorkspace<I: InputLayer, S: Stack> {
    ws: Workspace<I, S>,
    dy: S::Out,
    ahead: I::Out,
}

impl<I: InputLayer, S: Stack<In = I::Out>> Trainable for Typed<I, S> {
    type Workspace = TypedWorkspace<I, S>;
    type Out = S::Out;

    fn workspace(&self, seed: Option<u64>) -> TypedWorkspace<I, S> {
        TypedWorkspace {
            ws: seed.map_or_else(Workspace::predict, Workspace::train),
            dy: S::Out::zeroed(),
            ahead: I::Out::zeroed(),
        }
    }

    fn blocks(&self) -> Vec<Block> {
        Net::<I, S>::blocks()
    }

    #[inline(always)]
    fn inputs<'w>(&self, ws: &'w mut TypedWorkspace<I, S>) -> &'w mut RowInputs {
        ws.ws.inputs_mut()
    }

    #[inline(always)]
    fn loaded<'w>(&self, ws: &'w TypedWorkspace<I, S>) -> &'w RowInputs {
        ws.ws.inputs()
    }

    #[inline(always)]
    fn prefetch<P: Params + ?Sized>(
        &self,
        p: &P,
        ws: &mut TypedWorkspace<I, S>,
        inputs: &RowInputs,
    ) {
        I::compute(p, inputs, &mut ws.ahead);
    }

    #[inline(always)]
    fn forward<P: Params + ?Sized>(&self, p: &P, ws: &mut TypedWorkspace<I, S>) {
        Net::<I, S>::forward_loaded(p, &mut ws.ws);
    }

    #[inline(always)]
    fn output<'w>(&self, ws: &'w mut TypedWorkspace<I, S>) -> (&'w S::Out, &'w mut S::Out) {
        (Net::<I, S>::output(&ws.ws), &mut ws.dy)
    }

    #[inline(always)]
    fn backward<L: Learn + ?Sized>(&self, l: &mut L, ws: &TypedWorkspace<I, S>) {
        Net::<I, S>::backward(l, &ws.ws, &ws.dy);
    }
}

impl<R, I: InputFeed<R>, S: Stack<In = I::Out>> LoadRow<R> for Typed<I, S> {
    #[inline]
    fn load(&self, row: &R, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        I::load(row, inputs)
    }

    fn why_refused(&self, row: &R) -> Option<String> {
        I::why_refused(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Features;
    use crate::loss::Loss;
    use crate::optim::AdaGrad;
    use crate::train::{Progress, Sharing, SliceFeed, TrainState, Trainer};

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
                .run(&net, &mut w, &mut state, false, &mut feed, &Logit)
                .unwrap();
            let at = format!("{threads} threads, {sharing:?}");
            let w = w.to_vec();
            assert!(report.passes[2].train_loss < 0.1, "{at}: {report:?}");
            assert!(w[..8].iter().all(|&x| x > 1.0), "{at}: {w:?}");
            assert!(w[8..16].iter().all(|&x| x < -1.0), "{at}: {w:?}");
            assert_eq!(state.passes(), 3);
        }
    }
}
