//! Procedural macros of vectorflow: `#[derive(Features)]`, `#[derive(Category)]` and
//! `network!`. Use them through `vectorflow`, which re-exports them.
//!
//! Each macro parses its input into a typed description, validates it in a separate
//! pass, then expands; every mistake becomes a `syn::Error` spanned at the user's token.

use proc_macro::TokenStream;

mod category;
mod features;
mod network;

/// Derives `vectorflow::Features` (and the group traits) for a row struct.
#[proc_macro_derive(
    Features,
    attributes(label, weight, hash, value, tokens, sparse, dense, features, skip)
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
#[proc_macro]
pub fn network(input: TokenStream) -> TokenStream {
    network::expand(input.into()).into()
}
