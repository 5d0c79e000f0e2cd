//! `network![...]`: parse the inputs and layers ([`parse`]), resolve every layer through
//! one table ([`table`]) and check every width ([`check`]), expand to a `Net` type ([`expand`]).

mod check;
mod expand;
mod parse;
mod table;

use parse::{Arg, Layer, Width};
use proc_macro2::TokenStream;
use quote::quote;
use syn::Error;

pub fn expand(input: TokenStream) -> TokenStream {
    let spec = match syn::parse2::<parse::Spec>(input) {
        Ok(spec) => spec,
        Err(e) => return fallback(e, None),
    };
    let out = output_width(&spec);
    match check::check(spec) {
        Ok(net) => expand::expand(&net),
        Err(e) => fallback(e, out),
    }
}

/// The errors, and a network type that stands in for the one the macro could not build,
/// the way serde_derive emits a stand-in impl: its `OUT` outputs are the output width of
/// the last layer that sets one, when known, so `new`, `predict` and `fit` on the model
/// add no second error. The errors sit in an array length, the one place in a type a
/// `compile_error!` fits.
fn fallback(e: Error, out: Option<TokenStream>) -> TokenStream {
    let errors = e.to_compile_error();
    let out = out.unwrap_or_else(|| quote!(1usize));
    quote! {
        <[(); { #errors 0 }] as ::vectorflow::__private::Checked<
            ::vectorflow::Net<::vectorflow::__private::Fallback<#out>, ::vectorflow::network::End<#out>>,
        >>::Net
    }
}

/// The network's output width, if its last layer that sets a width (a `Linear`, or a
/// user layer) states a usable one.
fn output_width(spec: &parse::Spec) -> Option<TokenStream> {
    let last = spec.layers.iter().rev().find(|l| match l {
        Layer::Builtin(item) => item.name == "Linear",
        // A typo (`Relu`) names no type: pass over it.
        Layer::User(path) => table::near_miss(path).is_none(),
        Layer::Act { .. } => false,
    })?;
    let item = match last {
        Layer::Builtin(item) => item,
        Layer::User(path) => {
            return Some(
                quote!({ <<#path as ::vectorflow::layers::Layer>::Out as ::vectorflow::layers::Buf>::WIDTH }),
            );
        }
        Layer::Act { .. } => return None,
    };
    let w = item.args.iter().rev().find_map(|a| match a {
        Arg::Expr(e) => Some(Width::from_expr(e)),
        _ => None,
    })?;
    match w.value {
        Some(v) if (1..=u32::MAX as u128).contains(&v) => Some(w.tokens()),
        Some(_) => None,
        None => Some(w.tokens()),
    }
}
