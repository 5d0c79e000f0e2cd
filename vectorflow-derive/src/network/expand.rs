//! The tokens of a checked `network!`: a `Net` type, wrapped in the compile-time checks
//! the macro could not decide itself.

use super::check::{ActFn, Check, Kind, Net};
use proc_macro2::{Ident, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

pub fn expand(net: &Net) -> TokenStream {
    let vf = quote!(::vectorflow);
    let roots = net.roots.iter().rev().fold(quote!(()), |rest, r| {
        let w = r.width.tokens();
        let g = r.group.as_ref().map(|g| g.to_string()).unwrap_or_default();
        let kind = if r.dense {
            quote!(Dense)
        } else {
            quote!(Sparse)
        };
        quote!((#vf::layers::#kind<#w, { #vf::features::group_id(#g) }>, #rest))
    });
    let (out, bias) = &net.input;
    let o = out.tokens();
    let input = quote!(#vf::layers::Input<#roots, #o, #bias>);
    let end = net.out.tokens();
    let stack = net
        .stack
        .iter()
        .rev()
        .fold(quote!(#vf::network::End<#end>), |rest, layer| {
            let (i, o) = (layer.input.tokens(), layer.out.tokens());
            let ty = match &layer.kind {
                Kind::Linear { bias } => quote!(#vf::layers::Linear<#i, #o, #bias>),
                Kind::Act(ActFn::Builtin(f, span)) => {
                    let f = Ident::new(f, *span);
                    quote!(#vf::layers::Act<#vf::layers::#f, #i>)
                }
                Kind::Act(ActFn::User(f)) => quote!(#vf::layers::Act<#f, #i>),
                Kind::Dropout { ppm } => quote!(#vf::layers::Dropout<#i, #ppm>),
                Kind::User(path) => quote!(#path),
            };
            quote!(#vf::network::Seq<#ty, #rest>)
        });
    let net_ty = quote!(#vf::Net<#input, #stack>);
    if net.checks.is_empty() {
        return net_ty;
    }
    let checks = net.checks.iter().map(check);
    quote!(<[(); { #(#checks)* 0 }] as #vf::__private::Checked<#net_ty>>::Net)
}

/// A const call that compiles only when the rule holds. Every token is spanned at the
/// user's own, so the compiler's message points there.
fn check(c: &Check) -> TokenStream {
    match c {
        Check::SparseDim(w) => {
            let t = w.tokens();
            quote_spanned!(w.span=> ::vectorflow::__private::check_sparse_dim::<#t>();)
        }
        Check::Written { written, prev } => {
            let (e, p) = (written.tokens(), prev.tokens());
            quote_spanned!(written.span=> ::vectorflow::__private::same_width::<#e, #p>();)
        }
        Check::LayerIn { layer, prev } => {
            let p = prev.tokens();
            quote_spanned!(layer.span()=> ::vectorflow::__private::layer_takes::<#layer, { <<#layer as ::vectorflow::layers::Layer>::In as ::vectorflow::layers::Buf>::WIDTH }, #p>();)
        }
        Check::Activation(f) => {
            quote_spanned!(f.span()=> ::vectorflow::__private::activation::<#f>();)
        }
    }
}
