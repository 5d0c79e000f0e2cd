//! Rows hashed by a column spec, and the row view training reads.
//!
//! A row's cells are hashed when it is read, through the very trait impls and hash
//! functions the derive's code calls (`Category`, `Tokens`, `cross_id`, `slot_id`), so
//! the ids are the derive's; the rows keep only labels, weights, ids and values.

use super::spec::{ColumnSpec, Kind, Op, Plan};
use crate::features::{
    cross_id, AuxFields, Category, FeatureError, Features, Labeled, Named, NamedFeature, Slot,
    SparseGroup, Tokens,
};
use crate::hash::hash_i128;
use crate::SparseF;
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::{Arc, Mutex};

/// One value of a row as a reader found it.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cell<'a> {
    /// An empty CSV field, a JSON `null` or absent key, a Parquet null.
    Missing,
    Text(Cow<'a, str>),
    Int(i128),
    Bool(bool),
    Float(f64),
}

/// A cell hashes as the derive's field of its type hashes: text as `&str`, an integer
/// as an integer (the ids of its text), a bool as `bool`.
impl Category for Cell<'_> {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        match self {
            Cell::Text(s) => (**s).category(seed),
            Cell::Int(i) => Some(hash_i128(*i, seed)),
            Cell::Bool(b) => b.category(seed),
            Cell::Missing | Cell::Float(_) => None,
        }
    }

    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Text(s) => f.write_str(s),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Missing | Cell::Float(_) => f.write_str("?"),
        }
    }
}

impl Cell<'_> {
    fn found(&self) -> String {
        match self {
            Cell::Missing => "nothing".to_string(),
            Cell::Text(s) => format!("`{}`", crate::io::error::escape_str(&s[..floor(s, 64)])),
            Cell::Int(i) => format!("the integer {i}"),
            Cell::Bool(b) => format!("`{b}`"),
            Cell::Float(x) => format!("the number {x}"),
        }
    }
}

/// The largest char boundary of `s` at or below `n`.
fn floor(s: &str, n: usize) -> usize {
    (0..=n.min(s.len()))
        .rev()
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(0)
}

/// A cell that cannot be read as its column's role: the column (the plan's index) and
/// what was expected and found.
#[derive(Debug)]
pub(super) struct CellError {
    pub col: usize,
    pub msg: String,
}

/// Rows read with a [`ColumnSpec`](super::ColumnSpec): labels, weights and each row's
/// hashed features, group by group, in CSR form. [`row`](Self::row) gives a
/// [`ColumnRow`], which a network trains on; `Trainer::fit` takes
/// [`to_rows`](Self::to_rows).
#[derive(Clone, Debug)]
pub struct ColumnRows {
    spec: ColumnSpec,
    plan: Arc<Plan>,
    labels: Vec<f32>,
    weights: Vec<f32>,
    /// Where each (row, group) ends in `ids`/`values`, after a leading 0.
    ends: Vec<usize>,
    ids: Vec<u32>,
    values: Vec<f32>,
    /// Each feature's name, when kept for audits.
    names: Option<Names>,
}

/// The features' names, in the order of `ids`: `text[ends[j]..ends[j + 1]]` is feature
/// `j`'s, from the plan's column `cols[j]` (a cross's first); and the plan's groups and
/// columns as [`NamedFeature`] holds them, interned once.
#[derive(Clone, Debug, Default)]
struct Names {
    text: String,
    ends: Vec<usize>,
    cols: Vec<usize>,
    groups: Vec<&'static str>,
    columns: Vec<&'static str>,
}

impl Names {
    /// The lengths, to truncate back to.
    fn mark(&self) -> (usize, usize) {
        (self.text.len(), self.cols.len())
    }

    fn truncate(&mut self, (text, features): (usize, usize)) {
        self.text.truncate(text);
        self.ends.truncate(features + 1);
        self.cols.truncate(features);
    }

    /// Ends the name written since the last, for column `col`.
    fn push(&mut self, col: usize) {
        self.ends.push(self.text.len());
        self.cols.push(col);
    }
}

impl ColumnRows {
    /// No rows yet, to be read with `spec`.
    pub fn new(spec: &ColumnSpec) -> ColumnRows {
        ColumnRows {
            plan: spec.plan(),
            spec: spec.clone(),
            labels: Vec::new(),
            weights: Vec::new(),
            ends: vec![0],
            ids: Vec::new(),
            values: Vec::new(),
            names: None,
        }
    }

    /// No rows yet, to be read with `spec`, keeping each feature's name as the derive's
    /// rows name it (`carrier=UA`, `origin×dest=EWR×IAH`, `distance`, `words=late`), for
    /// audits ([`crate::explain`]): [`ColumnRow`] is then [`Named`] by them. Training
    /// does not need them.
    pub fn named(spec: &ColumnSpec) -> ColumnRows {
        let rows = ColumnRows::new(spec);
        let plan = &rows.plan;
        let names = Names {
            ends: vec![0],
            groups: plan.groups.iter().map(|g| interned(&g.name)).collect(),
            columns: plan.names.iter().map(|c| interned(c)).collect(),
            ..Names::default()
        };
        ColumnRows {
            names: Some(names),
            ..rows
        }
    }

    /// Whether the rows keep their features' names ([`ColumnRows::named`]).
    pub fn has_names(&self) -> bool {
        self.names.is_some()
    }

    /// The spec the rows are read with.
    pub fn spec(&self) -> &ColumnSpec {
        &self.spec
    }

    pub(super) fn plan(&self) -> &Arc<Plan> {
        &self.plan
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Removes every row, keeping the buffers.
    pub fn clear(&mut self) {
        self.labels.clear();
        self.weights.clear();
        self.ends.truncate(1);
        self.ids.clear();
        self.values.clear();
        if let Some(n) = &mut self.names {
            n.truncate((0, 0));
        }
    }

    /// Row `i`; panics if `i >= len()`.
    pub fn row(&self, i: usize) -> ColumnRow<'_> {
        assert!(i < self.len(), "row {i} of {} rows", self.len());
        ColumnRow { rows: self, at: i }
    }

    /// The rows in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ColumnRow<'_>> + '_ {
        (0..self.len()).map(move |at| ColumnRow { rows: self, at })
    }

    /// The rows as a vector, for `Trainer::fit` and `Net::predict_rows`.
    pub fn to_rows(&self) -> Vec<ColumnRow<'_>> {
        self.iter().collect()
    }

    /// Hashes one row of `cells` (indexed as the plan's columns) onto the end; on an
    /// error, no part of the row is kept.
    pub(super) fn push(&mut self, cells: &[Cell<'_>]) -> Result<(), CellError> {
        let (ids, values, ends) = (self.ids.len(), self.values.len(), self.ends.len());
        let names = self.names.as_ref().map(Names::mark);
        let pushed = self.push_features(cells);
        let number = |col: Option<usize>, what| match col {
            Some(col) => read_number(&cells[col], what).map_err(|msg| CellError { col, msg }),
            None => Ok(None),
        };
        let label = pushed.and_then(|()| number(self.plan.label, Number::Label));
        let weight = label.and_then(|l| Ok((l, number(self.plan.weight, Number::Weight)?)));
        match weight {
            Ok((label, weight)) => {
                self.labels.push(label.unwrap_or(f32::NAN));
                self.weights.push(weight.unwrap_or(1.0));
                Ok(())
            }
            Err(e) => {
                self.ids.truncate(ids);
                self.values.truncate(values);
                self.ends.truncate(ends);
                if let (Some(n), Some(mark)) = (&mut self.names, names) {
                    n.truncate(mark);
                }
                Err(e)
            }
        }
    }

    fn push_features(&mut self, cells: &[Cell<'_>]) -> Result<(), CellError> {
        let (plan, ids, values) = (&*self.plan, &mut self.ids, &mut self.values);
        let mut names = self.names.as_mut();
        // Writes the name of the feature just pushed, when names are kept (a `String`
        // takes every write).
        let mut name = |col: usize, write: &dyn Fn(&mut String) -> fmt::Result| {
            if let Some(n) = names.as_deref_mut() {
                let _ = write(&mut n.text);
                n.push(col);
            }
        };
        for group in &plan.groups {
            for op in &group.ops {
                match *op {
                    Op::Hash { col, seed } => {
                        let cell = text_like(cells, col, Kind::Hash)?;
                        if let Some(id) = cell.category(seed) {
                            ids.push(id);
                            values.push(1.0);
                            let c = &plan.names[col];
                            name(col, &|t| write!(t, "{c}={}", Shown(cell)));
                        }
                    }
                    Op::Value { col, slot } => {
                        let v = read_number(&cells[col], Number::Value)
                            .map_err(|msg| CellError { col, msg })?;
                        if let Some(v) = v {
                            ids.push(slot);
                            values.push(v);
                            name(col, &|t| t.write_str(&plan.names[col]));
                        }
                    }
                    Op::Tokens { col, seed, mean } => {
                        let cell = text_like(cells, col, Kind::Tokens)?;
                        // Text is a bag of words; an integer or a bool one category, as
                        // in the derive's `Vec<T>` of one (a missing cell, none).
                        let one = std::slice::from_ref(cell);
                        // `#[tokens(mean)]`: each token weighs 1/len.
                        let w = match (mean, cell) {
                            (false, _) => 1.0,
                            (true, Cell::Text(s)) => 1.0 / (Tokens::count(&**s).max(1) as f32),
                            (true, _) => 1.0 / (Tokens::count(one).max(1) as f32),
                        };
                        let c = &plan.names[col];
                        let mut push = |id, token: &dyn fmt::Display| {
                            ids.push(id);
                            values.push(w);
                            name(col, &|t| write!(t, "{c}={token}"));
                        };
                        match cell {
                            Cell::Text(s) => Tokens::named_tokens(&**s, seed, &mut push),
                            _ => Tokens::named_tokens(one, seed, &mut push),
                        }
                    }
                    Op::Cross { ref cols, seed } => {
                        if let Some(id) = cross_id(seed, cols.iter().map(|&c| &cells[c])) {
                            ids.push(id);
                            values.push(1.0);
                            name(cols[0], &|t| {
                                for (k, &c) in cols.iter().enumerate() {
                                    let sep = if k == 0 { "" } else { "×" };
                                    write!(t, "{sep}{}", plan.names[c])?;
                                }
                                for (k, &c) in cols.iter().enumerate() {
                                    let sep = if k == 0 { "=" } else { "×" };
                                    write!(t, "{sep}{}", Shown(&cells[c]))?;
                                }
                                Ok(())
                            });
                        }
                    }
                }
            }
            self.ends.push(ids.len());
        }
        Ok(())
    }
}

/// A cell as feature names show it ([`Category::fmt_name`]).
struct Shown<'c, 'a>(&'c Cell<'a>);

impl fmt::Display for Shown<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_name(f)
    }
}

/// The cell of a hashed or token column: text, an integer or a bool (a float is no
/// category: nearly equal floats would get unrelated ids, as the derive says).
fn text_like<'c, 'a>(
    cells: &'c [Cell<'a>],
    col: usize,
    kind: Kind,
) -> Result<&'c Cell<'a>, CellError> {
    let cell = &cells[col];
    if let Cell::Float(_) = cell {
        let what = match kind {
            Kind::Tokens => "text to split into tokens",
            _ => "text, an integer or a bool to hash",
        };
        return Err(CellError {
            col,
            msg: format!(
                "expected {what}, found {}; use --value for a number whose size matters",
                cell.found()
            ),
        });
    }
    Ok(cell)
}

#[derive(Clone, Copy, PartialEq)]
enum Number {
    Label,
    Weight,
    Value,
}

/// A label, weight or numeric value: a number (text that parses as an `f32`, as the CSV
/// reader parses an `f32` field), or a bool as 1 or 0 (not for a weight). A missing
/// label or weight is an error, a missing value is no feature; a value must be finite.
fn read_number(cell: &Cell<'_>, what: Number) -> Result<Option<f32>, String> {
    let x = match cell {
        Cell::Missing if what == Number::Value => return Ok(None),
        Cell::Text(s) => match (s.parse::<f32>(), s.parse::<bool>()) {
            (Ok(x), _) => x,
            (Err(_), Ok(b)) if what != Number::Weight => f32::from(u8::from(b)),
            _ => return Err(expected_number(cell, what)),
        },
        Cell::Int(i) => *i as f32,
        Cell::Float(x) => *x as f32,
        Cell::Bool(b) if what != Number::Weight => f32::from(u8::from(*b)),
        _ => return Err(expected_number(cell, what)),
    };
    if what == Number::Value && !x.is_finite() {
        return Err(format!("expected a finite number, found {x}"));
    }
    Ok(Some(x))
}

fn expected_number(cell: &Cell<'_>, what: Number) -> String {
    let expected = match what {
        Number::Label => "a label (a number, or true/false)",
        Number::Weight => "a row weight (a number)",
        Number::Value => "a number",
    };
    format!("expected {expected}, found {}", cell.found())
}

/// One row of a [`ColumnRows`]: its label, weight and hashed features, which a network
/// reads as a `#[derive(Features)]` row's. Every `Sparse` input reads the features of
/// the root of its name (`Sparse<DIM>` the default root, `user: Sparse<DIM>` the columns
/// marked `root=user`); a root the spec does not have gives no features.
#[derive(Clone, Copy, Debug)]
pub struct ColumnRow<'a> {
    rows: &'a ColumnRows,
    at: usize,
}

impl<'a> ColumnRow<'a> {
    /// The label (NaN when the spec has no label column).
    pub fn label(&self) -> f32 {
        self.rows.labels[self.at]
    }

    /// The row weight (1 when the spec has no weight column).
    pub fn weight(&self) -> f32 {
        self.rows.weights[self.at]
    }

    /// The features of the root `root` (`""` for the default root) in the derive's
    /// order: the columns' features, then the crosses'.
    pub fn features(&self, root: &str) -> Vec<SparseF> {
        let (ids, values) = self.root(root);
        let pairs = ids.iter().zip(values);
        pairs.map(|(&id, &value)| SparseF { id, value }).collect()
    }

    /// The ids and values of the root `root` (`""` for the default root), borrowed: what
    /// a network whose inputs are chosen at run time reads. Empty for a root the spec
    /// does not have.
    pub fn root(&self, root: &str) -> (&'a [u32], &'a [f32]) {
        self.try_root(root).unwrap_or((&[], &[]))
    }

    /// The ids and values of the root `root`, or `None` for a root the spec does not
    /// have.
    pub(crate) fn try_root(&self, root: &str) -> Option<(&'a [u32], &'a [f32])> {
        self.slices(self.rows.plan.groups.iter().position(|g| g.name == root))
    }

    /// The ids and values of group `k` of the plan.
    #[inline]
    fn slices(&self, k: Option<usize>) -> Option<(&'a [u32], &'a [f32])> {
        let rows = self.rows;
        let k = k?;
        let at = self.at * rows.plan.groups.len() + k;
        let (start, end) = (rows.ends[at], rows.ends[at + 1]);
        Some((&rows.ids[start..end], &rows.values[start..end]))
    }

    #[inline]
    fn group(&self, g: u64) -> Option<(&'a [u32], &'a [f32])> {
        self.slices(self.rows.plan.groups.iter().position(|x| x.id == g))
    }
}

impl Features for ColumnRow<'_> {
    #[inline]
    fn weight(&self) -> f32 {
        ColumnRow::weight(self)
    }
}

/// A spec's row carries nothing but its label and weight to a streamed loss.
impl AuxFields for ColumnRow<'_> {
    type Aux = ();
    #[inline]
    fn aux(&self) {}
}

#[diagnostic::do_not_recommend]
impl Labeled for ColumnRow<'_> {
    const LABEL_FIELD: &'static str = "label";
    #[inline]
    fn label(&self) -> f32 {
        ColumnRow::label(self)
    }
}

// Every group: which roots a row has is known only at run time.
#[diagnostic::do_not_recommend]
/// A root the spec does not have is an error, not an empty group: a network input
/// reading nothing would train a wrong model without a word.
impl<const G: u64> SparseGroup<G> for ColumnRow<'_> {
    #[inline]
    fn visit<F: FnMut(u32, f32)>(&self, mut f: F) -> Result<(), FeatureError> {
        let (ids, values) = self.group(G).ok_or(NO_GROUP)?;
        for (&id, &v) in ids.iter().zip(values) {
            f(id, v);
        }
        Ok(())
    }

    #[inline]
    fn extend_pairs(&self, dim: usize, out: &mut Vec<(u32, f32)>) -> Result<(), FeatureError> {
        let (ids, values) = self.group(G).ok_or(NO_GROUP)?;
        crate::features::extend_slots(ids, values, dim, out);
        Ok(())
    }
}

const NO_GROUP: FeatureError = FeatureError {
    field: FeatureError::NO_GROUP,
    value: f32::NAN,
};

/// Names a row's features as the derive's rows name theirs, when its rows were read
/// with names ([`ColumnRows::named`]); otherwise each feature is named by its id. The
/// group is the column's root, the field its column (a cross's first).
impl Named for ColumnRow<'_> {
    fn visit_named<F: FnMut(NamedFeature<'_>)>(&self, mut f: F) -> Result<(), FeatureError> {
        let rows = self.rows;
        let plan = &*rows.plan;
        for (k, group) in plan.groups.iter().enumerate() {
            let at = self.at * plan.groups.len() + k;
            let (start, end) = (rows.ends[at], rows.ends[at + 1]);
            let group = match &rows.names {
                Some(n) => n.groups[k],
                None => interned(&group.name),
            };
            for j in start..end {
                let (id, value) = (rows.ids[j], rows.values[j]);
                let (field, shown): (_, &dyn fmt::Display) = match &rows.names {
                    Some(n) => (n.columns[n.cols[j]], &&n.text[n.ends[j]..n.ends[j + 1]]),
                    None => ("features", &id),
                };
                f(NamedFeature {
                    group,
                    field,
                    name: format_args!("{shown}"),
                    slot: Slot::SparseId(id),
                    value,
                });
            }
        }
        Ok(())
    }
}

/// `name` as a `&'static str`, as [`NamedFeature`] holds groups and fields: each
/// distinct name is leaked once and reused, so the memory is bounded by the names of
/// the specs a process audits, not by its rows. Named rows intern their spec's names
/// once, when made.
fn interned(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    match names.iter().find(|n| **n == name) {
        Some(n) => n,
        None => {
            let n: &'static str = Box::leak(name.to_string().into_boxed_str());
            names.push(n);
            n
        }
    }
}
