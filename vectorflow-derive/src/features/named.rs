//! Code generation for `Named`: the training visitors again, each feature handed over with
//! its readable name. Only audits call it, so it may be slower than `visit`, but it must
//! give the same ids and values in the same order: its sparse features come from the
//! emitter `visit` uses ([`super::visit`]).

use super::ast::{dense_width, mentions, Field, Input, Kind};
use super::expand::kind_trait;
use super::visit::{self, feature, format, Sink};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{LitStr, WherePredicate};

pub fn expand(input: &Input) -> TokenStream {
    let ident = input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let params = input.type_params();

    // The same bounds as the group impls: a field whose type mentions a type parameter
    // needs its kind's trait.
    let preds = input
        .fields
        .iter()
        .filter(|f| f.role().is_some_and(|r| r.kind != Kind::Label))
        .filter(|f| mentions(f.ty, &params))
        .filter_map(|f| {
            let (ty, tr) = (f.ty, kind_trait(f)?);
            Some(syn::parse_quote!(#ty: #tr))
        })
        .collect::<Vec<WherePredicate>>();
    let mut generics = input.generics.clone();
    generics.make_where_clause().predicates.extend(preds);
    let where_clause = &generics.where_clause;

    let mut body = TokenStream::new();
    for g in &input.groups() {
        let group = LitStr::new(g, Span::call_site());
        body.extend(visit::group(input, g, &Sink::Named(&group)));
        let dense: Vec<&Field> = input
            .fields
            .iter()
            .filter(|f| f.in_group(g, &[Kind::Dense]))
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
        quote!(::vectorflow::__private::finite(#name, __vf_x)?),
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
