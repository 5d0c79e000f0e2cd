//! What the macros' expansions name, and the hooks the crate's fuzz targets call: not
//! part of the API, so it may change in any release. It is public only because the code
//! `network!` and `#[derive(Features)]` emit, and the fuzz crate, live outside this crate
//! (as serde's `__private`).
//!
//! The width checks `network!` emits and the derive's `finite` are defined here; the
//! roots' machinery and the stand-in layer are re-exported from `layers`, and the fuzz
//! hook calls into the trainer.

use crate::features::{Category, FeatureError};
use crate::layers::Activation;

pub use crate::layers::fallback::Fallback;
pub use crate::layers::input::{
    check_sparse_dim, InputLayout, Root, RootCompute, RootFeed, RootLayout, Roots, RootsCompute,
    RootsFeed,
};

/// Checks that `value` is finite, naming `field` if not: what `#[derive(Features)]`
/// calls on every `#[value]`, `#[dense]` and crossed value.
#[inline(always)]
pub fn finite(field: &'static str, value: f32) -> Result<f32, FeatureError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(FeatureError { field, value })
    }
}

/// `value` as a `&dyn Category`, for the crosses `#[derive(Features)]` emits
/// ([`cross_id`](crate::features::cross_id)): named with the field's type, so a type
/// that is no category is reported at the field.
#[inline(always)]
pub fn category<T: Category>(value: &T) -> &dyn Category {
    value
}

/// Decodes `raw` as a block of `rows` rows of the binary row cache and checks that it
/// re-encodes to the same rows; panics when the round trip fails. The fuzz target
/// `fuzz/fuzz_targets/cache.rs` calls it.
pub fn fuzz_cache_block(raw: &[u8], rows: usize) {
    crate::train::fuzz_cache_block(raw, rows)
}

/// A width as a type, so `network!` can check that two widths it cannot evaluate itself
/// (named constants) agree, through [`SameWidth`].
pub struct Width<const N: usize>;

/// Implemented only when a width written in `network!` equals the width the layer before
/// it outputs; `network!` emits a [`same_width`] call for each width it cannot evaluate.
#[diagnostic::on_unimplemented(
    message = "this layer takes an input of width {WRITTEN}, but the layer before it outputs width {PREV}",
    label = "this width is {WRITTEN}, the previous layer outputs {PREV}",
    note = "a layer's input width is the previous layer's output width; write {PREV} here, or leave the input width out and `network!` infers it"
)]
pub trait SameWidth<const WRITTEN: usize, const PREV: usize> {}

impl<const N: usize> SameWidth<N, N> for Width<N> {}

/// Compiles only when `WRITTEN == PREV` (see [`SameWidth`]).
pub const fn same_width<const WRITTEN: usize, const PREV: usize>()
where
    Width<WRITTEN>: SameWidth<WRITTEN, PREV>,
{
}

/// Implemented only when a user layer `L`'s input width `IN` (its `Layer::In`) equals the
/// width `PREV` the layer before it outputs; `network!` emits a [`layer_takes`] call for
/// each user layer.
#[diagnostic::on_unimplemented(
    message = "the layer `{L}` takes an input of width {IN}, but the layer before it outputs width {PREV}",
    label = "this layer's `Layer::In` is [f32; {IN}], the previous layer outputs {PREV}",
    note = "a layer's input width is the previous layer's output width: make the layer before it output {IN}, or give this one an input of width {PREV}"
)]
pub trait LayerTakes<L, const IN: usize, const PREV: usize> {}

impl<L, const N: usize> LayerTakes<L, N, N> for Width<N> {}

/// Compiles only when the user layer `L` takes width `PREV` (see [`LayerTakes`]).
pub const fn layer_takes<L, const IN: usize, const PREV: usize>()
where
    Width<IN>: LayerTakes<L, IN, PREV>,
{
}

/// Compiles only when `F` implements [`Activation`], the type `Act<F>` applies.
pub const fn activation<F: Activation>() {}

/// Carries a network type through the width checks `network!` emits.
pub trait Checked<T> {
    /// The network type.
    type Net;
}

impl<T, const N: usize> Checked<T> for [(); N] {
    type Net = T;
}
