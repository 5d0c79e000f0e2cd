//! [`Trainer`]'s front doors for a [`DynNet`]: the trainer's own `fit` and `fit_stream`
//! passes, run through the seam with the net's run-time shape.

use super::input_only::InputOnly;
use super::{DynNet, DynRow};
use crate::features::{AuxFields, AuxValue, Features};
use crate::loss::Loss;
use crate::optim::Optimizer;
use crate::optim::TrainState;
use crate::train::checkpoint::{self, Checkpointed};
use crate::train::{Ranked, Stream, StreamRow, TrainError, TrainReport, Trainer};
use std::path::Path;

/// Runs `$fit` with `$m` the form of `$shape` the trainer trains: an [`InputOnly`] when
/// the net is one (a row loop of its own), else the shape itself.
macro_rules! trained_as {
    ($shape:expr, $m:ident => $fit:expr) => {
        match InputOnly::of($shape) {
            Some(only) => {
                let $m = &only;
                $fit
            }
            None => {
                let $m = $shape;
                $fit
            }
        }
    };
}

impl DynNet {
    /// Refuses, before training, rows of type `R` that cannot feed the net and a loss
    /// that reads another number of outputs.
    pub(crate) fn check_fit<R: DynRow, L: Loss<Q, [f32]>, Q>(
        &self,
        loss: &L,
    ) -> Result<(), TrainError> {
        self.check_rows::<R>().map_err(TrainError::Config)?;
        match loss.outputs() {
            Some(k) if k != self.outputs() => Err(TrainError::Config(format!(
                "the loss reads {k} outputs, but the net {} has {}",
                self.topology(),
                self.outputs()
            ))),
            _ => Ok(()),
        }
    }
}

impl<O: Optimizer> Trainer<O> {
    /// Trains the run-time net `net` on `rows` with `loss`: [`Trainer::fit`], with every
    /// setting (optimizer, priors, schedule, holdout, early stopping, sharing) the same.
    ///
    /// Fails before training, besides `fit`'s reasons, on rows that cannot feed one of
    /// the net's inputs and on a loss whose output width ([`Loss::outputs`]) is not
    /// the net's.
    pub fn fit_dyn<R, L>(
        &self,
        net: &mut DynNet,
        rows: &[R],
        loss: L,
    ) -> Result<TrainReport, TrainError>
    where
        R: DynRow + Features + Sync,
        L: Loss<R, [f32]>,
    {
        net.check_fit::<R, L, R>(&loss)?;
        let (shape, parts) = net.parts();
        trained_as!(shape, m => self.fit_rows(m, parts, rows, &loss))
    }

    /// Trains the run-time net `net` on the rows of `stream`: [`Trainer::fit_stream`]
    /// (a cache too), for a [`DynNet`].
    pub fn fit_stream_dyn<St, L, A>(
        &self,
        net: &mut DynNet,
        stream: &mut St,
        loss: L,
    ) -> Result<TrainReport, TrainError>
    where
        St: Stream,
        for<'a> St::Row<'a>: AuxFields<Aux = A> + DynRow,
        A: AuxValue,
        L: Loss<StreamRow<A>, [f32]>,
    {
        net.check_fit::<St::Row<'static>, L, StreamRow<A>>(&loss)?;
        let (shape, parts) = net.parts();
        let inputs = crate::train::cache_inputs(&shape.roots);
        trained_as!(shape, m => self.fit_stream_with(m, parts, inputs, stream, &loss))
    }
}

impl<O: Optimizer> Ranked<'_, O> {
    /// Trains the run-time net `net` on this rank's `rows` with `loss`, as
    /// [`Trainer::fit_dyn`] does, one model across the ranks (see [`Ranked::fit`]).
    pub fn fit_dyn<R: DynRow + Features + Sync>(
        &self,
        net: &mut DynNet,
        rows: &[R],
        loss: impl Loss<R, [f32]>,
    ) -> Result<TrainReport, TrainError> {
        let link = self.link_of(net.topology());
        let fit = |trainer: &Trainer<O>, net: &mut DynNet| {
            let link = self.link_of(net.topology());
            let checked = net.check_fit::<R, _, R>(&loss);
            let (shape, parts) = net.parts();
            trained_as!(shape, m => {
                let feed = checked.and_then(|()| trainer.slice_feed(m, rows, &loss, true));
                match self.check().and(feed) {
                    Ok(mut feed) => trainer.fit_feed(m, parts, &mut feed, &loss, Some(&link)),
                    Err(e) => Err(link.start(Err(&e)).err().unwrap_or(e)),
                }
            })
        };
        match &self.checkpoint {
            Some(path) => checkpoint::passes(self, &link, net, path, fit),
            None => fit(&self.trainer(), net),
        }
    }
}

impl Checkpointed for DynNet {
    fn state(&self) -> Option<&TrainState> {
        self.train_state()
    }
    fn write(&self, w: &mut Vec<u8>) -> Result<(), String> {
        self.to_writer(w).map_err(|e| e.to_string())
    }
    fn save_at(&self, path: &Path) -> Result<(), String> {
        self.save(path).map_err(|e| e.to_string())
    }
    fn read(&self, bytes: &[u8]) -> Result<Self, String> {
        DynNet::from_reader_as(self.spec(), bytes).map_err(|e| e.to_string())
    }
    fn load_at(&self, path: &Path) -> Result<Self, String> {
        DynNet::load_as(self.spec(), path).map_err(|e| e.to_string())
    }
}
