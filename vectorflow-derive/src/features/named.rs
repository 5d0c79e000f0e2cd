//! Code generation for `Named`: the training visitors again, each feature handed over with
//! its readable name. Only audits call it, so it may be slower than `visit`, but it must
//! give the same ids and values in the same order, so it calls the same trait methods
//! with the same seeds.

use super::ast::{Cross, Field, Input, Kind};
use super::check::dense_width;
use super::expand::{
    cross_fields, cross_group, groups, in_group, kind_trait, mentions, namespace, token_weight,
};
use super::root_cross;
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::{Ident, LitStr, WherePredicate};

pub fn expand(input: &Input) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let params: Vec<&Ident> = input.generics.type_params().map(|p| &p.ident).collect();

    // The same bounds as the group impls: a field whose type mentions a type parameter
    // needs its kind's trait.
    let preds = input
        .fields
        .iter()
        .filter(|f| f.role().is_some_and(|r| r.kind != Kind::Label))
        .filter(|f| mentions(f.ty.to_token_stream(), &params))
        .filter_map(|f| {
            let (ty, tr) = (f.ty, kind_trait(f)?);
            Some(syn::parse_quote!(#ty: #tr))
        })
        .collect::<Vec<WherePredicate>>();
    let mut generics = input.generics.clone();
    generics.make_where_clause().predicates.extend(preds);
    let where_clause = &generics.where_clause;

    let sparse_kinds = [Kind::Hash, Kind::Value, Kind::Tokens, Kind::Sparse];
    let mut body = TokenStream::new();
    for g in &groups(input) {
        let group = LitStr::new(g, Span::call_site());
        for f in input
            .fields
            .iter()
            .filter(|f| in_group(f, g, &sparse_kinds))
        {
            body.extend(visit_field(f, &group));
        }
        for c in input.crosses.iter().filter(|c| cross_group(input, c) == *g) {
            body.extend(visit_cross(input, c, &group));
        }
        for rc in &input.root_crosses {
            if root_cross::group_guess(input, rc) == *g {
                body.extend(root_cross::visit(input, rc, Some(&group)));
            }
        }
        let dense: Vec<&Field> = input
            .fields
            .iter()
            .filter(|f| in_group(f, g, &[Kind::Dense]))
            .collect();
        if !dense.is_empty() {
            let parts = dense.iter().map(|f| visit_dense(f, &group));
            body.extend(quote! {
                {
                    let mut __vf_base: usize = 0;
                    #(#parts)*
                    let _ = __vf_base;
                }
            });
        }
    }

    quote! {
        #[automatically_derived]
        impl #impl_generics ::vectorflow::features::Named for #ident #ty_generics #where_clause {
            fn visit_named<__VfF: ::core::ops::FnMut(::vectorflow::features::NamedFeature<'_>)>(
                &self,
                mut __vf_f: __VfF,
            ) -> ::core::result::Result<(), ::vectorflow::features::FeatureError> {
                #body
                ::core::result::Result::Ok(())
            }
        }
    }
}

/// `NamedFeature { .. }` for the generated code.
fn feature(
    group: &LitStr,
    field: &LitStr,
    name: TokenStream,
    slot: TokenStream,
    value: TokenStream,
) -> TokenStream {
    quote! {
        ::vectorflow::features::NamedFeature {
            group: #group,
            field: #field,
            name: #name,
            slot: #slot,
            value: #value,
        }
    }
}

/// The field's value as `Category::fmt_name` writes it. Only the trait call names the
/// field's type, so a type that is no category gets the same error as in `visit`, which
/// the compiler reports once.
pub(super) fn category_name(ty: &syn::Type, member: &Ident) -> TokenStream {
    quote! {
        ::core::fmt::from_fn(|__vf_fmt| {
            <#ty as ::vectorflow::features::Category>::fmt_name(&self.#member, __vf_fmt)
        })
    }
}

/// A format string: `text` with its braces escaped, then `rest`.
fn format(text: &str, rest: &str, span: Span) -> LitStr {
    LitStr::new(
        &format!("{}{rest}", text.replace('{', "{{").replace('}', "}}")),
        span,
    )
}

fn visit_field(f: &Field, group: &LitStr) -> TokenStream {
    let (ty, member) = (f.ty, f.ident);
    let name = LitStr::new(&f.name, f.ident.span());
    let ns = namespace(f);
    let span = f.ident.span();
    match f.role().map(|r| r.kind) {
        Some(Kind::Hash) => {
            let fmt = format(&f.name, "={}", span);
            let value = category_name(ty, member);
            let feat = feature(
                group,
                &name,
                quote!(::core::format_args!(#fmt, #value)),
                quote!(::vectorflow::features::Slot::SparseId(__vf_id)),
                quote!(1.0),
            );
            quote! {
                {
                    const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
                    if let ::core::option::Option::Some(__vf_id) =
                        <#ty as ::vectorflow::features::Category>::category(&self.#member, __VF_SEED)
                    {
                        __vf_f(#feat);
                    }
                }
            }
        }
        Some(Kind::Value) => {
            let fmt = format(&f.name, "", span);
            let feat = feature(
                group,
                &name,
                quote!(::core::format_args!(#fmt)),
                quote!(::vectorflow::features::Slot::SparseId(__VF_SLOT)),
                quote!(::vectorflow::features::finite(#name, __vf_v)?),
            );
            quote! {
                {
                    const __VF_SLOT: u32 = ::vectorflow::hash::slot_id(#ns);
                    if let ::core::option::Option::Some(__vf_v) =
                        <#ty as ::vectorflow::features::Numeric>::numeric(&self.#member)
                    {
                        __vf_f(#feat);
                    }
                }
            }
        }
        Some(Kind::Tokens) => {
            let fmt = format(&f.name, "={}", span);
            let (count, w) = token_weight(f);
            let feat = feature(
                group,
                &name,
                quote!(::core::format_args!(#fmt, __vf_tok)),
                quote!(::vectorflow::features::Slot::SparseId(__vf_id)),
                w,
            );
            quote! {
                {
                    const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
                    #count
                    <#ty as ::vectorflow::features::Tokens>::named_tokens(
                        &self.#member,
                        __VF_SEED,
                        |__vf_id, __vf_tok| __vf_f(#feat),
                    );
                }
            }
        }
        Some(Kind::Sparse) => {
            let fmt = format(&f.name, "[{}]", span);
            let feat = feature(
                group,
                &name,
                quote!(::core::format_args!(#fmt, __vf_id)),
                quote!(::vectorflow::features::Slot::SparseId(__vf_id)),
                quote!(__vf_v),
            );
            // As in `visit`: the finite pairs are visited, and the first bad value is the error.
            quote! {
                {
                    let mut __vf_bad: ::core::option::Option<f32> = ::core::option::Option::None;
                    <#ty as ::vectorflow::features::SparsePairs>::pairs(&self.#member, |__vf_id, __vf_v| {
                        if __vf_v.is_finite() {
                            __vf_f(#feat)
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
            }
        }
        _ => TokenStream::new(),
    }
}

/// A cross, named `a×b=va×vb` after its fields whatever its namespace.
fn visit_cross(input: &Input, c: &Cross, group: &LitStr) -> TokenStream {
    let ns = LitStr::new(&c.namespace_name(), c.keyword.span());
    let fields = cross_fields(input, c);
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    let values = vec!["{}"; fields.len()].join("×");
    let fmt = format(&names.join("×"), &format!("={values}"), c.keyword.span());
    let args = fields.iter().map(|f| {
        let (ty, member) = (f.ty, f.ident);
        category_name(ty, member)
    });
    let first = LitStr::new(&fields[0].name, fields[0].ident.span());
    let mut body = feature(
        group,
        &first,
        quote!(::core::format_args!(#fmt, #(#args),*)),
        quote!(::vectorflow::features::Slot::SparseId(__vf_h)),
        quote!(1.0),
    );
    body = quote!(__vf_f(#body););
    for (i, f) in fields.iter().enumerate().rev() {
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

/// A dense field's values, `field[i]`, at their offset in the group's dense input.
fn visit_dense(f: &Field, group: &LitStr) -> TokenStream {
    let (ty, member) = (f.ty, f.ident);
    let w = dense_width(f.ty).expect("checked");
    let name = LitStr::new(&f.name, f.ident.span());
    let fmt = format(&f.name, "[{}]", f.ident.span());
    let feat = feature(
        group,
        &name,
        quote!(::core::format_args!(#fmt, __vf_i)),
        quote!(::vectorflow::features::Slot::DenseIndex(__vf_base + __vf_i)),
        quote!(::vectorflow::features::finite(#name, __vf_x)?),
    );
    quote! {
        if let ::core::option::Option::Some(__vf_v) =
            <#ty as ::vectorflow::features::DenseValues<{ #w }>>::dense_values(&self.#member)
        {
            for (__vf_i, &__vf_x) in __vf_v.iter().enumerate() {
                __vf_f(#feat);
            }
        }
        __vf_base += #w;
    }
}
