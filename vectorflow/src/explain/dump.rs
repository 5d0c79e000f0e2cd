//! The readable model: every named feature seen, its slot and its first-layer weights,
//! as Vowpal Wabbit's `--invert_hash` lists them.

use super::{label, norm, write_name, Model};
use crate::dynnet::DynNet;
use crate::features::{FeatureError, Named, Slot};
use crate::file::ModelError;
use crate::fsio::write_atomic;
use crate::layers::InputLayer;
use crate::network::{Net, Stack};
use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

/// The feature names seen in rows, each with its slot and count: what
/// [`readable_model`] names the first layer's weights by, as VW's `--invert_hash` names
/// them by the examples it read. Any [`Named`] row adds its names: a derived row's, a
/// LIBSVM row's ids as written, a VW row's `ns^name` (read with
/// [`Vw::names`](crate::io::Vw::names)).
///
/// Memory is bounded: at most [`limit`](Self::limit) distinct names are kept (default
/// [`DEFAULT_NAME_LIMIT`]), each taking its length plus about 80 bytes. Occurrences of
/// names past the limit are counted in [`unkept`](Self::unkept), not kept.
///
/// ```
/// use vectorflow::explain::{readable_model, FeatureNames};
/// use vectorflow::features::Slot;
/// use vectorflow::io::{LibSvm, SparseFormat};
/// use vectorflow::prelude::*;
/// let rows = LibSvm::new().parse_bytes(b"1 3:1 7:1.5\n0 3:1\n", "<text>")?;
/// let mut names = FeatureNames::new();
/// names.extend(&rows.to_rows())?;
/// assert_eq!((names.len(), names.rows()), (2, 2));
///
/// type Lr = network![Sparse<16> => Linear<1>];
/// let mut net = Lr::new(Init::zeros());
/// Trainer::new(Sgd::new(0.5)).passes(5).fit(&mut net, &rows.to_rows(), Logistic)?;
/// let model = readable_model(&net, &names);
/// // The ids as written in the file, at their 0-based slots, largest weights first.
/// let dumped: Vec<_> = model.features.iter().map(|d| (d.name.as_str(), d.slot)).collect();
/// assert_eq!(dumped, [("7", Slot::SparseId(6)), ("3", Slot::SparseId(2))]);
/// assert_eq!(model.features[0].weights, [net.params()[6]]);
/// println!("{model}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct FeatureNames {
    /// Per feature group: name → slot and count.
    groups: Vec<(&'static str, HashMap<String, Seen>)>,
    kept: usize,
    limit: usize,
    rows: u64,
    unkept: u64,
    /// The name being looked up, kept to reuse its buffer.
    scratch: String,
}

/// A name's slot (as the row gives it) and how many times it occurred.
#[derive(Clone, Copy, Debug)]
struct Seen {
    slot: Slot,
    count: u64,
}

/// The number of distinct names a [`FeatureNames`] keeps unless told otherwise: about
/// 100 MB of names of 20 bytes.
pub const DEFAULT_NAME_LIMIT: usize = 1 << 20;

impl Default for FeatureNames {
    fn default() -> Self {
        FeatureNames::new()
    }
}

impl FeatureNames {
    /// No names yet, keeping at most [`DEFAULT_NAME_LIMIT`].
    pub fn new() -> FeatureNames {
        FeatureNames {
            groups: Vec::new(),
            kept: 0,
            limit: DEFAULT_NAME_LIMIT,
            rows: 0,
            unkept: 0,
            scratch: String::new(),
        }
    }

    /// Keeps at most `names` distinct names; those already kept stay.
    pub fn limit(mut self, names: usize) -> Self {
        self.limit = names;
        self
    }

    /// Adds the names of `row`'s features. The error is the row's [`Named`] visitor's
    /// (a value training would refuse); the features visited before it are counted.
    pub fn add<R: Named>(&mut self, row: &R) -> Result<(), FeatureError> {
        let name = &mut self.scratch;
        row.visit_named(|f| {
            name.clear();
            write_name(&f, name);
            let at = match self.groups.iter().position(|(g, _)| *g == f.group) {
                Some(at) => at,
                None => {
                    self.groups.push((f.group, HashMap::new()));
                    self.groups.len() - 1
                }
            };
            let names = &mut self.groups[at].1;
            match names.get_mut(name.as_str()) {
                Some(seen) => seen.count += 1,
                None if self.kept < self.limit => {
                    names.insert(
                        name.clone(),
                        Seen {
                            slot: f.slot,
                            count: 1,
                        },
                    );
                    self.kept += 1;
                }
                None => self.unkept += 1,
            }
        })?;
        self.rows += 1;
        Ok(())
    }

    /// Adds the names of every row; stops at the first error (see [`add`](Self::add)).
    pub fn extend<'r, R: Named + 'r>(
        &mut self,
        rows: impl IntoIterator<Item = &'r R>,
    ) -> Result<(), FeatureError> {
        for row in rows {
            self.add(row)?;
        }
        Ok(())
    }

    /// The number of distinct names kept.
    pub fn len(&self) -> usize {
        self.kept
    }

    /// Whether no name is kept.
    pub fn is_empty(&self) -> bool {
        self.kept == 0
    }

    /// The number of rows added.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The occurrences of features whose names were not kept, past the limit.
    pub fn unkept(&self) -> u64 {
        self.unkept
    }
}

/// One named feature of a [`ReadableModel`].
#[derive(Clone, Debug, PartialEq)]
pub struct DumpedFeature {
    /// Its name, e.g. `ns^name` (Vowpal Wabbit), `7` (LIBSVM) or `carrier=UA`.
    pub name: String,
    /// Its feature group; `""` for the default one.
    pub group: &'static str,
    /// The slot of its weights: a sparse id reduced modulo the input's dimension, or a
    /// dense index.
    pub slot: Slot,
    /// How many times it occurred in the rows the names came from.
    pub count: u64,
    /// The first layer's weights for it, one per unit of that layer (the row of its
    /// slot, or the column of its dense index). Names that collide share them.
    pub weights: Vec<f32>,
}

/// A summary of some parameters: how many, and their range and size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// How many there are.
    pub count: usize,
    /// The smallest (0 when there are none).
    pub min: f32,
    /// The largest (0 when there are none).
    pub max: f32,
    /// Their root mean square (0 when there are none).
    pub rms: f32,
}

impl Summary {
    fn of(values: impl Iterator<Item = f32>) -> Summary {
        let (mut count, mut min, mut max, mut sq) = (0, f32::INFINITY, f32::NEG_INFINITY, 0.0);
        for v in values {
            count += 1;
            min = min.min(v);
            max = max.max(v);
            sq += f64::from(v) * f64::from(v);
        }
        match count {
            0 => Summary {
                count,
                min: 0.0,
                max: 0.0,
                rms: 0.0,
            },
            _ => Summary {
                count,
                min,
                max,
                rms: (sq / count as f64).sqrt() as f32,
            },
        }
    }
}

/// A net's weights by feature name; see [`readable_model`].
#[derive(Clone, Debug, PartialEq)]
pub struct ReadableModel {
    /// The net's [`Net::topology`].
    pub topology: String,
    /// The width of the first layer: the number of weights of each feature.
    pub units: usize,
    /// The rows the names came from.
    pub rows: u64,
    /// The occurrences of features whose names were not kept ([`FeatureNames::unkept`]).
    pub unkept: u64,
    /// Every named feature of a group the net reads: by input, then by decreasing size
    /// of weights (their Euclidean norm), then by name.
    pub features: Vec<DumpedFeature>,
    /// The first layer's bias, one per unit; empty without one.
    pub bias: Vec<f32>,
    /// Each later layer with weights, in order: its index among the layers with
    /// parameters (the first layer is 0) and its weights summarized.
    pub layers: Vec<(usize, Summary)>,
    /// The later layers' biases (and any other parameter of theirs outside a weight
    /// matrix), summarized.
    pub later_biases: Summary,
}

/// Every feature named in `names` with its slot in `net` and the first layer's weights
/// there (for a 16-unit first layer, 16 weights each), the first layer's bias, and the
/// later layers summarized: VW's `--invert_hash` for a net. Names of groups the net has
/// no input for, and dense indices past an input's width, are left out.
///
/// [`ReadableModel`]'s `Display` (and [`ReadableModel::save`]) writes it as text:
///
/// ```text
/// # vectorflow readable model
/// # topology: Sparse(16) => Linear(16->1)
/// # rows: 2 (names not kept: 0)
/// # features: 2, as name:slot:weights (1 weight each: the first layer's)
/// # bias: 0.0125
/// # later biases: 0 (min 0, max 0, rms 0)
/// 3:2:0.0998
/// 7:6:-0.0417
/// ```
///
/// Lines starting with `#` are the header: the topology, the rows the names came from,
/// the first layer's bias (if it has one), each later layer's weights as `# layer K
/// weights: N (min A, max B, rms C)`, and the later layers' biases. Each other line is one feature: `name:slot:w1 w2 ...`, its name
/// prefixed by `group/` outside the default group, its slot (`[j]` for a dense index),
/// then its weights separated by spaces, each printed so it reads back to the same
/// `f32`. A name may itself contain `:`, so a line is split at its last two; in a name
/// `\` is written `\\`, a line break `\n` (`\r`), and a leading `#` `\#`.
pub fn readable_model<I, S>(net: &Net<I, S>, names: &FeatureNames) -> ReadableModel
where
    I: InputLayer,
    S: Stack<In = I::Out>,
{
    let blocks = Net::<I, S>::blocks();
    dump(
        Model::new(net),
        &blocks,
        I::PARAMS,
        Net::<I, S>::topology(),
        names,
    )
}

/// [`readable_model`] of a network built at run time ([`DynNet`]).
///
/// ```
/// use vectorflow::dynnet::DynNet;
/// use vectorflow::explain::{readable_model_dyn, FeatureNames};
/// use vectorflow::io::{LibSvm, SparseFormat};
/// use vectorflow::prelude::*;
/// let rows = LibSvm::new().parse_bytes(b"1 3:0.5 7:1\n", "<text>")?;
/// let mut names = FeatureNames::new();
/// names.extend(&rows.to_rows())?;
/// let net = DynNet::new("sparse:2^4 > 1", Init::zeros()).unwrap();
/// let dump = readable_model_dyn(&net, &names);
/// assert_eq!(dump.features.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn readable_model_dyn(net: &DynNet, names: &FeatureNames) -> ReadableModel {
    let blocks = net.blocks();
    dump(
        Model::of_dyn(net),
        &blocks,
        net.input_params(),
        net.topology(),
        names,
    )
}

/// The readable model of a net whose first layer is `model`, whose weight blocks are
/// `blocks`, input layer `input_params` parameters and topology `topology`.
fn dump(
    model: Model<'_>,
    blocks: &[crate::layers::Block],
    input_params: usize,
    topology: String,
    names: &FeatureNames,
) -> ReadableModel {
    let mut by_root: Vec<Vec<DumpedFeature>> = vec![Vec::new(); model.layout.roots.len()];
    for (group, seen) in &names.groups {
        for (name, s) in seen {
            let Some((root, slot)) = model.locate_slot(group, s.slot) else {
                continue;
            };
            by_root[root].push(DumpedFeature {
                name: name.clone(),
                group,
                slot,
                count: s.count,
                weights: model.weights(root, slot),
            });
        }
    }
    let mut features = Vec::with_capacity(names.len());
    for mut fs in by_root {
        fs.sort_by(|a, b| {
            norm(&b.weights)
                .total_cmp(&norm(&a.weights))
                .then_with(|| a.name.cmp(&b.name))
        });
        features.append(&mut fs);
    }

    let bias = match model.layout.bias {
        Some(b) => (b..b + model.hidden).map(|i| model.params[i]).collect(),
        None => Vec::new(),
    };
    let params = model.params;
    let later = input_params;
    let mut in_matrix = vec![false; params.len() - later];
    let mut layers = Vec::new();
    for b in blocks.iter().filter(|b| b.layer > 0) {
        in_matrix[b.offset - later..b.offset - later + b.len].fill(true);
        let summary = Summary::of((b.offset..b.offset + b.len).map(|i| params[i]));
        match layers.last_mut() {
            // A layer of several blocks is summed up as one.
            Some((layer, s)) if *layer == b.layer => *s = merge(*s, summary),
            _ => layers.push((b.layer, summary)),
        }
    }
    let later_biases = Summary::of(
        params
            .iter()
            .skip(later)
            .zip(&in_matrix)
            .filter(|(_, m)| !**m)
            .map(|(v, _)| *v),
    );
    ReadableModel {
        topology,
        units: model.hidden,
        rows: names.rows,
        unkept: names.unkept,
        features,
        bias,
        layers,
        later_biases,
    }
}

/// The summary of two sets of parameters together.
fn merge(a: Summary, b: Summary) -> Summary {
    if a.count == 0 {
        return b;
    }
    if b.count == 0 {
        return a;
    }
    let count = a.count + b.count;
    let sq = |s: Summary| f64::from(s.rms) * f64::from(s.rms) * s.count as f64;
    Summary {
        count,
        min: a.min.min(b.min),
        max: a.max.max(b.max),
        rms: ((sq(a) + sq(b)) / count as f64).sqrt() as f32,
    }
}

impl ReadableModel {
    /// Writes the model as text (see [`readable_model`]) to `path`, atomically: under a
    /// temporary name in the same directory, fsynced, then renamed, so `path` holds
    /// either its old contents or the whole dump.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        write_atomic(path, |w| write!(w, "{self}")).map_err(|e| ModelError::from(e).at(path))
    }
}

/// A list of weights separated by spaces, each as Rust prints an `f32`: the shortest
/// text that reads back to it.
struct Weights<'a>(&'a [f32]);

impl fmt::Display for Weights<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, w) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{w}")?;
        }
        Ok(())
    }
}

/// A name with `\`, line breaks and a leading `#` escaped, so that it fits one line and
/// does not read as a header.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.starts_with('#') {
            f.write_str("\\")?;
        }
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        Ok(())
    }
}

fn write_summary(f: &mut fmt::Formatter<'_>, s: &Summary) -> fmt::Result {
    write!(
        f,
        "{} (min {}, max {}, rms {})",
        s.count, s.min, s.max, s.rms
    )
}

impl fmt::Display for ReadableModel {
    /// The text format documented at [`readable_model`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "# vectorflow readable model")?;
        writeln!(f, "# topology: {}", self.topology)?;
        writeln!(f, "# rows: {} (names not kept: {})", self.rows, self.unkept)?;
        writeln!(
            f,
            "# features: {}, as name:slot:weights ({} weight{} each: the first layer's)",
            self.features.len(),
            self.units,
            if self.units == 1 { "" } else { "s" },
        )?;
        if !self.bias.is_empty() {
            writeln!(f, "# bias: {}", Weights(&self.bias))?;
        }
        for (layer, s) in &self.layers {
            write!(f, "# layer {layer} weights: ")?;
            write_summary(f, s)?;
            writeln!(f)?;
        }
        write!(f, "# later biases: ")?;
        write_summary(f, &self.later_biases)?;
        writeln!(f)?;
        for d in &self.features {
            writeln!(
                f,
                "{}:{}:{}",
                Escaped(&label(d.group, &d.name)),
                d.slot,
                Weights(&d.weights)
            )?;
        }
        Ok(())
    }
}
