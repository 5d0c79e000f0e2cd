//! The visiting code of a group's sparse features, for both `SparseGroup::visit` (ids and
//! values) and `Named::visit_named` (the same features, each with its readable name).
//! One emitter writes both, so that audits see the ids and values training sees, in the
//! same order: the same trait methods are called with the same seeds, and only what is
//! handed to `__vf_f` differs ([`Sink`]).

use super::ast::{Cross, Field, Input, Kind, SPARSE};
use super::root_cross;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Ident, LitStr};

/// What the visiting code hands `__vf_f` for each feature.
pub enum Sink<'g> {
    /// `__vf_f(id, value)`, for `visit`.
    Ids,
    /// `__vf_f(NamedFeature { .. })` in the group of this name, for `visit_named`.
    Named(&'g LitStr),
}

impl Sink<'_> {
    /// Whether features are handed over with their names.
    pub fn names(&self) -> bool {
        matches!(self, Sink::Named(_))
    }

    /// The call for one sparse feature, `id` with `value`, as an expression; with names, a
    /// feature of `field` named by `name()` (a `format_args!`, built only then).
    pub fn call(
        &self,
        field: &LitStr,
        name: impl FnOnce() -> TokenStream,
        id: TokenStream,
        value: TokenStream,
    ) -> TokenStream {
        match self {
            Sink::Ids => quote!(__vf_f(#id, #value)),
            Sink::Named(group) => {
                let feat = feature(
                    group,
                    field,
                    name(),
                    quote!(::vectorflow::features::Slot::SparseId(#id)),
                    value,
                );
                quote!(__vf_f(#feat))
            }
        }
    }
}

/// The visiting code of group `g`'s sparse features: its fields in declaration order,
/// then its crosses, then its `cross_roots`.
pub fn group(input: &Input, g: &str, sink: &Sink) -> TokenStream {
    let mut out = TokenStream::new();
    for f in input.fields.iter().filter(|f| f.in_group(g, &SPARSE)) {
        out.extend(field(f, sink));
    }
    for c in input.crosses.iter().filter(|c| input.cross_group(c) == g) {
        out.extend(cross(input, c, sink));
    }
    for rc in &input.root_crosses {
        if input.group_guess(rc) == g {
            out.extend(root_cross::visit(input, rc, sink));
        }
    }
    out
}

/// `NamedFeature { .. }` for the generated code.
pub fn feature(
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
pub fn category_name(ty: &syn::Type, member: &Ident) -> TokenStream {
    quote! {
        ::core::fmt::from_fn(|__vf_fmt| {
            <#ty as ::vectorflow::features::Category>::fmt_name(&self.#member, __vf_fmt)
        })
    }
}

/// A format string: `text` with its braces escaped, then `rest`.
pub fn format(text: &str, rest: &str, span: Span) -> LitStr {
    LitStr::new(
        &format!("{}{rest}", text.replace('{', "{{").replace('}', "}}")),
        span,
    )
}

/// The namespace literal of a hashed field: given, or the field's name.
fn namespace(f: &Field) -> LitStr {
    f.role()
        .and_then(|r| r.namespace.clone())
        .unwrap_or_else(|| LitStr::new(&f.name, f.ident.span()))
}

/// The weight of each token of a bag: 1, or for `#[tokens(mean)]` 1/len, computed first.
fn token_weight(f: &Field) -> (TokenStream, TokenStream) {
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

fn field(f: &Field, sink: &Sink) -> TokenStream {
    let (ty, member) = (f.ty, f.ident);
    let name = LitStr::new(&f.name, f.ident.span());
    let ns = namespace(f);
    let span = f.ident.span();
    match f.role().map(|r| r.kind) {
        Some(Kind::Hash) => {
            let call = sink.call(
                &name,
                || {
                    let fmt = format(&f.name, "={}", span);
                    let value = category_name(ty, member);
                    quote!(::core::format_args!(#fmt, #value))
                },
                quote!(__vf_id),
                quote!(1.0),
            );
            quote! {
                {
                    const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
                    if let ::core::option::Option::Some(__vf_id) =
                        <#ty as ::vectorflow::features::Category>::category(&self.#member, __VF_SEED)
                    {
                        #call;
                    }
                }
            }
        }
        Some(Kind::Value) => {
            let call = sink.call(
                &name,
                || {
                    let fmt = format(&f.name, "", span);
                    quote!(::core::format_args!(#fmt))
                },
                quote!(__VF_SLOT),
                quote!(::vectorflow::__private::finite(#name, __vf_v)?),
            );
            quote! {
                {
                    const __VF_SLOT: u32 = ::vectorflow::hash::slot_id(#ns);
                    if let ::core::option::Option::Some(__vf_v) =
                        <#ty as ::vectorflow::features::Numeric>::numeric(&self.#member)
                    {
                        #call;
                    }
                }
            }
        }
        Some(Kind::Tokens) => {
            let (count, w) = token_weight(f);
            let call = sink.call(
                &name,
                || {
                    let fmt = format(&f.name, "={}", span);
                    quote!(::core::format_args!(#fmt, __vf_tok))
                },
                quote!(__vf_id),
                w,
            );
            let tokens = if sink.names() {
                quote! {
                    <#ty as ::vectorflow::features::Tokens>::named_tokens(
                        &self.#member,
                        __VF_SEED,
                        |__vf_id, __vf_tok| #call,
                    );
                }
            } else {
                quote! {
                    <#ty as ::vectorflow::features::Tokens>::tokens(&self.#member, __VF_SEED, |__vf_id| {
                        #call
                    });
                }
            };
            quote! {
                {
                    const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
                    #count
                    #tokens
                }
            }
        }
        Some(Kind::Sparse) => {
            let call = sink.call(
                &name,
                || {
                    let fmt = format(&f.name, "[{}]", span);
                    quote!(::core::format_args!(#fmt, __vf_id))
                },
                quote!(__vf_id),
                quote!(__vf_v),
            );
            // The finite pairs are visited, and the first bad value is the error.
            quote! {
                {
                    let mut __vf_bad: ::core::option::Option<f32> = ::core::option::Option::None;
                    <#ty as ::vectorflow::features::SparsePairs>::pairs(&self.#member, |__vf_id, __vf_v| {
                        if __vf_v.is_finite() {
                            #call
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

/// `h = category(a, seed("a^b")); h = category(b, h); ...` (`features::cross_id`), nothing
/// if any is absent. A cross is named `a×b=va×vb` after its fields, whatever its namespace.
fn cross(input: &Input, c: &Cross, sink: &Sink) -> TokenStream {
    let ns = LitStr::new(&c.namespace_name(), c.keyword.span());
    let fields = input.cross_fields(c);
    let first = LitStr::new(&fields[0].name, fields[0].ident.span());
    let call = sink.call(
        &first,
        || {
            let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
            let values = vec!["{}"; fields.len()].join("×");
            let fmt = format(&names.join("×"), &format!("={values}"), c.keyword.span());
            let args = fields.iter().map(|f| category_name(f.ty, f.ident));
            quote!(::core::format_args!(#fmt, #(#args),*))
        },
        quote!(__vf_h),
        quote!(1.0),
    );
    // The chain itself is the library's, which the run-time column spec calls too.
    let values = fields.iter().map(|f| {
        let (ty, member) = (f.ty, f.ident);
        quote!(::vectorflow::__private::category::<#ty>(&self.#member))
    });
    let body = quote! {
        if let ::core::option::Option::Some(__vf_h) =
            ::vectorflow::features::cross_id(__VF_SEED, [#(#values),*])
        {
            #call;
        }
    };
    quote! {
        {
            const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
            #body
        }
    }
}
