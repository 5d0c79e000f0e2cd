//! Parsed sparse rows in CSR form, and the row view that training reads.

use super::names::{Naming, RowNames};
use crate::features::{
    group_id, AuxFields, FeatureError, Features, Labeled, Named, NamedFeature, Slot, SparseGroup,
};
use crate::SparseF;
use std::sync::Arc;

/// Rows of sparse features in CSR (compressed sparse row) form: what the LIBSVM and
/// Vowpal Wabbit readers produce, one chunk at a time or for a whole file.
///
/// Ids and values are kept in two parallel arrays so that a dot product over a row reads
/// each contiguously. [`SparseRows::row`] gives a [`SparseRow`], which a network trains on
/// directly.
///
/// Ids are indices, not hashes: a network's `Sparse<DIM>` input refuses an id at or
/// beyond `DIM` (training stops with an error naming the file and line) unless folding
/// was asked for, by reading with [`OutOfRange::Modulo`](super::OutOfRange::Modulo) or
/// with [`set_folding`](Self::set_folding). The Vowpal Wabbit reader's ids are hashes,
/// always folded. Two sets of rows are equal when their data are (labels, weights,
/// features, lines and tags), wherever they were read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SparseRows {
    labels: Vec<f32>,
    weights: Vec<f32>,
    /// End of each row in `ids`/`values`.
    ends: Vec<usize>,
    ids: Vec<u32>,
    values: Vec<f32>,
    lines: Vec<u64>,
    /// Tag bytes (Vowpal Wabbit); `tag_ends` is empty or has one entry per row.
    tags: String,
    tag_ends: Vec<usize>,
    /// How the features are named in audits: LIBSVM ids as written, kept VW names.
    naming: Naming,
    origin: Origin,
}

/// Where a set of rows was read and how its ids meet a network's input.
#[derive(Clone, Debug, Default)]
pub(crate) struct Origin {
    /// The input's name in messages (empty for rows built by hand).
    file: Arc<str>,
    /// Whether ids at or beyond a `Sparse<DIM>` input's `DIM` are folded modulo `DIM`.
    fold: bool,
}

/// Rows compare by their data alone: the same rows read from two files, or built by
/// hand, are equal whatever their origin.
impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

impl SparseRows {
    /// An empty set of rows.
    pub fn new() -> SparseRows {
        SparseRows::default()
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The number of stored features over all rows.
    pub fn nnz(&self) -> usize {
        self.ids.len()
    }

    /// The labels, one per row.
    pub fn labels(&self) -> &[f32] {
        &self.labels
    }

    /// The importance weights, one per row (1 where the input gives none).
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// The 1-based input line of each row (of a [`Shard`](super::Shard) that starts
    /// inside a file, counted from the shard's first line).
    pub fn lines(&self) -> &[u64] {
        &self.lines
    }

    /// Asks a network's `Sparse<DIM>` input to fold ids at or beyond `DIM` modulo `DIM`
    /// (`true`) or to refuse them (`false`, the default for the LIBSVM reader's rows and
    /// rows built by hand).
    pub fn set_folding(&mut self, fold: bool) {
        self.origin.fold = fold;
    }

    /// Whether ids at or beyond a `Sparse<DIM>` input's `DIM` are folded modulo `DIM`
    /// (see [`set_folding`](Self::set_folding)).
    pub fn folding(&self) -> bool {
        self.origin.fold
    }

    /// Records where the rows were read (`file`; the input writes stored id 0 as
    /// `first_id`, kept with the names) and whether their ids are folded.
    pub(crate) fn set_origin(&mut self, file: &Arc<str>, fold: bool, first_id: u32) {
        if *self.origin.file != **file {
            self.origin.file = file.clone();
        }
        self.origin.fold = fold;
        // Audits name the features pushed from now on by their ids as written.
        self.naming.set_base(&self.ids, first_id);
    }

    /// Smallest feature-space size holding every id: the largest id plus one.
    pub fn min_dim(&self) -> usize {
        self.ids.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// Row `i`.
    ///
    /// # Panics
    ///
    /// If `i >= self.len()`.
    pub fn row(&self, i: usize) -> SparseRow<'_> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        let end = self.ends[i];
        let tag = match self.tag_ends.len() {
            0 => "",
            _ => {
                let s = if i == 0 { 0 } else { self.tag_ends[i - 1] };
                &self.tags[s..self.tag_ends[i]]
            }
        };
        SparseRow {
            label: self.labels[i],
            weight: self.weights[i],
            ids: &self.ids[start..end],
            values: &self.values[start..end],
            line: self.lines[i],
            tag,
            names: self.naming.row(start),
            origin: &self.origin,
        }
    }

    /// The rows in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SparseRow<'_>> + '_ {
        (0..self.len()).map(|i| self.row(i))
    }

    /// The row views collected, ready for `Trainer::fit`, which takes a slice.
    pub fn to_rows(&self) -> Vec<SparseRow<'_>> {
        self.iter().collect()
    }

    /// Reserves room for `rows` more rows with `nnz` more features in all.
    pub fn reserve(&mut self, rows: usize, nnz: usize) {
        self.labels.reserve(rows);
        self.weights.reserve(rows);
        self.ends.reserve(rows);
        self.lines.reserve(rows);
        self.ids.reserve(nnz);
        self.values.reserve(nnz);
    }

    /// Removes every row, keeping the buffers.
    pub fn clear(&mut self) {
        self.labels.clear();
        self.weights.clear();
        self.ends.clear();
        self.ids.clear();
        self.values.clear();
        self.lines.clear();
        self.tags.clear();
        self.tag_ends.clear();
        self.naming.clear();
    }

    /// Appends a row; `tag` is kept only by inputs that have tags (pass `""` otherwise).
    /// Audits name its features by their ids as given.
    pub fn push(
        &mut self,
        label: f32,
        weight: f32,
        features: impl IntoIterator<Item = SparseF>,
        line: u64,
        tag: &str,
    ) {
        self.naming.set_base(&self.ids, 0);
        for f in features {
            self.push_feature(f.id, f.value);
        }
        self.finish_row(label, weight, line);
        if !tag.is_empty() || !self.tag_ends.is_empty() {
            self.push_tag(tag);
        }
    }

    /// Appends the rows of `other`, adding `line_offset` to their line numbers. Rows
    /// appended to new rows (no rows, not read from a file) take `other`'s file name and
    /// [`folding`](Self::folding).
    pub fn append(&mut self, other: &SparseRows, line_offset: u64) {
        if self.is_empty() && self.origin.file.is_empty() {
            self.origin = other.origin.clone();
        } else if !other.is_empty() {
            // Rows that refuse ids beyond the input keep refusing them among others.
            self.origin.fold &= other.origin.fold;
        }
        let base = self.ids.len();
        self.naming.append(&self.ids, &other.naming, &other.ids);
        if !other.tag_ends.is_empty() && self.tag_ends.len() < self.len() {
            self.tag_ends.resize(self.len(), self.tags.len());
        }
        let tag_base = self.tags.len();
        self.labels.extend_from_slice(&other.labels);
        self.weights.extend_from_slice(&other.weights);
        self.ends.extend(other.ends.iter().map(|&e| e + base));
        self.ids.extend_from_slice(&other.ids);
        self.values.extend_from_slice(&other.values);
        self.lines
            .extend(other.lines.iter().map(|&l| l + line_offset));
        if !other.tag_ends.is_empty() || !self.tag_ends.is_empty() {
            self.tags.push_str(&other.tags);
            if other.tag_ends.is_empty() {
                self.tag_ends.resize(self.len(), tag_base);
            } else {
                self.tag_ends
                    .extend(other.tag_ends.iter().map(|&e| e + tag_base));
            }
        }
    }

    /// Adds `offset` to the line numbers of the rows from `from` on.
    pub(crate) fn shift_lines(&mut self, from: usize, offset: u64) {
        for l in &mut self.lines[from..] {
            *l += offset;
        }
    }

    #[inline]
    pub(crate) fn push_feature(&mut self, id: u32, value: f32) {
        self.ids.push(id);
        self.values.push(value);
    }

    /// The number of features pushed so far, over all rows (the open row's included).
    #[inline]
    pub(crate) fn open_features(&self) -> usize {
        self.ids.len()
    }

    /// Feature `k` (over all rows) as pushed: its id and value.
    #[inline]
    pub(crate) fn open_feature(&self, k: usize) -> (u32, f32) {
        (self.ids[k], self.values[k])
    }

    /// The name of feature `k` (over all rows): its kept name, or its id as written.
    pub(crate) fn feature_name(&self, k: usize) -> String {
        self.naming.name(k, self.ids[k]).to_string()
    }

    /// Keeps the name of the feature just pushed, the concatenation of `parts`.
    #[inline]
    pub(crate) fn push_name(&mut self, parts: &[&[u8]]) {
        let before = &self.ids[..self.ids.len().saturating_sub(1)];
        self.naming.push(before, parts);
    }

    /// Ends the row whose features were pushed since the last one.
    #[inline]
    pub(crate) fn finish_row(&mut self, label: f32, weight: f32, line: u64) {
        self.labels.push(label);
        self.weights.push(weight);
        self.ends.push(self.ids.len());
        self.lines.push(line);
    }

    /// Drops the features pushed since the last finished row.
    pub(crate) fn drop_open_row(&mut self) {
        let end = self.ends.last().copied().unwrap_or(0);
        self.ids.truncate(end);
        self.values.truncate(end);
        self.naming.truncate(end);
    }

    /// Whether some row has a tag.
    pub(crate) fn has_tags(&self) -> bool {
        !self.tag_ends.is_empty()
    }

    /// Sets the tag of the last finished row.
    pub(crate) fn push_tag(&mut self, tag: &str) {
        let before = self.len() - 1;
        if self.tag_ends.len() < before {
            self.tag_ends.resize(before, self.tags.len());
        }
        self.tags.push_str(tag);
        self.tag_ends.push(self.tags.len());
    }
}

/// One parsed row, borrowed from its [`SparseRows`]: label, weight, the `(id, value)`
/// features of the default group, the input line, (Vowpal Wabbit) the tag, and the
/// features' names for audits (see its [`Named`](crate::features::Named) impl).
#[derive(Clone, Copy, Debug)]
pub struct SparseRow<'a> {
    label: f32,
    weight: f32,
    ids: &'a [u32],
    values: &'a [f32],
    line: u64,
    tag: &'a str,
    origin: &'a Origin,
    names: RowNames<'a>,
}

impl PartialEq for SparseRow<'_> {
    /// Equal fields, and the same kept name (if any) for each feature.
    fn eq(&self, other: &Self) -> bool {
        let names = |r: &Self| {
            let n = r.names;
            (0..r.ids.len()).map(move |k| n.kept(k))
        };
        (
            self.label,
            self.weight,
            self.ids,
            self.values,
            self.line,
            self.tag,
        ) == (
            other.label,
            other.weight,
            other.ids,
            other.values,
            other.line,
            other.tag,
        ) && names(self).eq(names(other))
    }
}

impl<'a> SparseRow<'a> {
    /// The label (NaN for an unlabelled Vowpal Wabbit example).
    pub fn label(&self) -> f32 {
        self.label
    }

    /// The importance weight.
    pub fn weight(&self) -> f32 {
        self.weight
    }

    /// The feature ids.
    pub fn ids(&self) -> &'a [u32] {
        self.ids
    }

    /// The feature values, parallel to [`ids`](Self::ids).
    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    /// The features as pairs.
    pub fn features(&self) -> impl ExactSizeIterator<Item = SparseF> + 'a {
        let (ids, values) = (self.ids, self.values);
        ids.iter()
            .zip(values)
            .map(|(&id, &value)| SparseF { id, value })
    }

    /// The 1-based input line the row was read from (counted as
    /// [`SparseRows::lines`] counts).
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The tag (Vowpal Wabbit), empty when the row has none.
    pub fn tag(&self) -> &'a str {
        self.tag
    }

    /// The names of the features, for audits.
    pub(crate) fn names(&self) -> RowNames<'a> {
        self.names
    }
}

impl Features for SparseRow<'_> {
    #[inline]
    fn weight(&self) -> f32 {
        self.weight
    }
}

/// A sparse format's row carries nothing but its label and weight to a streamed loss.
impl AuxFields for SparseRow<'_> {
    type Aux = ();
    #[inline]
    fn aux(&self) {}
}

#[diagnostic::do_not_recommend]
impl Labeled for SparseRow<'_> {
    const LABEL_FIELD: &'static str = "label";
    #[inline]
    fn label(&self) -> f32 {
        self.label
    }
}

// Not offered as a candidate in compile errors about a user's own row type lacking the
// trait: it would only distract from the user's type.
#[diagnostic::do_not_recommend]
impl SparseGroup<{ group_id("") }> for SparseRow<'_> {
    #[inline]
    fn visit<F: FnMut(u32, f32)>(&self, mut f: F) -> Result<(), FeatureError> {
        for (&id, &v) in self.ids.iter().zip(self.values) {
            f(id, v);
        }
        Ok(())
    }

    #[inline]
    fn extend_pairs(&self, dim: usize, out: &mut Vec<(u32, f32)>) -> Result<(), FeatureError> {
        // Ids are indices: one beyond the input is a wrong `DIM` or another feature
        // space, refused unless folding was asked for.
        if !self.origin.fold && self.ids.iter().any(|&id| id as usize >= dim) {
            return Err(FeatureError {
                field: FeatureError::ID_BEYOND_INPUT,
                value: f32::NAN,
            });
        }
        // One reservation and a loop over two slices, not a push per feature.
        crate::features::extend_slots(self.ids, self.values, dim, out);
        Ok(())
    }

    #[cold]
    fn why_refused(&self, dim: usize) -> Option<String> {
        let o = self.origin;
        if o.fold {
            return None;
        }
        let k = self.ids.iter().position(|&id| id as usize >= dim)?;
        // Ids as the file wrote them: the names audits give, counted from the same base.
        let first = u64::from(self.names.base());
        let at = match &*o.file {
            "" => format!("line {}", self.line),
            file => format!("{}:{}", super::error::escape_str(file), self.line),
        };
        Some(format!(
            "{at}: feature id {}: expected an id from {first} to {} (the network's input has \
             {dim}); read the file with `OutOfRange::Modulo` to fold ids modulo {dim}",
            self.names.name(k, self.ids[k]),
            dim as u64 - 1 + first,
        ))
    }
}

/// Names a row's features as its reader read them: a LIBSVM feature by its id as
/// written (`7` for `7:1.5`, whether the file is 1- or 0-based), a Vowpal Wabbit feature
/// read with [`Vw::names`](super::Vw::names) as VW's audit does (`ns^name`, `name` in
/// the default namespace, `ns^name^text` for a string value `name:text`), and any other
/// feature by its stored id (a VW row read without names: its 32-bit hash). The group
/// is the default one (`""`), the field `features`.
impl Named for SparseRow<'_> {
    fn visit_named<F: FnMut(NamedFeature<'_>)>(&self, mut f: F) -> Result<(), FeatureError> {
        let names = self.names();
        for (k, (&id, &value)) in self.ids().iter().zip(self.values()).enumerate() {
            let name = names.name(k, id);
            f(NamedFeature {
                group: "",
                field: "features",
                name: format_args!("{name}"),
                slot: Slot::SparseId(id),
                value,
            });
        }
        Ok(())
    }
}
