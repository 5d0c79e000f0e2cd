//! Explaining predictions by feature name.
//!
//! - [`audit`] lists one row's features with their slots, values, first-layer weights and
//!   contributions to each output. For a linear model (`Sparse<DIM> => Linear<OUT>`, with
//!   any roots) a contribution is `value × weight`, and the contributions plus the bias sum
//!   to the output. For a deeper net it is gradient × input: the derivative of the output
//!   with respect to the feature's value (from the backward pass), times the value. That is
//!   a first-order account, which need not sum to the output.
//! - [`top_features`] ranks the named features of a sample of rows by weight or by total
//!   contribution, and names the other features seen in the same slot (hash collisions).
//!
//! - [`readable_model`] lists every feature named in a [`FeatureNames`] (collected from
//!   any rows) with its slot and first-layer weights, and sums up the rest of the net:
//!   Vowpal Wabbit's `--invert_hash`; [`ReadableModel::save`] writes it to a file.
//!
//! Names come from [`Named`], which `#[derive(Features)]` implements, and so do the rows
//! of the sparse readers ([`SparseRow`](crate::io::SparseRow)): a LIBSVM feature is named
//! by its id as written in the file, a Vowpal Wabbit feature read with
//! [`Vw::names`](crate::io::Vw::names) as VW's audit names it (`ns^name`). Training never
//! calls it, so the training path keeps no strings and pays nothing for audits.
//!
//! ```
//! use vectorflow::prelude::*;
//!
//! #[derive(Features)]
//! struct Ad<'a> {
//!     #[label]
//!     clicked: bool,
//!     #[hash]
//!     site: &'a str,
//!     #[value]
//!     price: f32,
//! }
//!
//! type Model = network![Sparse<{ 1 << 10 }> => Linear<1>];
//! let rows = [
//!     Ad { clicked: true, site: "a.com", price: 0.5 },
//!     Ad { clicked: false, site: "b.com", price: 2.0 },
//! ];
//! let mut net = Model::new(Init::zeros());
//! Trainer::new(Sgd::new(0.5)).passes(20).fit(&mut net, &rows, Logistic).unwrap();
//!
//! let audit = audit(&net, &rows[0]).unwrap();
//! let total: f32 = audit.entries.iter().map(|e| e.contribution[0]).sum();
//! assert!((audit.intercept[0] + total - audit.output[0]).abs() < 1e-5);
//! println!("{audit}");
//!
//! let top = top_features(&net, &rows, 3, Rank::Weights).unwrap();
//! assert_eq!(top.features.len(), 3);
//! println!("{top}");
//! ```

mod dump;

pub use dump::{
    readable_model, readable_model_dyn, DumpedFeature, FeatureNames, ReadableModel, Summary,
    DEFAULT_NAME_LIMIT,
};

use crate::features::{group_id, FeatureError, Named, NamedFeature, Slot};
use crate::layers::{Buf, InputFeed, InputLayer, InputLayout, Zeroed};
use crate::network::{Net, Stack, Workspace};
use crate::params::{Learn, Params};
use crate::weights::Weights;
use std::collections::HashMap;
use std::fmt::{self, Write as _};

/// One feature of an audited row.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// Its name, e.g. `carrier=UA`, `origin×dest=EWR×IAH` or `distance`.
    pub name: String,
    /// Its feature group; `""` for the default one.
    pub group: &'static str,
    /// The slot of its weights in the input that reads it: a sparse id reduced modulo the
    /// input's dimension, or a dense index.
    pub slot: Slot,
    /// Its value.
    pub value: f32,
    /// The first layer's weights for it, one per output of that layer: the row of its slot
    /// (sparse) or the column of its index (dense).
    pub weights: Vec<f32>,
    /// For each output of the net, the derivative of the output with respect to the value.
    pub gradient: Vec<f32>,
    /// For each output of the net, `value × gradient`: for a linear model exactly
    /// `value × weight`.
    pub contribution: Vec<f32>,
}

/// How one row's features account for the net's output; see [`audit`].
#[derive(Clone, Debug, PartialEq)]
pub struct Audit {
    /// The features the net reads, by decreasing size of contribution (the Euclidean norm
    /// over outputs).
    pub entries: Vec<Entry>,
    /// For each output: the bias of a linear model (0 without one); for a deeper net, the
    /// part of the output that gradient × input leaves unattributed, `output − Σ
    /// contributions`.
    pub intercept: Vec<f32>,
    /// The net's output.
    pub output: Vec<f32>,
    /// Whether the net is a linear model, whose contributions are exact.
    pub exact: bool,
}

/// Lists the features of `row` with their contributions to the output of `net`.
///
/// Features of groups the net has no input for are left out, as the net ignores them.
/// The error is the one [`Net::predict`] would give.
pub fn audit<I, S, R>(net: &Net<I, S>, row: &R) -> Result<Audit, FeatureError>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
    R: Named,
{
    let model = Model::new(net);
    let mut pass = Pass::<I, S>::new();
    pass.run(&model, row)?;
    account(&model, row, pass.output, &pass.jacobian, S::LAYERS == 0)
}

/// [`audit`] for a network built at run time ([`DynNet`](crate::dynnet::DynNet)): the
/// same entries, contributions and intercept as the typed net of its topology and
/// weights gives.
///
/// ```
/// use vectorflow::dynnet::DynNet;
/// use vectorflow::explain::audit_dyn;
/// use vectorflow::io::{SparseFormat, Vw};
/// use vectorflow::prelude::*;
///
/// let rows = Vw::new().names(true).parse_bytes(b"1 |a x |b y:2\n-1 |a z\n", "rows")?;
/// let mut net = DynNet::new("sparse:2^10 > 1", Init::zeros())?;
/// Trainer::new(Sgd::new(0.5)).passes(5).progress(Progress::Silent)
///     .fit_dyn(&mut net, &rows.to_rows(), vectorflow::dynnet::DynLoss::Logistic)?;
/// let audit = audit_dyn(&net, &rows.row(0))?;
/// assert_eq!(audit.entries.len(), 2);
/// assert_eq!(audit.entries[0].name, "b^y");
/// let total: f32 = audit.entries.iter().map(|e| e.contribution[0]).sum();
/// assert!((audit.intercept[0] + total - audit.output[0]).abs() < 1e-5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn audit_dyn<R>(net: &crate::dynnet::DynNet, row: &R) -> Result<Audit, FeatureError>
where
    R: crate::dynnet::DynRow + Named,
{
    let model = Model::of_dyn(net);
    let (output, jacobian) = net.jacobian(&mut Frozen(model.params), row)?;
    let linear = net.spec().layers.is_empty();
    account(&model, row, output, &jacobian, linear)
}

/// The audit of `row`, whose outputs are `output` and their Jacobian with respect to
/// the first layer's output `jacobian`; `linear`: the net is its first layer.
fn account<R: Named>(
    model: &Model,
    row: &R,
    output: Vec<f32>,
    jacobian: &[f32],
    linear: bool,
) -> Result<Audit, FeatureError> {
    let mut entries = Vec::new();
    row.visit_named(|f| {
        let Some((root, slot)) = model.locate(&f) else {
            return;
        };
        let weights = model.weights(root, slot);
        let gradient = gradient(jacobian, &weights);
        let contribution = gradient.iter().map(|g| f.value * g).collect();
        let mut name = String::new();
        write_name(&f, &mut name);
        entries.push(Entry {
            name,
            group: f.group,
            slot,
            value: f.value,
            weights,
            gradient,
            contribution,
        });
    })?;
    entries.sort_by(|a, b| norm(&b.contribution).total_cmp(&norm(&a.contribution)));
    let intercept = if linear {
        match model.layout.bias {
            Some(b) => (b..b + model.hidden).map(|i| model.params[i]).collect(),
            None => vec![0.0; model.outputs],
        }
    } else {
        (0..model.outputs)
            .map(|o| output[o] - entries.iter().map(|e| e.contribution[o]).sum::<f32>())
            .collect()
    };
    Ok(Audit {
        entries,
        intercept,
        output,
        exact: linear,
    })
}

/// What [`top_features`] ranks by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Rank {
    /// The size of a feature's first-layer weights (their Euclidean norm): what the model
    /// learnt about the feature, whatever its values.
    Weights,
    /// The sum over the sample's rows of the size of the feature's contribution (the
    /// Euclidean norm over outputs): how much it moved the outputs of these rows, so a
    /// frequent feature outranks a rare one of the same weight.
    #[default]
    Contributions,
}

/// One named feature of a [`Ranking`].
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    /// Its name.
    pub name: String,
    /// Its feature group; `""` for the default one.
    pub group: &'static str,
    /// The slot of its weights (a sparse id reduced modulo the input's dimension, or a
    /// dense index).
    pub slot: Slot,
    /// Its score by the ranking's [`Rank`].
    pub score: f32,
    /// How many times it occurred in the sample.
    pub count: usize,
    /// The other names seen in the same slot of the same input, sorted: features that
    /// share its weights by a hash collision.
    pub collisions: Vec<String>,
}

/// The features that matter most over a sample of rows; see [`top_features`].
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    /// What the features are ranked by.
    pub rank: Rank,
    /// The number of rows in the sample.
    pub rows: usize,
    /// The best features, best first (ties by name).
    pub features: Vec<Ranked>,
}

/// The `k` named features of `rows` that matter most to `net`, ranked by `rank`, with the
/// names that collide with each.
///
/// With several outputs (or, for [`Rank::Weights`], a first layer of several units) a
/// feature's size is the Euclidean norm over them. Features of groups the net has no
/// input for are left out. The error is the first row's that [`Net::predict`] refuses.
pub fn top_features<'r, I, S, R>(
    net: &Net<I, S>,
    rows: impl IntoIterator<Item = &'r R>,
    k: usize,
    rank: Rank,
) -> Result<Ranking, FeatureError>
where
    I: InputFeed<R>,
    S: Stack<In = I::Out>,
    R: Named + 'r,
{
    let model = Model::new(net);
    let mut pass = Pass::<I, S>::new();
    let mut seen: Vec<Seen> = (0..model.layout.roots.len())
        .map(|_| Seen::default())
        .collect();
    let mut name = String::new();
    let mut n = 0;
    for row in rows {
        n += 1;
        if rank == Rank::Contributions {
            pass.run(&model, row)?;
        }
        row.visit_named(|f| {
            let Some((root, slot)) = model.locate(&f) else {
                return;
            };
            let score = match rank {
                // A slot's weights are the same in every row: scored once, below.
                Rank::Weights => 0.0,
                Rank::Contributions => {
                    let gradient = gradient(&pass.jacobian, &model.weights(root, slot));
                    f.value.abs() as f64 * norm(&gradient) as f64
                }
            };
            name.clear();
            write_name(&f, &mut name);
            let seen = &mut seen[root];
            seen.group = f.group;
            match seen.names.get_mut(name.as_str()) {
                Some(t) => {
                    t.score += score;
                    t.count += 1;
                }
                None => {
                    let score = match rank {
                        Rank::Weights => norm(&model.weights(root, slot)) as f64,
                        Rank::Contributions => score,
                    };
                    let t = Tally {
                        slot,
                        score,
                        count: 1,
                    };
                    seen.names.insert(name.clone(), t);
                }
            }
        })?;
    }

    let mut features = Vec::new();
    for seen in &seen {
        let mut by_slot: HashMap<Slot, Vec<&str>> = HashMap::new();
        for (name, t) in &seen.names {
            by_slot.entry(t.slot).or_default().push(name);
        }
        for (name, t) in &seen.names {
            let mut collisions: Vec<String> = by_slot[&t.slot]
                .iter()
                .filter(|other| **other != name.as_str())
                .map(|other| other.to_string())
                .collect();
            collisions.sort();
            features.push(Ranked {
                name: name.clone(),
                group: seen.group,
                slot: t.slot,
                score: t.score as f32,
                count: t.count,
                collisions,
            });
        }
    }
    features.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.group.cmp(b.group))
            .then_with(|| a.name.cmp(&b.name))
    });
    features.truncate(k);
    Ok(Ranking {
        rank,
        rows: n,
        features,
    })
}

/// The names seen in one input of the net, for [`top_features`].
#[derive(Default)]
struct Seen {
    group: &'static str,
    names: HashMap<String, Tally>,
}

/// One name's slot, summed score and count.
struct Tally {
    slot: Slot,
    score: f64,
    count: usize,
}

/// A net's parameters and where its input layer keeps them.
struct Model<'n> {
    params: &'n Weights,
    layout: InputLayout,
    /// The width of the first layer.
    hidden: usize,
    /// The width of the output.
    outputs: usize,
}

impl<'n> Model<'n> {
    fn new<I: InputLayer, S: Stack<In = I::Out>>(net: &'n Net<I, S>) -> Self {
        let layout = I::layout();
        Model {
            params: net.params(),
            layout,
            hidden: <I::Out as Buf>::WIDTH,
            outputs: <S::Out as Buf>::WIDTH,
        }
    }

    /// The first layer of a network built at run time.
    fn of_dyn(net: &'n crate::dynnet::DynNet) -> Self {
        Model {
            params: net.params(),
            layout: net.input_layout(),
            hidden: net.spec().width,
            outputs: net.outputs(),
        }
    }

    /// The input that reads `f` and the slot of its weights there.
    fn locate(&self, f: &NamedFeature) -> Option<(usize, Slot)> {
        self.locate_slot(f.group, f.slot)
    }

    /// The input that reads `slot` of `group` and the slot of its weights there.
    fn locate_slot(&self, group: &str, slot: Slot) -> Option<(usize, Slot)> {
        let group = group_id(group);
        let sparse = matches!(slot, Slot::SparseId(_));
        let root = self
            .layout
            .roots
            .iter()
            .position(|r| r.group == group && r.sparse == sparse)?;
        let width = self.layout.roots[root].width;
        let slot = match slot {
            Slot::SparseId(id) => Slot::SparseId((id as usize % width) as u32),
            Slot::DenseIndex(j) if j < width => Slot::DenseIndex(j),
            Slot::DenseIndex(_) => return None,
        };
        Some((root, slot))
    }

    /// The first layer's weights for `slot` of input `root`.
    fn weights(&self, root: usize, slot: Slot) -> Vec<f32> {
        let r = &self.layout.roots[root];
        match slot {
            Slot::SparseId(i) => {
                let off = r.offset + i as usize * self.hidden;
                (off..off + self.hidden).map(|i| self.params[i]).collect()
            }
            Slot::DenseIndex(j) => (0..self.hidden)
                .map(|o| self.params[r.offset + o * r.width + j])
                .collect(),
        }
    }
}

/// One row's forward pass and the Jacobian of the output with respect to the first
/// layer's output, from the backward pass.
struct Pass<I: InputLayer, S: Stack> {
    ws: Workspace<I, S>,
    output: Vec<f32>,
    /// `outputs × hidden`, row-major.
    jacobian: Vec<f32>,
}

impl<I: InputLayer, S: Stack<In = I::Out>> Pass<I, S> {
    fn new() -> Self {
        Pass {
            ws: Workspace::predict(),
            output: Vec::new(),
            jacobian: Vec::new(),
        }
    }

    fn run<R>(&mut self, model: &Model, row: &R) -> Result<(), FeatureError>
    where
        I: InputFeed<R>,
    {
        let out = Net::<I, S>::forward(model.params, &mut self.ws, row)?;
        self.output.clear();
        self.output.extend_from_slice(out.as_ref());
        self.jacobian.clear();
        let mut frozen = Frozen(model.params);
        for o in 0..model.outputs {
            let mut dy = S::Out::zeroed();
            dy.as_mut()[o] = 1.0;
            let dx = Net::<I, S>::backward_stack(&mut frozen, &self.ws, &dy);
            self.jacobian.extend_from_slice(dx.as_ref());
        }
        Ok(())
    }
}

/// For each output, its derivative with respect to the value of a feature whose
/// first-layer weights are `weights`, from the outputs' `jacobian` with respect to that
/// layer's output: the chain rule through the layer.
fn gradient(jacobian: &[f32], weights: &[f32]) -> Vec<f32> {
    jacobian
        .chunks_exact(weights.len())
        .map(|row| row.iter().zip(weights).map(|(j, w)| j * w).sum())
        .collect()
}

/// The net's weights, read by a backward pass that must not change them.
struct Frozen<'a>(&'a Weights);

impl Params for Frozen<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self.0.get(i)
    }
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        self.0.matvec(off, x, y)
    }
}

impl Learn for Frozen<'_> {
    fn step(&mut self, _off: usize, _grad: &[f32]) {}
}

/// Appends the feature's name to `out`: `?` if a user's `fmt_name` fails.
fn write_name(f: &NamedFeature, out: &mut String) {
    let start = out.len();
    if write!(out, "{}", f.name).is_err() {
        out.truncate(start);
        out.push('?');
    }
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// `group/name`, or `name` in the default group.
fn label(group: &str, name: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{group}/{name}")
    }
}

/// A list of numbers, `1.5` alone or `[1.5, -2]`.
struct List<'a>(&'a [f32]);

impl fmt::Display for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [x] => write!(f, "{x:.4}"),
            xs => {
                f.write_str("[")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x:.4}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Audit {
    /// A table of the features, largest contribution first, under a line that sums them up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.entries.len();
        if self.exact {
            writeln!(
                f,
                "output {} = bias {} + the contributions (value × weight) of {n} features:",
                List(&self.output),
                List(&self.intercept),
            )?;
        } else {
            writeln!(
                f,
                "output {} = {} unattributed + the contributions (value × gradient) of {n} features:",
                List(&self.output),
                List(&self.intercept),
            )?;
        }
        let outputs = self.output.len();
        for o in 0..outputs {
            if outputs == 1 {
                write!(f, "{:>12}", "contribution")?;
            } else {
                write!(f, "{:>12}", format!("output {o}"))?;
            }
        }
        writeln!(f, " {:>10} {:>9}  feature", "value", "slot")?;
        for e in &self.entries {
            for c in &e.contribution {
                write!(f, "{c:>+12.4}")?;
            }
            writeln!(
                f,
                " {:>10} {:>9}  {}",
                e.value,
                e.slot.to_string(),
                label(e.group, &e.name)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Ranking {
    /// A table of the features, best first, with the names that collide with each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by = match self.rank {
            Rank::Weights => "|weight|",
            Rank::Contributions => "total |contribution|",
        };
        writeln!(
            f,
            "top {} features by {by} over {} rows:",
            self.features.len(),
            self.rows
        )?;
        writeln!(f, "{:>10} {:>7} {:>9}  feature", "score", "count", "slot")?;
        for r in &self.features {
            write!(
                f,
                "{:>10.4} {:>7} {:>9}  {}",
                r.score,
                r.count,
                r.slot.to_string(),
                label(r.group, &r.name)
            )?;
            if !r.collisions.is_empty() {
                const SHOWN: usize = 3;
                f.write_str("  (shares its slot with ")?;
                for (i, c) in r.collisions.iter().take(SHOWN).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&label(r.group, c))?;
                }
                if r.collisions.len() > SHOWN {
                    write!(f, " and {} more", r.collisions.len() - SHOWN)?;
                }
                f.write_str(")")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
