//! What a row offers a network: a label, a weight, and feature groups.
//!
//! `#[derive(Features)]` implements these traits; the field-kind traits ([`Category`],
//! [`Numeric`], [`Tokens`], [`SparsePairs`], [`DenseValues`], [`Label`], [`Weight`]) say
//! which Rust types may carry which kind of feature, so a mistake such as hashing a float
//! is a compile error that names the type.
//!
//! A feature group is a named input of a network (`root = "name"` on a field; the default
//! group has the empty name). Groups are told apart at the type level by
//! [`group_id`], a hash of the name computed at compile time.
//!
//! A row's `#[aux]` fields are not features: they ride beside the hashed row to a loss
//! trained from a stream ([`aux`]).

pub mod aux;

pub use aux::{AuxFields, AuxValue};

use crate::hash::{hash_i128, murmur3_32};
use std::borrow::Cow;
use std::fmt;

/// A pre-indexed sparse feature: an id in the hashed feature space and its value.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SparseF {
    /// Feature id; reduced modulo the input's dimension by the network.
    pub id: u32,
    /// Feature value.
    pub value: f32,
}

/// A feature value that cannot be fed to training, with the field it came from.
#[derive(Clone, PartialEq)]
pub struct FeatureError {
    /// The row struct's field that produced the value.
    pub field: &'static str,
    /// The offending value.
    pub value: f32,
}

impl FeatureError {
    /// The `field` of the error a row gives for a feature id at or beyond its `Sparse<DIM>`
    /// input's `DIM` when its ids are not to be folded (the rows of [`crate::io`]'s
    /// readers, unless read with [`OutOfRange::Modulo`](crate::io::OutOfRange::Modulo));
    /// `value` is then NaN. Training names the id and the file and line instead
    /// ([`SparseGroup::why_refused`]).
    pub const ID_BEYOND_INPUT: &'static str = "<feature id beyond the input>";

    /// The `field` of the error a row gives when a network's input reads a feature
    /// group (root) the row does not have: rows read with a run-time
    /// [`ColumnSpec`](crate::io::columns::ColumnSpec) that names no such root, or fed to
    /// a network built at run time ([`crate::dynnet::DynNet`]) with an input it has no
    /// features for; `value` is then NaN. Reading no features there would train a wrong
    /// model silently.
    pub const NO_GROUP: &'static str = "<no such feature group>";
}

impl fmt::Display for FeatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == FeatureError::NO_GROUP {
            return f.write_str(
                "the row has no features for one of the network's inputs: the network reads a \
                 feature group (root) the rows do not have; with a column spec, give the \
                 columns that feed it `root=...`",
            );
        }
        if self.field == FeatureError::ID_BEYOND_INPUT {
            return f.write_str(
                "a feature id is at or beyond the sparse input's dimension; read the rows with \
                 `OutOfRange::Modulo` to fold ids into the input",
            );
        }
        write!(
            f,
            "field `{}` has the non-finite value {}; expected a finite number",
            self.field, self.value
        )
    }
}

debug_as_message!(FeatureError);

impl std::error::Error for FeatureError {}

/// The type-level id of a feature group: FNV-1a (64-bit) of its name.
///
/// The default group is `group_id("")`.
pub const fn group_id(name: &str) -> u64 {
    let b = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < b.len() {
        h ^= b[i] as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    h
}

/// The id of a cross of categories, as `#[features(cross(a, b, ..))]` hashes it: the
/// first value hashed with `seed` (the seed of the cross's namespace,
/// [`namespace_seed`](crate::hash::namespace_seed)), each next value hashed with the id
/// before it. `None` when any value is absent (then the row has no feature for the
/// cross). The derive and [`crate::io::columns`] both call it, so their crosses agree.
///
/// ```
/// use vectorflow::features::{cross_id, Category};
/// use vectorflow::hash::{murmur3_32, namespace_seed};
/// let seed = namespace_seed("origin^dest");
/// let id = cross_id(seed, [&"EWR" as &dyn Category, &"IAH"]).unwrap();
/// assert_eq!(id, murmur3_32(b"IAH", murmur3_32(b"EWR", seed)));
/// assert_eq!(cross_id(seed, [&"EWR" as &dyn Category, &None::<&str>]), None);
/// ```
#[inline(always)]
pub fn cross_id<C: Category>(seed: u32, values: impl IntoIterator<Item = C>) -> Option<u32> {
    values.into_iter().try_fold(seed, |h, v| v.category(h))
}

/// A row type: the part common to all rows, whatever their feature groups.
pub trait Features {
    /// A fingerprint of the row type's features: every marked field's kind, arguments,
    /// name and type, every `#[serde(..)]` attribute of the struct and its fields, and
    /// every cross. It cannot see outside the struct: a `#[derive(Category)]` enum's
    /// variants or a hand-written `Category` impl (remove a cache by hand after changing
    /// those). `#[derive(Features)]` computes it; a binary cache
    /// ([`Trainer::cache`](crate::train::Trainer::cache)) built for rows of another
    /// spec is rebuilt. 0 for a hand-written impl, whose cache is then told apart only
    /// by the type's name and the stream's [`source`](crate::train::Stream::source).
    const SPEC: u64 = 0;
    /// The name of the `#[weight]` field, for error messages.
    const WEIGHT_FIELD: &'static str = "weight";
    /// The example weight (`#[weight]`), 1 when the row has none. Training stops with an
    /// error on a weight that is negative or not finite.
    fn weight(&self) -> f32 {
        1.0
    }
}

/// A row type named without its lifetime, for readers that hand out rows borrowing from
/// their own buffers: `<Flight<'static> as RowType>::Row<'a>` is `Flight<'a>`.
/// `#[derive(Features)]` implements it for rows with no generics or a single lifetime.
///
/// ```
/// use vectorflow::features::RowType;
/// use vectorflow::prelude::*;
///
/// #[derive(Features)]
/// struct Flight<'a> {
///     #[hash]
///     carrier: &'a str,
/// }
///
/// fn first<'a, T: RowType>(rows: &'a [T::Row<'a>]) -> &'a T::Row<'a> {
///     &rows[0]
/// }
/// let text = String::from("UA");
/// let rows = [Flight { carrier: &text }];
/// assert_eq!(first::<Flight<'static>>(&rows).carrier, "UA");
/// ```
pub trait RowType {
    /// The row, borrowing for `'a`.
    type Row<'a>;
}

/// A row with a `#[label]` field, as training needs.
#[diagnostic::on_unimplemented(
    message = "the row type `{Self}` has no label",
    label = "training needs labelled rows",
    note = "mark one field of `{Self}` with #[label]"
)]
pub trait Labeled: Features {
    /// The name of the label field, for error messages.
    const LABEL_FIELD: &'static str;
    /// The label: 0/1 for binary tasks, a target value for regression, a class index
    /// for multi-class.
    fn label(&self) -> f32;
}

/// A row whose feature group `G` feeds a `Sparse<DIM>` input.
#[diagnostic::on_unimplemented(
    message = "the row type `{Self}` has no sparse features in the group a `Sparse` input of this network reads",
    label = "this row cannot feed the network's `Sparse` input",
    note = "sparse features are fields marked #[hash], #[value], #[tokens] or #[sparse]",
    note = "an unnamed input (`Sparse<DIM>`) reads the row's default group; a named one (`user: Sparse<DIM>`) reads the fields marked `root = \"user\"`"
)]
pub trait SparseGroup<const G: u64>: Features {
    /// Calls `f(id, value)` for each feature of the group, without allocating.
    fn visit<F: FnMut(u32, f32)>(&self, f: F) -> Result<(), FeatureError>;

    /// Appends `(id mod dim, value)` for each feature of the group to `out`: what a
    /// `Sparse<dim>` input copies of a row into the
    /// [`RowInputs`](crate::layers::RowInputs) before training on it. By default through
    /// [`SparseGroup::visit`]; a row that holds its features in arrays can copy them in
    /// one pass.
    #[inline]
    fn extend_pairs(&self, dim: usize, out: &mut Vec<(u32, f32)>) -> Result<(), FeatureError> {
        // A power of two (as `Sparse` widths mostly are) reduces by a mask: see
        // `extend_slots`.
        if dim.is_power_of_two() {
            let mask = dim - 1;
            self.visit(|id, v| out.push(((id as usize & mask) as u32, v)))
        } else {
            self.visit(|id, v| out.push(((id as usize % dim) as u32, v)))
        }
    }

    /// Why [`extend_pairs`](Self::extend_pairs) refused the row for a `Sparse<dim>` input
    /// with [`FeatureError::ID_BEYOND_INPUT`], in words: the id, and where the row was
    /// read. `None` (the default) for rows whose ids are hashes, folded modulo `dim` by
    /// design.
    fn why_refused(&self, dim: usize) -> Option<String> {
        let _ = dim;
        None
    }
}

/// A row whose feature group `G` feeds a `Dense<N>` input.
#[diagnostic::on_unimplemented(
    message = "the row type `{Self}` has no dense features of width {N} in the group a `Dense<{N}>` input of this network reads",
    label = "this row cannot feed the network's `Dense<{N}>` input",
    note = "a group's width is the sum of the widths of its #[dense] arrays, and must equal the input's width",
    note = "an unnamed input (`Dense<N>`) reads the row's default group; a named one (`ctx: Dense<N>`) reads the fields marked `root = \"ctx\"`"
)]
pub trait DenseGroup<const G: u64, const N: usize>: Features {
    /// Writes the group's dense values into `out`.
    fn dense(&self, out: &mut [f32; N]) -> Result<(), FeatureError>;
}

/// Where a feature goes in its group's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    /// A sparse feature's id. [`Named::visit_named`] gives the id [`SparseGroup::visit`]
    /// gives; audits ([`crate::explain`]) show it reduced modulo the input's dimension,
    /// which is the row of weights it reads.
    SparseId(u32),
    /// A dense value's index in its group's [`DenseGroup::dense`] output.
    DenseIndex(usize),
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::SparseId(id) => write!(f, "{id}"),
            Slot::DenseIndex(i) => write!(f, "[{i}]"),
        }
    }
}

/// One feature of a row with its readable name, as [`Named::visit_named`] hands it over.
#[derive(Clone, Copy, Debug)]
pub struct NamedFeature<'a> {
    /// The feature group (`root = "..."`) it belongs to; `""` for the default group.
    pub group: &'static str,
    /// The row struct's field it comes from (the first field of a cross).
    pub field: &'static str,
    /// Its name: `carrier=UA` for a hashed field, `origin×dest=EWR×IAH` for a cross (and
    /// for a `cross_roots` pair, where a value has no value shown: `distance×dest=IAH`),
    /// `distance` for a value, `words=late` for a token, `ids[17]` for a pre-indexed
    /// pair and `ctx[2]` for a dense value. Formatted only when displayed.
    pub name: fmt::Arguments<'a>,
    /// Its slot: the id or index the training visitors give it.
    pub slot: Slot,
    /// Its value.
    pub value: f32,
}

/// A row that can list its features by name, for audits ([`crate::explain`]).
///
/// `#[derive(Features)]` implements it. Training never calls it, so naming costs the
/// training path nothing; the names are formatted only when someone displays them.
///
/// ```
/// use vectorflow::features::{Named, Slot};
/// use vectorflow::prelude::*;
///
/// #[derive(Features)]
/// #[features(cross(origin, dest))]
/// struct Flight<'a> {
///     #[hash]
///     origin: &'a str,
///     #[hash]
///     dest: &'a str,
///     #[value]
///     distance: f32,
/// }
///
/// let row = Flight { origin: "EWR", dest: "IAH", distance: 1.4 };
/// let mut names = Vec::new();
/// row.visit_named(|f| names.push(format!("{}={}", f.name, f.value))).unwrap();
/// assert_eq!(names, ["origin=EWR=1", "dest=IAH=1", "distance=1.4", "origin×dest=EWR×IAH=1"]);
/// ```
pub trait Named: Features {
    /// Calls `f` for each feature, group by group: a group's sparse features in the order
    /// of [`SparseGroup::visit`], then its dense values (those of an absent `Option`
    /// field are left out). Slots, values and errors are the training visitors' own.
    fn visit_named<F: FnMut(NamedFeature<'_>)>(&self, f: F) -> Result<(), FeatureError>;
}

/// Appends `(id mod dim, value)` for each pair of `ids` and `values` to `out`, in one
/// reservation: the copy of a row held in arrays into a `Sparse<dim>` input. A `dim`
/// that is a power of two is reduced by a mask rather than a division, whether or not
/// it is known at compile time: a network built at run time would otherwise pay a
/// division per feature (6% of logistic regression's speed on the benchmark rows).
#[inline]
pub(crate) fn extend_slots(ids: &[u32], values: &[f32], dim: usize, out: &mut Vec<(u32, f32)>) {
    let pairs = ids.iter().zip(values.iter().copied());
    if dim.is_power_of_two() {
        let mask = dim - 1;
        out.extend(pairs.map(|(&id, v)| ((id as usize & mask) as u32, v)));
    } else {
        out.extend(pairs.map(|(&id, v)| ((id as usize % dim) as u32, v)));
    }
}

/// Types usable as a `#[label]`: booleans, integers (class indices) and floats.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a label",
    label = "a #[label] must be a bool, an integer or a float",
    note = "parse text labels into a number or a bool when reading the row"
)]
pub trait Label {
    /// The label as a float.
    fn to_f32(&self) -> f32;
}

/// Types usable as a `#[weight]`: floats and integers.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a row weight",
    label = "a #[weight] must be a float or an integer"
)]
pub trait Weight {
    /// The weight as a float.
    fn to_f32(&self) -> f32;
}

/// Types usable with `#[hash]`: a categorical value, hashed in a namespace.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be hashed as a category",
    label = "#[hash] takes text, integers, bools, chars or #[derive(Category)] enums",
    note = "use #[value] for a number whose size matters"
)]
pub trait Category {
    /// The value's id in the namespace with `seed`; `None` when absent.
    fn category(&self, seed: u32) -> Option<u32>;

    /// Writes the value as feature names show it (`carrier=UA`): only audits
    /// ([`crate::explain`]) call it. The default writes `?`; implement it to name the
    /// values of a type that implements `Category` by hand.
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("?")
    }
}

/// Types usable with `#[value]`: one slot whose value is the number.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a numeric feature",
    label = "#[value] takes a float, an integer or a bool",
    note = "use #[hash] for categories"
)]
pub trait Numeric {
    /// The value as a float; `None` when absent.
    fn numeric(&self) -> Option<f32>;
}

/// Types usable with `#[tokens]`: text (whitespace-separated tokens) or a list of
/// categories (multi-hot).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a bag of tokens",
    label = "#[tokens] takes text or a list of categories"
)]
pub trait Tokens {
    /// Calls `f(id)` for each token, hashed with `seed`.
    fn tokens<F: FnMut(u32)>(&self, seed: u32, f: F);

    /// The number of tokens [`Tokens::tokens`] calls `f` for: `#[tokens(mean)]` scales
    /// each token by its inverse. The default counts them with `tokens`.
    fn count(&self) -> usize {
        let mut n = 0;
        self.tokens(0, |_| n += 1);
        n
    }

    /// Calls `f(id, token)` for each token, with the ids of [`Tokens::tokens`] and the
    /// token as feature names show it: only audits ([`crate::explain`]) call it. The
    /// default names every token `?`.
    fn named_tokens<F: FnMut(u32, &dyn fmt::Display)>(&self, seed: u32, mut f: F) {
        self.tokens(seed, |id| f(id, &"?"))
    }
}

/// Types usable with `#[sparse]`: pre-indexed `(id, value)` pairs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a list of sparse features",
    label = "#[sparse] takes `[SparseF]`, `Vec<SparseF>`, `[(u32, f32)]` or `Vec<(u32, f32)>`"
)]
pub trait SparsePairs {
    /// Calls `f(id, value)` for each pair.
    fn pairs<F: FnMut(u32, f32)>(&self, f: F);
}

/// Types usable with `#[dense]`: fixed-width float arrays.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a dense feature of width {N}",
    label = "#[dense] takes `[f32; N]`, whose width is known at compile time"
)]
pub trait DenseValues<const N: usize> {
    /// The values; `None` when absent (they then count as zeros).
    fn dense_values(&self) -> Option<&[f32; N]>;
}

// ---- implementations for std types -------------------------------------------------

impl Category for str {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        Some(murmur3_32(self.as_bytes(), seed))
    }
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}
impl Category for String {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        self.as_str().category(seed)
    }
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}
/// Text that is borrowed when it can be and owned when it must (a JSON string with
/// escapes such as `"caf\u00e9"` has to be decoded into a new buffer): hashed as the
/// same text in a `&str` field. With serde, mark the field `#[serde(borrow)]`, or serde
/// copies every value.
impl Category for Cow<'_, str> {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        (**self).category(seed)
    }
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self)
    }
}
impl Category for bool {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        Some(murmur3_32(if *self { b"true" } else { b"false" }, seed))
    }
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl Category for char {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        let mut buf = [0u8; 4];
        Some(murmur3_32(self.encode_utf8(&mut buf).as_bytes(), seed))
    }
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl<T: Category + ?Sized> Category for &T {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        (**self).category(seed)
    }
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt_name(f)
    }
}
impl<T: Category> Category for Option<T> {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        self.as_ref().and_then(|v| v.category(seed))
    }
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Some(v) => v.fmt_name(f),
            None => f.write_str("None"),
        }
    }
}
impl<T: Category + ?Sized> Category for Box<T> {
    #[inline]
    fn category(&self, seed: u32) -> Option<u32> {
        (**self).category(seed)
    }
    fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt_name(f)
    }
}

macro_rules! int_impls {
    ($($t:ty),*) => {$(
        impl Category for $t {
            #[inline]
            fn category(&self, seed: u32) -> Option<u32> {
                Some(hash_i128(*self as i128, seed))
            }
            fn fmt_name(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
        impl Numeric for $t {
            #[inline]
            fn numeric(&self) -> Option<f32> {
                Some(*self as f32)
            }
        }
        impl Label for $t {
            #[inline]
            fn to_f32(&self) -> f32 {
                *self as f32
            }
        }
        impl Weight for $t {
            #[inline]
            fn to_f32(&self) -> f32 {
                *self as f32
            }
        }
    )*};
}
int_impls!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

macro_rules! float_impls {
    ($($t:ty),*) => {$(
        impl Numeric for $t {
            #[inline]
            fn numeric(&self) -> Option<f32> {
                Some(*self as f32)
            }
        }
        impl Label for $t {
            #[inline]
            fn to_f32(&self) -> f32 {
                *self as f32
            }
        }
        impl Weight for $t {
            #[inline]
            fn to_f32(&self) -> f32 {
                *self as f32
            }
        }
    )*};
}
float_impls!(f32, f64);

impl Numeric for bool {
    #[inline]
    fn numeric(&self) -> Option<f32> {
        Some(if *self { 1.0 } else { 0.0 })
    }
}
impl<T: Numeric> Numeric for Option<T> {
    #[inline]
    fn numeric(&self) -> Option<f32> {
        self.as_ref().and_then(Numeric::numeric)
    }
}
impl<T: Numeric + ?Sized> Numeric for &T {
    #[inline]
    fn numeric(&self) -> Option<f32> {
        (**self).numeric()
    }
}

impl Label for bool {
    #[inline]
    fn to_f32(&self) -> f32 {
        if *self {
            1.0
        } else {
            0.0
        }
    }
}
impl<T: Label + ?Sized> Label for &T {
    #[inline]
    fn to_f32(&self) -> f32 {
        (**self).to_f32()
    }
}
impl<T: Weight + ?Sized> Weight for &T {
    #[inline]
    fn to_f32(&self) -> f32 {
        (**self).to_f32()
    }
}

impl Tokens for str {
    #[inline]
    fn tokens<F: FnMut(u32)>(&self, seed: u32, mut f: F) {
        for t in self.split_ascii_whitespace() {
            f(murmur3_32(t.as_bytes(), seed));
        }
    }
    #[inline]
    fn count(&self) -> usize {
        self.split_ascii_whitespace().count()
    }
    fn named_tokens<F: FnMut(u32, &dyn fmt::Display)>(&self, seed: u32, mut f: F) {
        for t in self.split_ascii_whitespace() {
            f(murmur3_32(t.as_bytes(), seed), &t);
        }
    }
}
impl Tokens for String {
    #[inline]
    fn tokens<F: FnMut(u32)>(&self, seed: u32, f: F) {
        self.as_str().tokens(seed, f)
    }
    #[inline]
    fn count(&self) -> usize {
        self.as_str().count()
    }
    fn named_tokens<F: FnMut(u32, &dyn fmt::Display)>(&self, seed: u32, f: F) {
        self.as_str().named_tokens(seed, f)
    }
}
/// As [`Category`] for `Cow<str>`: tokenized as the same text in a `&str` field.
impl Tokens for Cow<'_, str> {
    #[inline]
    fn tokens<F: FnMut(u32)>(&self, seed: u32, f: F) {
        (**self).tokens(seed, f)
    }
    #[inline]
    fn count(&self) -> usize {
        (**self).count()
    }
    fn named_tokens<F: FnMut(u32, &dyn fmt::Display)>(&self, seed: u32, f: F) {
        (**self).named_tokens(seed, f)
    }
}
impl<T: Category> Tokens for [T] {
    #[inline]
    fn tokens<F: FnMut(u32)>(&self, seed: u32, mut f: F) {
        for v in self {
            if let Some(id) = v.category(seed) {
                f(id);
            }
        }
    }
    fn named_tokens<F: FnMut(u32, &dyn fmt::Display)>(&self, seed: u32, mut f: F) {
        for v in self {
            if let Some(id) = v.category(seed) {
                f(id, &fmt::from_fn(|f| v.fmt_name(f)));
            }
        }
    }
}
impl<T: Category> Tokens for Vec<T> {
    #[inline]
    fn tokens<F: FnMut(u32)>(&self, seed: u32, f: F) {
        self.as_slice().tokens(seed, f)
    }
    #[inline]
    fn count(&self) -> usize {
        self.as_slice().count()
    }
    fn named_tokens<F: FnMut(u32, &dyn fmt::Display)>(&self, seed: u32, f: F) {
        self.as_slice().named_tokens(seed, f)
    }
}
impl<T: Tokens + ?Sized> Tokens for &T {
    #[inline]
    fn tokens<F: FnMut(u32)>(&self, seed: u32, f: F) {
        (**self).tokens(seed, f)
    }
    #[inline]
    fn count(&self) -> usize {
        (**self).count()
    }
    fn named_tokens<F: FnMut(u32, &dyn fmt::Display)>(&self, seed: u32, f: F) {
        (**self).named_tokens(seed, f)
    }
}
impl<T: Tokens> Tokens for Option<T> {
    #[inline]
    fn tokens<F: FnMut(u32)>(&self, seed: u32, f: F) {
        if let Some(v) = self {
            v.tokens(seed, f)
        }
    }
    #[inline]
    fn count(&self) -> usize {
        self.as_ref().map_or(0, Tokens::count)
    }
    fn named_tokens<F: FnMut(u32, &dyn fmt::Display)>(&self, seed: u32, f: F) {
        if let Some(v) = self {
            v.named_tokens(seed, f)
        }
    }
}

impl SparsePairs for [SparseF] {
    #[inline]
    fn pairs<F: FnMut(u32, f32)>(&self, mut f: F) {
        for p in self {
            f(p.id, p.value);
        }
    }
}
impl SparsePairs for [(u32, f32)] {
    #[inline]
    fn pairs<F: FnMut(u32, f32)>(&self, mut f: F) {
        for &(id, v) in self {
            f(id, v);
        }
    }
}
impl SparsePairs for Vec<SparseF> {
    #[inline]
    fn pairs<F: FnMut(u32, f32)>(&self, f: F) {
        self.as_slice().pairs(f)
    }
}
impl SparsePairs for Vec<(u32, f32)> {
    #[inline]
    fn pairs<F: FnMut(u32, f32)>(&self, f: F) {
        self.as_slice().pairs(f)
    }
}
impl<T: SparsePairs + ?Sized> SparsePairs for &T {
    #[inline]
    fn pairs<F: FnMut(u32, f32)>(&self, f: F) {
        (**self).pairs(f)
    }
}
impl<T: SparsePairs> SparsePairs for Option<T> {
    #[inline]
    fn pairs<F: FnMut(u32, f32)>(&self, f: F) {
        if let Some(v) = self {
            v.pairs(f)
        }
    }
}

impl<const N: usize> DenseValues<N> for [f32; N] {
    #[inline]
    fn dense_values(&self) -> Option<&[f32; N]> {
        Some(self)
    }
}
impl<const N: usize, T: DenseValues<N> + ?Sized> DenseValues<N> for &T {
    #[inline]
    fn dense_values(&self) -> Option<&[f32; N]> {
        (**self).dense_values()
    }
}
impl<const N: usize, T: DenseValues<N>> DenseValues<N> for Option<T> {
    #[inline]
    fn dense_values(&self) -> Option<&[f32; N]> {
        self.as_ref().and_then(DenseValues::dense_values)
    }
}
