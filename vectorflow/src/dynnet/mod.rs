//! Networks chosen at run time: [`DynNet`], built from a spec string, trained by the
//! same [`Trainer`](crate::train::Trainer) and saved in the same files as the typed
//! `network!` nets.
//!
//! A typed net fixes its shape at compile time; a `DynNet` reads it from a [`Spec`]: the
//! topology line a model file stores (`Sparse(1048576) => Linear(1048576->16) => ReLU
//! => Linear(16->1)`) or its short form (`sparse:2^20 > 16 > relu > 1`).
//!
//! Both kinds of net run the same layer code: each layer's forward and backward passes
//! are written once, over widths that are either consts or run-time values. At the widths
//! `network!` nets commonly use, a `DynNet` makes its widths consts and so runs the
//! const-width kernels themselves: a sparse input into 1 to 64 outputs (powers of two),
//! and a `Linear` of a short list of width pairs (a hidden layer of 2 to 64 into one
//! output, 16→16, 32→32, the halvings 16→8, 32→16, 64→32, and 8→4, 32→4). There one
//! thread trains the same weights, bit for bit, as the typed net of its topology and
//! seed. Other widths, and dense inputs, run the same layers with run-time widths, whose
//! kernels are plain loops: their sums round differently from the SIMD kernels' in the
//! last bits. A linear model of one output (`sparse:2^20 > 1`) trains through a row
//! loop of its own, as small as the typed net's (`input_only.rs`). A model file saved
//! by either kind of net loads into the other, at any width.
//!
//! ```
//! use vectorflow::dynnet::{DynLoss, DynNet};
//! use vectorflow::io::SparseRows;
//! use vectorflow::prelude::*;
//!
//! let mut rows = SparseRows::new();
//! for i in 0..200u32 {
//!     let f = |id| SparseF { id, value: 1.0 };
//!     rows.push((i % 2) as f32, 1.0, [f(i % 2), f(2 + i % 3)], i as u64 + 1, "");
//! }
//! let rows = rows.to_rows();
//! let mut net = DynNet::new("sparse:2^10 > 8 > relu > 1", Init::uniform(0.1).seed(1)).unwrap();
//! let loss = DynLoss::parse("logistic", net.outputs()).unwrap();
//! let t = Trainer::new(AdaGrad::new(0.1)).passes(3).progress(Progress::Silent);
//! let report = t.fit_dyn(&mut net, &rows, loss).unwrap();
//! assert!(report.passes[2].train_loss < report.passes[0].train_loss);
//! assert_eq!(net.topology(), "Sparse(1024) => Linear(1024->8) => ReLU => Linear(8->1)");
//! let out: Vec<f32> = net.predict(&rows[1]).unwrap();
//! assert!(out[0] > 0.0);
//! ```

mod fit;
mod input_only;
mod loss;
mod recipe;
mod row;
mod shape;
mod spec;

pub use loss::DynLoss;
pub use recipe::{loss_name, parse_pairs, DataFormat, Recipe, RECIPE_VERSION};
pub use row::DynRow;
pub use spec::{ActFn, LayerSpec, RootSpec, Spec, SpecError};

use crate::features::FeatureError;
use crate::file::{
    load_model, read_model, save_model, write_model, ModelError, ModelErrorKind, Parts,
};
use crate::init::Init;
use crate::layers::Block;
use crate::optim::TrainState;
use crate::predict::PredictError;
use crate::trainable::{LoadRow, Trainable};
use crate::weights::Weights;
use rayon::prelude::*;
use shape::Shape;

/// Rows per parallel task of [`DynNet::predict_batch`].
const BATCH: usize = 1024;
use std::io::{Read, Write};
use std::path::Path;

/// A network whose shape is chosen at run time, and its parameters: the run-time twin
/// of [`crate::Net`] (see the [module docs](self)).
#[derive(Clone)]
pub struct DynNet {
    shape: Shape,
    params: Weights,
    state: Option<TrainState>,
    init: Option<Init>,
    recipe: Option<Recipe>,
}

/// [`DynNet::predictor`]: a net and the buffers of its forward pass.
pub struct DynPredictor<'n> {
    net: &'n DynNet,
    ws: <Shape as Trainable>::Workspace,
    out: Vec<f32>,
}

impl DynPredictor<'_> {
    /// The network's output for `row`, as [`DynNet::predict`] gives it.
    pub fn predict<R: DynRow>(&mut self, row: &R) -> Result<&[f32], FeatureError> {
        self.net.predict_into(&mut self.ws, row, &mut self.out)?;
        Ok(&self.out)
    }
}

impl std::fmt::Debug for DynNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DynNet({})", self.topology())
    }
}

impl DynNet {
    /// A net of the shape `spec` ([`Spec::parse`]) with freshly initialised weights, drawn
    /// as the typed net of its topology draws them.
    pub fn new(spec: &str, init: Init) -> Result<DynNet, SpecError> {
        Ok(DynNet::from_spec(Spec::parse(spec)?, init))
    }

    /// A net of the shape `spec` with freshly initialised weights.
    pub fn from_spec(spec: Spec, init: Init) -> DynNet {
        let shape = Shape::new(spec);
        let mut w = vec![0.0f32; shape.params];
        shape.init(&mut w, &init);
        DynNet {
            params: Weights::new(w, &shape.blocks()),
            shape,
            state: None,
            init: Some(init),
            recipe: None,
        }
    }

    /// A net of the shape `spec` with the given parameters (flat, in the typed net's
    /// order), or `None` if their count is not the shape's.
    pub fn from_params(spec: Spec, params: Vec<f32>) -> Option<DynNet> {
        let shape = Shape::new(spec);
        (params.len() == shape.params).then(|| DynNet {
            params: Weights::new(params, &shape.blocks()),
            shape,
            state: None,
            init: None,
            recipe: None,
        })
    }

    /// The outputs for `row` and their gradients with respect to the input layer's
    /// output, for audits (`frozen`: the weights, ignoring steps).
    pub(crate) fn jacobian<R: DynRow, L: crate::params::Learn>(
        &self,
        frozen: &mut L,
        row: &R,
    ) -> Result<(Vec<f32>, Vec<f32>), FeatureError> {
        self.shape.jacobian(frozen, row)
    }

    /// Its shape.
    pub fn spec(&self) -> &Spec {
        &self.shape.spec
    }

    /// Its topology line, as the typed net of its shape writes it ([`crate::Net::topology`]).
    pub fn topology(&self) -> String {
        self.shape.spec.topology()
    }

    /// The width of its output.
    pub fn outputs(&self) -> usize {
        self.shape.outputs()
    }

    /// The number of parameters.
    pub fn param_count(&self) -> usize {
        self.shape.params
    }

    /// The weight blocks of every layer (biases excluded): what priors apply to.
    pub fn blocks(&self) -> Vec<Block> {
        self.shape.blocks()
    }

    /// The number of parameters of the input layer (its roots' weights and biases),
    /// which come first in the flat order.
    pub fn input_params(&self) -> usize {
        self.shape.input_params
    }

    /// Where the input layer's weights are, for [`crate::explain`].
    pub(crate) fn input_layout(&self) -> crate::layers::InputLayout {
        crate::layers::InputLayout {
            roots: self.shape.roots.clone(),
            bias: self.shape.bias,
        }
    }

    /// The weights, in the flat order (input layer first, then each layer).
    pub fn params(&self) -> &Weights {
        &self.params
    }

    /// The weights, mutably.
    pub fn params_mut(&mut self) -> &mut Weights {
        &mut self.params
    }

    /// The state training continues from, if the net has been trained (or was loaded
    /// with one).
    pub fn train_state(&self) -> Option<&TrainState> {
        self.state.as_ref()
    }

    /// How the rows it was trained on were read, as its model file records it (`None`
    /// for a net that was given none, or loaded from a file without one).
    pub fn recipe(&self) -> Option<&Recipe> {
        self.recipe.as_ref()
    }

    /// Records how its training rows were read; [`DynNet::save`] writes it into the
    /// model file, and loading the file gives it back (checked: a file whose recipe is
    /// newer than the build or does not read back is refused with
    /// [`ModelErrorKind::Recipe`]). The recipe's `net` names the inputs' feature groups,
    /// so [`DynNet::load`] reads them as trained.
    pub fn set_recipe(&mut self, recipe: Option<Recipe>) {
        self.recipe = recipe;
    }

    /// Drops the training state, keeping the weights (see
    /// [`crate::Net::clear_train_state`]).
    pub fn clear_train_state(&mut self) {
        self.state = None;
        self.params.strip();
    }

    /// Checks that rows of type `R` feed every input, naming the first they do not.
    pub fn check_rows<R: DynRow>(&self) -> Result<(), String> {
        match self
            .shape
            .spec
            .roots
            .iter()
            .find(|r| !R::feeds(&r.name, r.sparse))
        {
            None => Ok(()),
            Some(r) => Err(format!(
                "the rows have no {} features in {} for the input {}",
                if r.sparse { "sparse" } else { "dense" },
                if r.name.is_empty() {
                    "the default group".to_string()
                } else {
                    format!("group {}", r.name)
                },
                if r.sparse {
                    format!("sparse:{}", r.width)
                } else {
                    format!("dense:{}", r.width)
                }
            )),
        }
    }

    /// The network's output for `row`, or the field whose value is not finite
    /// ([`FeatureError::NO_GROUP`] for rows that cannot feed an input).
    pub fn predict<R: DynRow>(&self, row: &R) -> Result<Vec<f32>, FeatureError> {
        Ok(self.predictor().predict(row)?.to_vec())
    }

    /// A predictor that keeps its buffers between rows: [`DynNet::predict`] row after
    /// row, without allocating for each (scoring a stream of rows one at a time).
    ///
    /// ```
    /// use vectorflow::dynnet::DynNet;
    /// use vectorflow::io::{SparseFormat, Vw};
    /// use vectorflow::prelude::*;
    ///
    /// let net = DynNet::new("sparse:2^10 > 4 > relu > 1", Init::uniform(0.1).seed(1))?;
    /// let rows = Vw::new().parse_bytes(b"1 |a x\n-1 |a y\n", "rows")?;
    /// let mut p = net.predictor();
    /// for row in rows.to_rows() {
    ///     assert_eq!(p.predict(&row)?, &net.predict(&row)?[..]);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn predictor(&self) -> DynPredictor<'_> {
        DynPredictor {
            net: self,
            ws: self.shape.workspace(None),
            out: vec![0.0; self.outputs()],
        }
    }

    /// The outputs of every row, computed in parallel on rayon's pool, flat: row `i`'s
    /// are `[i * outputs()..(i + 1) * outputs()]`. Equal to [`DynNet::predict`] row by
    /// row; fails with the first row that cannot be predicted.
    pub fn predict_batch<R: DynRow + Sync>(&self, rows: &[R]) -> Result<Vec<f32>, PredictError> {
        let k = self.outputs();
        let mut out = vec![0.0; rows.len() * k];
        let failed = out
            .par_chunks_mut(BATCH * k)
            .zip(rows.par_chunks(BATCH))
            .enumerate()
            .filter_map(|(c, (out, rows))| {
                let mut ws = self.shape.workspace(None);
                rows.iter()
                    .zip(out.chunks_exact_mut(k))
                    .enumerate()
                    .find_map(|(i, (row, o))| {
                        let source = self.predict_into(&mut ws, row, o).err()?;
                        Some(PredictError {
                            row: c * BATCH + i,
                            source,
                        })
                    })
            })
            .min_by_key(|e| e.row);
        failed.map_or(Ok(out), Err)
    }

    /// Computes `row`'s output into `out` on the workspace `ws`.
    fn predict_into<R: DynRow>(
        &self,
        ws: &mut <Shape as Trainable>::Workspace,
        row: &R,
        out: &mut [f32],
    ) -> Result<(), FeatureError> {
        self.shape.load(row, self.shape.inputs(ws))?;
        self.shape.forward(&self.params, ws);
        out.copy_from_slice(self.shape.output(ws).0);
        Ok(())
    }

    /// The shape and, mutably, the weights and training state: what the trainer needs.
    pub(crate) fn parts(&mut self) -> (&Shape, (&mut Weights, &mut Option<TrainState>)) {
        (&self.shape, (&mut self.params, &mut self.state))
    }

    /// Its recipe as a model file's metadata entries.
    fn recipe_entries(&self) -> Vec<(String, String)> {
        self.recipe.iter().flat_map(Recipe::entries).collect()
    }

    /// Its weights, training state and initialisation, as a model file holds them.
    fn file_parts(&self) -> (&Weights, Option<&TrainState>, Option<&Init>) {
        (&self.params, self.state.as_ref(), self.init.as_ref())
    }

    /// Writes the net (and its training state, if any) as a model file to `w`.
    pub fn to_writer(&self, w: impl Write) -> Result<(), ModelError> {
        Ok(write_model(
            &self.shape,
            self.file_parts(),
            &self.recipe_entries(),
            w,
            true,
        )?)
    }

    /// Saves the net with its training state, atomically (see [`crate::Net::save`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        save_model(
            &self.shape,
            self.file_parts(),
            &self.recipe_entries(),
            path.as_ref(),
            true,
        )
    }

    /// Writes the weights alone as a model file to `w`.
    pub fn to_writer_for_predict(&self, w: impl Write) -> Result<(), ModelError> {
        Ok(write_model(
            &self.shape,
            self.file_parts(),
            &self.recipe_entries(),
            w,
            false,
        )?)
    }

    /// Saves the weights alone, for prediction (see [`crate::Net::save_for_predict`]).
    pub fn save_for_predict(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        save_model(
            &self.shape,
            self.file_parts(),
            &self.recipe_entries(),
            path.as_ref(),
            false,
        )
    }

    /// Loads a model file (a typed net's too) with its training state, into the net of
    /// the topology the file stores (see [`crate::Net::load`]). Its input reads the
    /// default group, as a topology line names none; a net of several inputs is
    /// refused ([`ModelErrorKind::UnnamedInputs`]): [`DynNet::load_as`] names them.
    pub fn load(path: impl AsRef<Path>) -> Result<DynNet, ModelError> {
        Self::load_path(path.as_ref(), true, None)
    }

    /// Loads only the weights of a model file (see [`crate::Net::load_weights`]).
    pub fn load_weights(path: impl AsRef<Path>) -> Result<DynNet, ModelError> {
        Self::load_path(path.as_ref(), false, None)
    }

    /// Loads a model file with its training state into the net of shape `spec`, whose
    /// topology must be the file's; `spec` names the inputs' feature groups.
    pub fn load_as(spec: &Spec, path: impl AsRef<Path>) -> Result<DynNet, ModelError> {
        Self::load_path(path.as_ref(), true, Some(spec))
    }

    /// Reads a model file's bytes with its training state (see [`DynNet::load`]).
    pub fn from_reader(r: impl Read) -> Result<DynNet, ModelError> {
        Self::read(r, None)
    }

    /// Reads a model file's bytes with its training state into the net of shape
    /// `spec` (see [`DynNet::load_as`]).
    pub fn from_reader_as(spec: &Spec, r: impl Read) -> Result<DynNet, ModelError> {
        Self::read(r, Some(spec))
    }

    fn read(r: impl Read, spec: Option<&Spec>) -> Result<DynNet, ModelError> {
        let mut shape = (None, None);
        let (parts, _) = read_model(&mut { r }, true, |h| shape_of(h, spec, &mut shape))?;
        Ok(Self::from_parts(shape, parts))
    }

    /// Reads only the weights from a model file's bytes.
    pub fn weights_from_reader(r: impl Read) -> Result<DynNet, ModelError> {
        let mut shape = (None, None);
        let (parts, _) = read_model(&mut { r }, false, |h| shape_of(h, None, &mut shape))?;
        Ok(Self::from_parts(shape, parts))
    }

    fn load_path(path: &Path, state: bool, spec: Option<&Spec>) -> Result<DynNet, ModelError> {
        let mut shape = (None, None);
        let parts = load_model(path, state, |h| shape_of(h, spec, &mut shape))?;
        Ok(Self::from_parts(shape, parts))
    }

    /// The net read from a file: `shape` (and the file's recipe) is set once its header
    /// is read.
    fn from_parts(
        (shape, recipe): (Option<Shape>, Option<Recipe>),
        (params, state, init): Parts,
    ) -> DynNet {
        let shape = shape.expect("a net read from a file has its shape");
        DynNet {
            shape,
            params,
            state,
            init,
            recipe,
        }
    }
}

/// The shape of a model file whose header is `head`: `spec`, or its recipe's net (which
/// names the inputs' groups; checked against its topology when read), or the topology it
/// stores; kept in `keep` too, with the file's recipe.
fn shape_of(
    head: &crate::file::Header,
    spec: Option<&Spec>,
    keep: &mut (Option<Shape>, Option<Recipe>),
) -> Result<Shape, ModelError> {
    let recipe = Recipe::from_entries(&head.recipe, &head.topology)
        .map_err(|m| ModelError::from(ModelErrorKind::Recipe(m)))?;
    let from_recipe = recipe.as_ref().and_then(|r| Spec::parse(&r.net).ok());
    // A topology line names no feature groups: one with several inputs needs a spec
    // (given, or the recipe's).
    let inputs = head.topology.split("=>").next().unwrap_or("");
    let spec = match spec.cloned().or(from_recipe) {
        Some(s) => s,
        None if inputs.contains('+') => {
            return Err(ModelErrorKind::UnnamedInputs(head.topology.clone()).into())
        }
        None => Spec::parse(&head.topology).map_err(|e| {
            ModelError::from(ModelErrorKind::Corrupt(format!(
                "its topology {:?} is not a network this build knows: {e}",
                head.topology
            )))
        })?,
    };
    let shape = Shape::new(spec);
    *keep = (Some(shape.clone()), recipe);
    Ok(shape)
}
