//! The struct of a row's `#[aux]` fields and the `AuxFields` impl that hands it to a
//! streamed loss: `struct PromoAux { duration: f32, .. }` for `Promo`, `()` when the row
//! has no `#[aux]` field.

use super::ast::{borrows, mentions, Field, Input, Kind};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::LitStr;

/// The fields marked `#[aux]` (first of their kinds), in declaration order; those whose
/// type borrows or uses the row's type parameters are left out (the check reports them).
fn aux_fields<'i, 'a>(input: &'i Input<'a>) -> Vec<&'i Field<'a>> {
    let params = input.type_params();
    input
        .fields
        .iter()
        .filter(|f| f.role().is_some_and(|r| r.kind == Kind::Aux))
        .filter(|f| !mentions(f.ty, &params) && !borrows(f.ty))
        .collect()
}

/// The aux struct (when the row has `#[aux]` fields) and `AuxFields` for the row.
pub fn expand(input: &Input) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let fields = aux_fields(input);
    if fields.is_empty() {
        return quote! {
            #[automatically_derived]
            impl #impl_generics ::vectorflow::features::AuxFields for #ident #ty_generics #where_clause {
                type Aux = ();
                #[inline]
                fn aux(&self) {}
            }
        };
    }
    let aux = format_ident!("{}Aux", ident.to_string().trim_start_matches("r#"));
    let vis = input.vis;
    let names: Vec<_> = fields.iter().map(|f| f.ident).collect();
    let tys: Vec<_> = fields.iter().map(|f| f.ty).collect();
    let viss: Vec<_> = fields.iter().map(|f| f.vis).collect();
    let texts: Vec<_> = fields
        .iter()
        .map(|f| LitStr::new(&f.name, f.ident.span()))
        .collect();
    let doc = format!(
        "The `#[aux]` fields of [`{ident}`]: what a loss trained from a stream of them \
         receives beside label and weight (`StreamRow<{aux}>`)."
    );
    let layout = format!(
        "{aux} {{{{ {} }}}}",
        vec!["{}: {}"; fields.len()].join(", ")
    );
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug, ::core::cmp::PartialEq)]
        #vis struct #aux {
            #(
                #[allow(missing_docs)]
                #viss #names: #tys,
            )*
        }

        #[automatically_derived]
        impl ::vectorflow::features::AuxValue for #aux {
            const BYTES: usize = 0 #( + <#tys as ::vectorflow::features::AuxValue>::BYTES )*;
            fn layout() -> ::std::string::String {
                ::std::format!(
                    #layout,
                    #( #texts, <#tys as ::vectorflow::features::AuxValue>::layout() ),*
                )
            }
            #[inline]
            fn put(&self, __vf_out: &mut ::std::vec::Vec<u8>) {
                #( <#tys as ::vectorflow::features::AuxValue>::put(&self.#names, __vf_out); )*
            }
            #[inline]
            fn get(__vf_bytes: &[u8]) -> Self {
                let mut __vf_at = 0usize;
                #aux {
                    #(
                        #names: {
                            let __vf_rest = __vf_bytes.get(__vf_at..).unwrap_or(&[]);
                            __vf_at += <#tys as ::vectorflow::features::AuxValue>::BYTES;
                            <#tys as ::vectorflow::features::AuxValue>::get(__vf_rest)
                        },
                    )*
                }
            }
        }

        #[automatically_derived]
        impl #impl_generics ::vectorflow::features::AuxFields for #ident #ty_generics #where_clause {
            type Aux = #aux;
            #[inline]
            fn aux(&self) -> #aux {
                // `clone` rather than a copy: a field that is not `Copy` is reported
                // once, at its type, not again here.
                #aux { #( #names: ::core::clone::Clone::clone(&self.#names) ),* }
            }
        }
    }
}
