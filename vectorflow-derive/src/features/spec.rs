//! `Features::SPEC`: a fingerprint of everything in a row type that decides its hashed
//! rows, so that a binary cache built for one version of the type is rebuilt for
//! another.
//!
//! The fingerprint is FNV-1a (`vectorflow::features::group_id`, evaluated at compile
//! time) of a canonical text: one line per marked field (its kind, arguments, name and
//! type as tokens) in declaration order, one per `#[serde(..)]` attribute of a field or
//! of the struct (a renamed column, a default or a `deserialize_with` feeds a feature
//! other data), then one per `cross` and `cross_roots`. The text is built from the
//! parsed attributes and tokens, not from the source's spelling, so formatting and
//! comments do not change it, and it is the same on every platform.
//!
//! What lies outside the struct is not seen: a `#[derive(Category)]` enum's variant
//! names, and hand-written `Category` or `Tokens` impls. Changing those means removing
//! the cache by hand, as the `Features` docs say.

use super::ast::{Field, Input, Role};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::LitStr;

/// The `const SPEC` item of the `Features` impl.
pub fn expand(input: &Input) -> TokenStream {
    let text = LitStr::new(&text(input), Span::call_site());
    quote! {
        const SPEC: u64 = ::vectorflow::features::group_id(#text);
    }
}

/// The canonical text of the row type's feature spec.
fn text(input: &Input) -> String {
    let mut out = String::new();
    for f in &input.fields {
        for role in &f.roles {
            out += &field_line(f, role);
            out.push('\n');
        }
        for attr in serde_attrs(f.attrs) {
            out += &format!("serde {:?}: {attr}\n", f.name);
        }
    }
    for attr in serde_attrs(input.attrs) {
        out += &format!("serde: {attr}\n");
    }
    for c in &input.crosses {
        let fields: Vec<String> = c.fields.iter().map(|f| f.to_string()).collect();
        out += &format!("cross({}) {:?}\n", fields.join(","), c.namespace_name());
    }
    for c in &input.root_crosses {
        let sides: Vec<String> = c.sides.iter().map(|s| s.to_string()).collect();
        let root = c.root.as_ref().map(LitStr::value);
        out += &format!("cross_roots({}) root={root:?}\n", sides.join(","));
    }
    out
}

/// `kind(namespace=..,root=..,mean) name: type`, strings quoted so no choice of names
/// makes two specs' texts equal.
fn field_line(f: &Field, role: &Role) -> String {
    let namespace = role.namespace.as_ref().map(LitStr::value);
    let root = role.root.as_ref().map(LitStr::value);
    format!(
        "{}(namespace={namespace:?},root={root:?},mean={}) {:?}: {}",
        role.kind.name(),
        role.mean.is_some(),
        f.name,
        f.ty.to_token_stream()
    )
}

/// The `#[serde(..)]` attributes among `attrs`, each as its tokens' text.
fn serde_attrs(attrs: &[syn::Attribute]) -> impl Iterator<Item = String> + '_ {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("serde"))
        .map(|a| a.meta.to_token_stream().to_string())
}
