//! Procedural macros of vectorflow: `#[derive(Features)]`, `#[derive(Category)]` and
//! `network!`. Use them through `vectorflow`, which re-exports them.
//!
//! Each macro parses its input into a typed description, validates it in a separate
//! pass, then expands; every mistake becomes a `syn::Error` spanned at the user's token.

#![warn(missing_docs)]

use proc_macro::TokenStream;

mod category;
mod features;
mod network;

/// Derives `vectorflow::Features` (and the group traits) for a row struct.
///
/// ```ignore
/// use vectorflow::prelude::*;
///
/// #[derive(Category, serde::Deserialize)]
/// enum Cabin { Economy, Business }
///
/// #[derive(Features, serde::Deserialize)]
/// #[features(cross(origin, dest), cross(carrier, hour, namespace = "carrier_hour"))]
/// struct Flight<'a> {
///     #[label] delayed: bool,
///     #[weight] w: f32,
///     #[hash] carrier: &'a str,                 // one id: murmur3("UA", seed("carrier"))
///     #[hash(namespace = "airport")] origin: &'a str,
///     #[hash(namespace = "airport")] dest: &'a str,
///     #[hash] hour: Option<u8>,                 // integers hash like their text; None: nothing
///     #[hash(root = "user")] cabin: Cabin,      // feature group "user"
///     #[value] distance: f32,                   // slot_id("distance") with value = distance
///     #[tokens] remarks: &'a str,               // one id per whitespace-separated word
///     #[sparse] extra: Vec<(u32, f32)>,         // pre-indexed pairs, passed through
///     #[dense(root = "ctx")] ctx: [f32; 3],     // DenseGroup<group_id("ctx"), 3>
///     #[aux] taxi_minutes: f32,                 // FlightAux { taxi_minutes }, for a streamed loss
///     #[skip] note: String,                     // unmarked fields are ignored too
/// }
/// ```
///
/// # Field attributes
///
/// | attribute | field types | produces |
/// |---|---|---|
/// | `#[label]` | bool, integers (class index), floats | `Labeled` (at most one) |
/// | `#[weight]` | floats, integers | `Features::weight` (at most one; default 1) |
/// | `#[hash]` | `&str`, `Cow<str>`, `String`, integers, bool, char, `#[derive(Category)]` enums, `Option` of these | one id `Category::category(&f, namespace_seed(ns))`, value 1 |
/// | `#[value]` | floats, integers, bool, `Option` of these | id `slot_id(ns)`, value = the field (must be finite) |
/// | `#[tokens]` | text (split on whitespace), `Vec`/slices of categories | one id per token, value 1 (`#[tokens(mean)]`: 1/len, fastText's average bag) |
/// | `#[sparse]` | `[SparseF]`, `[(u32, f32)]`, `Vec`s of these, `Option` | the pairs unchanged (values must be finite) |
/// | `#[dense]` | `[f32; N]`, `&[f32; N]`, `Option<[f32; N]>` (None = zeros) | the group's dense values, fields in order |
/// | `#[aux]` | numbers, bool, arrays of these (`Copy`, no generics) | a field of the struct `{Row}Aux` that a loss trained from a stream reads as `StreamRow::aux` |
/// | `#[skip]`, none | anything | nothing |
///
/// Text that may hold escapes (JSON's `"caf\u00e9"`, `"a\"b"`) is a `Cow<'a, str>` marked
/// `#[serde(borrow)]`: it borrows text without escapes and decodes the rest into its own
/// string, and `#[hash]` and `#[tokens]` give it the ids of the same text in a `&str`.
///
/// `#[aux]` fields are gathered into a `Copy` struct named after the row (`FlightAux`
/// for `Flight`, with the row's visibility; `()` when there are none), which
/// `vectorflow::features::AuxFields` hands out: training from a stream keeps it beside
/// each hashed row (and in the binary cache), and a closure loss reads it as
/// `StreamRow::aux`, as in `|out: &[f32; 1], r: &StreamRow<FlightAux>, grad: &mut [f32; 1]|`.
///
/// `#[hash]`, `#[value]` and `#[tokens]` take `namespace = "name"` (default: the field's
/// name; fields sharing a namespace share ids). All feature kinds take `root = "name"`,
/// which puts the field in the feature group `name` (default: the group `""`); a network
/// input named `name` reads it. Each group with hashed, value, token, sparse or cross
/// features gets `SparseGroup<{ group_id("name") }>`; each group with dense fields gets
/// `DenseGroup<{ group_id("name") }, {N1 + N2 + ...}>`.
///
/// # Struct attribute
///
/// `#[features(cross(a, b), cross(a, b, c, namespace = "name"))]`: hashed interactions of
/// `#[hash]` fields of one group. The id chains the fields' hashes:
/// `h = category(a, namespace_seed("a^b^c")); h = category(b, h); h = category(c, h)`;
/// a cross with an absent (`None`) field contributes nothing. (Clippy's
/// `duplicated_attributes` lint misreads a field named in two crosses as a repeated
/// attribute, rust-clippy#12923; allow it on the struct.)
///
/// `#[features(cross_roots(user, item))]`: every sparse feature of one root (`root =
/// "user"`) or namespace crossed with every one of another, as Vowpal Wabbit's `-q`. A
/// name is a root if some field has that `root`, else a namespace. Each pair of fields
/// `a`, `b` crosses like `cross(a, b)`, so two `#[hash]` fields get the ids of `cross(a,
/// b)`; a token crosses like a category, a `#[value]` field like the empty string, a
/// `#[sparse]` pair like its id as an integer, and the value is the product of the two.
/// The crossed features feed the group both sides are in, else the default group, or
/// `root = "name"` given in the cross: `cross_roots(user, item, root = "pairs")`. A visit
/// costs O(|user|·|item|) and allocates nothing. Crossing a root with itself, or sides
/// sharing a field, is an error.
///
/// Mistakes (a second label, two kinds on one field, `#[hash]` on a float, `#[dense]` on
/// a `Vec`, a cross of a missing or non-`#[hash]` field, unknown keys, ...) are compile
/// errors at the offending token; field types lacking the kind's trait are reported at
/// the field's type.
#[proc_macro_derive(
    Features,
    attributes(label, weight, hash, value, tokens, sparse, dense, aux, features, skip)
)]
pub fn derive_features(input: TokenStream) -> TokenStream {
    features::expand(input.into()).into()
}

/// Derives `vectorflow::features::Category` for a fieldless enum: each variant hashes
/// like its name.
#[proc_macro_derive(Category)]
pub fn derive_category(input: TokenStream) -> TokenStream {
    category::expand(input.into()).into()
}

/// Builds a network type: `network![Sparse<{1 << 20}> => Linear<16> => ReLU => Linear<1>]`.
///
/// Inputs (`Sparse<DIM>`, `Dense<N>`, optionally `group: ...`) come first, separated by
/// commas; then `=>`-separated layers, the first a `Linear`. Built-in layers: `Linear<OUT>`
/// (`Linear<IN, OUT>`, `bias = false`), `ReLU`, `TanH`, `Sigmoid`, `SeLU` (each with an
/// optional input width, `ReLU<16>`), `Dropout<RATE>`. `Act<F>` applies a user's
/// `vectorflow::layers::Activation` `F`; any other path is a user type implementing
/// `vectorflow::layers::Layer`. Every layer's input width is checked against the previous
/// layer's output: by the macro when both are literals, else by a compile-time check whose
/// error points at the user's token.
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    network::expand(input.into()).into()
}
