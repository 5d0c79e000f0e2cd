//! Code generation for a checked row: `Features`, `Labeled`, and one `SparseGroup` /
//! `DenseGroup` impl per feature group.
//!
//! Field accesses go through `<FieldType as Trait>::method(&self.field, ..)`, whose type
//! tokens carry the user's spans, so a field type lacking the trait is reported at the
//! field's type with the trait's `#[diagnostic::on_unimplemented]` message.

use super::ast::{dense_width, mentions, Field, Input, Kind, SPARSE};
use super::spec;
use super::visit::{self, Sink};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{LitStr, WherePredicate};

pub fn expand(input: &Input) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let params = input.type_params();

    // Bounds for fields whose type mentions a type parameter, e.g. `T: Category` for
    // `#[hash] x: T`; other fields are checked in the method bodies, at their types.
    let bound = |fields: &mut dyn Iterator<Item = &Field>| -> Vec<WherePredicate> {
        fields
            .filter(|f| mentions(f.ty, &params))
            .filter_map(|f| {
                let ty = f.ty;
                let tr = kind_trait(f)?;
                Some(syn::parse_quote!(#ty: #tr))
            })
            .collect()
    };
    let with_kinds = |kinds: &[Kind]| {
        let mut g = input.generics.clone();
        let preds = bound(&mut input.fields.iter().filter(|f| {
            f.role()
                .is_some_and(|r| r.kind == Kind::Weight || kinds.contains(&r.kind))
        }));
        g.make_where_clause().predicates.extend(preds);
        g.where_clause.clone()
    };

    let mut out = TokenStream::new();
    out.extend(row_type(input));

    // Features: the weight.
    let where_features = with_kinds(&[]);
    let spec = spec::expand(input);
    let weight = input.find(Kind::Weight).map(|f| {
        let (ty, member) = (f.ty, f.ident);
        let name = LitStr::new(&f.name, f.ident.span());
        quote! {
            const WEIGHT_FIELD: &'static str = #name;
            #[inline]
            fn weight(&self) -> f32 {
                <#ty as ::vectorflow::features::Weight>::to_f32(&self.#member)
            }
        }
    });
    out.extend(quote! {
        impl #impl_generics ::vectorflow::features::Features for #ident #ty_generics #where_features {
            #spec
            #weight
        }
    });

    // Labeled.
    if let Some(f) = input.find(Kind::Label) {
        let (ty, member) = (f.ty, f.ident);
        let name = LitStr::new(&f.name, f.ident.span());
        let where_label = with_kinds(&[Kind::Label]);
        out.extend(quote! {
            impl #impl_generics ::vectorflow::features::Labeled for #ident #ty_generics #where_label {
                const LABEL_FIELD: &'static str = #name;
                #[inline]
                fn label(&self) -> f32 {
                    <#ty as ::vectorflow::features::Label>::to_f32(&self.#member)
                }
            }
        });
    }

    for g in &input.groups() {
        let group_lit = LitStr::new(g, Span::call_site());
        let group = quote!({ ::vectorflow::features::group_id(#group_lit) });

        let sparse: Vec<&Field> = input
            .fields
            .iter()
            .filter(|f| f.in_group(g, &SPARSE))
            .collect();
        let root_crosses: Vec<_> = input
            .root_crosses
            .iter()
            .filter_map(|rc| input.resolve(rc).ok())
            .filter(|r| r.group == *g)
            .collect();
        if !sparse.is_empty() || !root_crosses.is_empty() {
            let mut g2 = input.generics.clone();
            let mut preds = bound(
                &mut input
                    .fields
                    .iter()
                    .filter(|f| f.role().is_some_and(|r| r.kind == Kind::Weight)),
            );
            preds.extend(bound(&mut sparse.iter().copied()));
            // A root cross may read fields of other groups.
            let mut crossed: Vec<&Field> = Vec::new();
            for f in root_crosses.iter().flat_map(|r| r.sides.iter().flatten()) {
                if !sparse.iter().chain(&crossed).any(|s| s.ident == f.ident) {
                    crossed.push(f);
                }
            }
            preds.extend(bound(&mut crossed.into_iter()));
            g2.make_where_clause().predicates.extend(preds);
            let where_sparse = &g2.where_clause;
            let visits = visit::group(input, g, &Sink::Ids);
            out.extend(quote! {
                impl #impl_generics ::vectorflow::features::SparseGroup<#group> for #ident #ty_generics #where_sparse {
                    #[inline]
                    fn visit<__VfF: ::core::ops::FnMut(u32, f32)>(
                        &self,
                        mut __vf_f: __VfF,
                    ) -> ::core::result::Result<(), ::vectorflow::features::FeatureError> {
                        #visits
                        ::core::result::Result::Ok(())
                    }
                }
            });
        }

        let dense: Vec<&Field> = input
            .fields
            .iter()
            .filter(|f| f.in_group(g, &[Kind::Dense]))
            .collect();
        if !dense.is_empty() {
            let widths: Vec<_> = dense
                .iter()
                .map(|f| dense_width(f.ty).expect("checked"))
                .collect();
            let width = if widths.len() == 1 {
                let w = widths[0];
                quote!({ #w })
            } else {
                quote!({ #( (#widths) )+* })
            };
            let mut g2 = input.generics.clone();
            let mut preds = bound(
                &mut input
                    .fields
                    .iter()
                    .filter(|f| f.role().is_some_and(|r| r.kind == Kind::Weight)),
            );
            preds.extend(bound(&mut dense.iter().copied()));
            g2.make_where_clause().predicates.extend(preds);
            let where_dense = &g2.where_clause;
            let parts = dense.iter().zip(&widths).map(|(f, w)| {
                let (ty, member) = (f.ty, f.ident);
                let name = LitStr::new(&f.name, f.ident.span());
                quote! {
                    let (__vf_part, __vf_rest) = __vf_rest.split_at_mut(#w);
                    match <#ty as ::vectorflow::features::DenseValues<{ #w }>>::dense_values(&self.#member) {
                        ::core::option::Option::Some(__vf_v) => {
                            for (__vf_o, &__vf_x) in __vf_part.iter_mut().zip(__vf_v.iter()) {
                                *__vf_o = ::vectorflow::__private::finite(#name, __vf_x)?;
                            }
                        }
                        ::core::option::Option::None => __vf_part.fill(0.0),
                    }
                }
            });
            out.extend(quote! {
                impl #impl_generics ::vectorflow::features::DenseGroup<#group, #width> for #ident #ty_generics #where_dense {
                    #[inline]
                    fn dense(
                        &self,
                        __vf_out: &mut [f32; #width],
                    ) -> ::core::result::Result<(), ::vectorflow::features::FeatureError> {
                        let __vf_rest: &mut [f32] = __vf_out;
                        #(#parts)*
                        let _ = __vf_rest;
                        ::core::result::Result::Ok(())
                    }
                }
            });
        }
    }
    out
}

/// `RowType` for a row with no generics or one lifetime and nothing else: the name
/// streaming readers use for "this row, borrowing from any buffer".
fn row_type(input: &Input) -> TokenStream {
    let ident = input.ident;
    let g = input.generics;
    let lifetimes: Vec<_> = g.lifetimes().collect();
    if g.type_params().next().is_some() || g.const_params().next().is_some() {
        return TokenStream::new();
    }
    match lifetimes.as_slice() {
        [] => quote! {
            #[automatically_derived]
            impl ::vectorflow::features::RowType for #ident {
                type Row<'__vf> = #ident;
            }
        },
        [_] => quote! {
            #[automatically_derived]
            impl ::vectorflow::features::RowType for #ident<'static> {
                type Row<'__vf> = #ident<'__vf>;
            }
        },
        _ => TokenStream::new(),
    }
}

/// The impls that stand in for the real ones when the input has errors, so that uses of
/// the row elsewhere (`predict`, `fit`) do not pile further errors on top: `Features`
/// always, and when the fields parsed, `Labeled` and the group impls their attributes
/// ask for, with `unreachable!()` bodies (the crate does not compile, so none runs).
pub fn fallback(input: &syn::DeriveInput, parsed: Option<&Input>) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let mut out = quote! {
        #[automatically_derived]
        impl #impl_generics ::vectorflow::features::Features for #ident #ty_generics #where_clause {}
    };
    let Some(parsed) = parsed else { return out };
    // Every role written, even on a field with two (one of the errors).
    let roles = || {
        parsed
            .fields
            .iter()
            .flat_map(|f| f.roles.iter().map(move |r| (f, r)))
    };
    if let Some((f, _)) = roles().find(|(_, r)| r.kind == Kind::Label) {
        let name = LitStr::new(&f.name, f.ident.span());
        out.extend(quote! {
            #[automatically_derived]
            impl #impl_generics ::vectorflow::features::Labeled for #ident #ty_generics #where_clause {
                const LABEL_FIELD: &'static str = #name;
                fn label(&self) -> f32 {
                    ::core::unreachable!()
                }
            }
        });
    }
    let (mut sparse, mut dense): (Vec<String>, Vec<(String, Vec<&syn::Expr>)>) = (vec![], vec![]);
    for (f, r) in roles() {
        let g = r.group();
        match r.kind {
            Kind::Hash | Kind::Value | Kind::Tokens | Kind::Sparse if !sparse.contains(&g) => {
                sparse.push(g)
            }
            Kind::Dense => {
                let i = dense.iter().position(|(d, _)| *d == g).unwrap_or_else(|| {
                    dense.push((g, vec![]));
                    dense.len() - 1
                });
                if let Some(w) = dense_width(f.ty) {
                    dense[i].1.push(w);
                }
            }
            _ => {}
        }
    }
    for rc in &parsed.root_crosses {
        let g = parsed.group_guess(rc);
        if !sparse.contains(&g) {
            sparse.push(g);
        }
    }
    for g in sparse {
        let g = LitStr::new(&g, Span::call_site());
        out.extend(quote! {
            #[automatically_derived]
            impl #impl_generics ::vectorflow::features::SparseGroup<{ ::vectorflow::features::group_id(#g) }>
                for #ident #ty_generics #where_clause
            {
                fn visit<__VfF: ::core::ops::FnMut(u32, f32)>(
                    &self,
                    _: __VfF,
                ) -> ::core::result::Result<(), ::vectorflow::features::FeatureError> {
                    ::core::unreachable!()
                }
            }
        });
    }
    for (g, widths) in dense.into_iter().filter(|(_, w)| !w.is_empty()) {
        let g = LitStr::new(&g, Span::call_site());
        out.extend(quote! {
            #[automatically_derived]
            impl #impl_generics ::vectorflow::features::DenseGroup<
                { ::vectorflow::features::group_id(#g) },
                { #( (#widths) )+* },
            > for #ident #ty_generics #where_clause
            {
                fn dense(
                    &self,
                    _: &mut [f32; #( (#widths) )+*],
                ) -> ::core::result::Result<(), ::vectorflow::features::FeatureError> {
                    ::core::unreachable!()
                }
            }
        });
    }
    out
}

pub(super) fn kind_trait(f: &Field) -> Option<TokenStream> {
    Some(match f.role()?.kind {
        Kind::Label => quote!(::vectorflow::features::Label),
        Kind::Weight => quote!(::vectorflow::features::Weight),
        Kind::Hash => quote!(::vectorflow::features::Category),
        Kind::Value => quote!(::vectorflow::features::Numeric),
        Kind::Tokens => quote!(::vectorflow::features::Tokens),
        Kind::Sparse => quote!(::vectorflow::features::SparsePairs),
        Kind::Dense => {
            let w = dense_width(f.ty)?;
            quote!(::vectorflow::features::DenseValues<{ #w }>)
        }
        Kind::Aux => quote!(::vectorflow::features::AuxValue),
        Kind::Skip => return None,
    })
}
