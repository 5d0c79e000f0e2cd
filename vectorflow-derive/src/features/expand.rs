//! Code generation for a checked row: `Features`, `Labeled`, and one `SparseGroup` /
//! `DenseGroup` impl per feature group.
//!
//! Field accesses go through `<FieldType as Trait>::method(&self.field, ..)`, whose type
//! tokens carry the user's spans, so a field type lacking the trait is reported at the
//! field's type with the trait's `#[diagnostic::on_unimplemented]` message.

use super::ast::{Cross, Field, Input, Kind};
use super::check::dense_width;
use super::root_cross;
use super::spec;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::{Ident, LitStr, WherePredicate};

pub fn expand(input: &Input) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let params: Vec<&Ident> = input.generics.type_params().map(|p| &p.ident).collect();

    // Bounds for fields whose type mentions a type parameter, e.g. `T: Category` for
    // `#[hash] x: T`; other fields are checked in the method bodies, at their types.
    let bound = |fields: &mut dyn Iterator<Item = &Field>| -> Vec<WherePredicate> {
        fields
            .filter(|f| mentions(f.ty.to_token_stream(), &params))
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
    let weight = find(input, Kind::Weight).map(|f| {
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
    if let Some(f) = find(input, Kind::Label) {
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

    for g in &groups(input) {
        let group_lit = LitStr::new(g, Span::call_site());
        let group = quote!({ ::vectorflow::features::group_id(#group_lit) });

        let sparse_kinds = [Kind::Hash, Kind::Value, Kind::Tokens, Kind::Sparse];
        let sparse: Vec<&Field> = input
            .fields
            .iter()
            .filter(|f| in_group(f, g, &sparse_kinds))
            .collect();
        let root_crosses: Vec<_> = input
            .root_crosses
            .iter()
            .filter_map(|rc| root_cross::resolve(input, rc).ok().map(|r| (rc, r)))
            .filter(|(_, r)| r.group == *g)
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
            for f in root_crosses
                .iter()
                .flat_map(|(_, r)| r.sides.iter().flatten())
            {
                if !sparse.iter().chain(&crossed).any(|s| s.ident == f.ident) {
                    crossed.push(f);
                }
            }
            preds.extend(bound(&mut crossed.into_iter()));
            g2.make_where_clause().predicates.extend(preds);
            let where_sparse = &g2.where_clause;
            let visits = sparse.iter().map(|f| visit_field(f));
            let crosses = input
                .crosses
                .iter()
                .filter(|c| cross_group(input, c) == *g)
                .map(|c| visit_cross(input, c));
            let crosses = crosses.chain(
                root_crosses
                    .iter()
                    .map(|(rc, _)| root_cross::visit(input, rc, None)),
            );
            out.extend(quote! {
                impl #impl_generics ::vectorflow::features::SparseGroup<#group> for #ident #ty_generics #where_sparse {
                    #[inline]
                    fn visit<__VfF: ::core::ops::FnMut(u32, f32)>(
                        &self,
                        mut __vf_f: __VfF,
                    ) -> ::core::result::Result<(), ::vectorflow::features::FeatureError> {
                        #(#visits)*
                        #(#crosses)*
                        ::core::result::Result::Ok(())
                    }
                }
            });
        }

        let dense: Vec<&Field> = input
            .fields
            .iter()
            .filter(|f| in_group(f, g, &[Kind::Dense]))
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
                                *__vf_o = ::vectorflow::features::finite(#name, __vf_x)?;
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

/// The feature groups, in order of first appearance.
pub(super) fn groups(input: &Input) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for f in &input.fields {
        if let Some(role) = f.role() {
            if matches!(
                role.kind,
                Kind::Hash | Kind::Value | Kind::Tokens | Kind::Sparse | Kind::Dense
            ) {
                let g = role.root.as_ref().map(LitStr::value).unwrap_or_default();
                if !groups.contains(&g) {
                    groups.push(g);
                }
            }
        }
    }
    for rc in &input.root_crosses {
        let g = root_cross::group_guess(input, rc);
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    groups
}

/// Whether `f` is a feature of one of `kinds` in group `g`.
pub(super) fn in_group(f: &Field, g: &str, kinds: &[Kind]) -> bool {
    f.role().is_some_and(|r| {
        kinds.contains(&r.kind) && r.root.as_ref().map(LitStr::value).unwrap_or_default() == g
    })
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
    let group_of = |r: &super::ast::Role| r.root.as_ref().map(LitStr::value).unwrap_or_default();
    let (mut sparse, mut dense): (Vec<String>, Vec<(String, Vec<&syn::Expr>)>) = (vec![], vec![]);
    for (f, r) in roles() {
        let g = group_of(r);
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
        let g = root_cross::group_guess(parsed, rc);
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

fn find<'i, 'a>(input: &'i Input<'a>, kind: Kind) -> Option<&'i Field<'a>> {
    input
        .fields
        .iter()
        .find(|f| f.role().is_some_and(|r| r.kind == kind))
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

/// The namespace literal of a hashed field: given, or the field's name.
pub(super) fn namespace(f: &Field) -> LitStr {
    f.role()
        .and_then(|r| r.namespace.clone())
        .unwrap_or_else(|| LitStr::new(&f.name, f.ident.span()))
}

fn visit_field(f: &Field) -> TokenStream {
    let (ty, member) = (f.ty, f.ident);
    let name = LitStr::new(&f.name, f.ident.span());
    let ns = namespace(f);
    match f.role().map(|r| r.kind) {
        Some(Kind::Hash) => quote! {
            {
                const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
                if let ::core::option::Option::Some(__vf_id) =
                    <#ty as ::vectorflow::features::Category>::category(&self.#member, __VF_SEED)
                {
                    __vf_f(__vf_id, 1.0);
                }
            }
        },
        Some(Kind::Value) => quote! {
            {
                const __VF_SLOT: u32 = ::vectorflow::hash::slot_id(#ns);
                if let ::core::option::Option::Some(__vf_v) =
                    <#ty as ::vectorflow::features::Numeric>::numeric(&self.#member)
                {
                    __vf_f(__VF_SLOT, ::vectorflow::features::finite(#name, __vf_v)?);
                }
            }
        },
        Some(Kind::Tokens) => {
            let (count, w) = token_weight(f);
            quote! {
                {
                    const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
                    #count
                    <#ty as ::vectorflow::features::Tokens>::tokens(&self.#member, __VF_SEED, |__vf_id| {
                        __vf_f(__vf_id, #w)
                    });
                }
            }
        }
        Some(Kind::Sparse) => quote! {
            {
                let mut __vf_bad: ::core::option::Option<f32> = ::core::option::Option::None;
                <#ty as ::vectorflow::features::SparsePairs>::pairs(&self.#member, |__vf_id, __vf_v| {
                    if __vf_v.is_finite() {
                        __vf_f(__vf_id, __vf_v)
                    } else if __vf_bad.is_none() {
                        __vf_bad = ::core::option::Option::Some(__vf_v);
                    }
                });
                if let ::core::option::Option::Some(__vf_v) = __vf_bad {
                    return ::core::result::Result::Err(::vectorflow::features::FeatureError {
                        field: #name,
                        value: __vf_v,
                    });
                }
            }
        },
        _ => TokenStream::new(),
    }
}

/// The weight of each token of a bag: 1, or for `#[tokens(mean)]` 1/len, computed first.
pub(super) fn token_weight(f: &Field) -> (TokenStream, TokenStream) {
    if f.role().is_some_and(|r| r.mean.is_some()) {
        let (ty, member) = (f.ty, f.ident);
        (
            quote! {
                let __vf_w: f32 = 1.0
                    / (<#ty as ::vectorflow::features::Tokens>::count(&self.#member).max(1) as f32);
            },
            quote!(__vf_w),
        )
    } else {
        (TokenStream::new(), quote!(1.0))
    }
}

pub(super) fn cross_fields<'i, 'a>(input: &'i Input<'a>, c: &Cross) -> Vec<&'i Field<'a>> {
    c.fields
        .iter()
        .map(|n| input.fields.iter().find(|f| f.ident == n).expect("checked"))
        .collect()
}

pub(super) fn cross_group(input: &Input, c: &Cross) -> String {
    cross_fields(input, c)[0]
        .role()
        .and_then(|r| r.root.as_ref())
        .map(LitStr::value)
        .unwrap_or_default()
}

/// `h = category(a, seed("a^b")); h = category(b, h); ...`, nothing if any is absent.
fn visit_cross(input: &Input, c: &Cross) -> TokenStream {
    let ns = LitStr::new(&c.namespace_name(), c.keyword.span());
    let mut body = quote!(__vf_f(__vf_h, 1.0););
    for (i, f) in cross_fields(input, c).iter().enumerate().rev() {
        let (ty, member) = (f.ty, f.ident);
        let seed = if i == 0 {
            quote!(__VF_SEED)
        } else {
            quote!(__vf_h)
        };
        body = quote! {
            if let ::core::option::Option::Some(__vf_h) =
                <#ty as ::vectorflow::features::Category>::category(&self.#member, #seed)
            {
                #body
            }
        };
    }
    quote! {
        {
            const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
            #body
        }
    }
}

/// Whether `tokens` name one of `params`.
pub(super) fn mentions(tokens: TokenStream, params: &[&Ident]) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => params.iter().any(|p| **p == i),
        TokenTree::Group(g) => mentions(g.stream(), params),
        _ => false,
    })
}
