//! Whole-namespace crosses, `#[features(cross_roots(user, item))]`: every sparse feature
//! of one root or namespace crossed with every one of another, as Vowpal Wabbit's `-q`.
//!
//! Each sparse feature has a key that a seed hashes: a category its value, a token its
//! text, a `#[value]` field the empty string (so that its own slot is `slot_id`), a
//! pre-indexed pair its id as an integer category. The pair of fields `a`, `b` crosses
//! like `cross(a, b)`: `h = key_a(namespace_seed("a^b")); id = key_b(h)`, with value
//! `value_a × value_b`, so two `#[hash]` fields give exactly the ids of `cross(a, b)`.
//! Visiting costs O(|a|·|b|) hashes and allocates nothing: the fields are re-read in
//! place, values checked once up front.

use super::ast::{Field, Input, Kind, RootCross};
use super::visit::{category_name, Sink};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitStr};

/// The idents of a field's per-visit values: `#[value]`'s checked number, a mean bag's
/// weight.
fn value_var(f: &Field) -> Ident {
    format_ident!("__vf_v_{}", f.name)
}
fn weight_var(f: &Field) -> Ident {
    format_ident!("__vf_w_{}", f.name)
}

/// The checks and counts a cross's fields need once per visit: a non-finite `#[value]`
/// or `#[sparse]` value is the error `visit` gives for the field itself.
fn prelude(fields: &[&Field]) -> TokenStream {
    let mut out = TokenStream::new();
    let mut seen: Vec<&Ident> = Vec::new();
    for f in fields {
        if seen.contains(&f.ident) {
            continue;
        }
        seen.push(f.ident);
        let (ty, member) = (f.ty, f.ident);
        let name = LitStr::new(&f.name, f.ident.span());
        let role = f.role().expect("checked");
        out.extend(match role.kind {
            Kind::Value => {
                let v = value_var(f);
                quote! {
                    let #v: ::core::option::Option<f32> =
                        match <#ty as ::vectorflow::features::Numeric>::numeric(&self.#member) {
                            ::core::option::Option::Some(__vf_x) => ::core::option::Option::Some(
                                ::vectorflow::__private::finite(#name, __vf_x)?,
                            ),
                            ::core::option::Option::None => ::core::option::Option::None,
                        };
                }
            }
            Kind::Sparse => quote! {
                {
                    let mut __vf_bad: ::core::option::Option<f32> = ::core::option::Option::None;
                    <#ty as ::vectorflow::features::SparsePairs>::pairs(&self.#member, |_, __vf_x| {
                        if !__vf_x.is_finite() && __vf_bad.is_none() {
                            __vf_bad = ::core::option::Option::Some(__vf_x);
                        }
                    });
                    if let ::core::option::Option::Some(__vf_x) = __vf_bad {
                        return ::core::result::Result::Err(::vectorflow::features::FeatureError {
                            field: #name,
                            value: __vf_x,
                        });
                    }
                }
            },
            Kind::Tokens if role.mean.is_some() => {
                let w = weight_var(f);
                quote! {
                    let #w: f32 = 1.0
                        / (<#ty as ::vectorflow::features::Tokens>::count(&self.#member).max(1) as f32);
                }
            }
            _ => TokenStream::new(),
        });
    }
    out
}

/// The names bound for one side of a pair: the feature's id, value, and (for names) its
/// key or token.
struct Bind {
    id: Ident,
    val: Ident,
    key: Ident,
}

/// Runs `body` for each sparse feature of `f`, its key hashed with `seed`, binding `b`.
fn keyed(f: &Field, seed: &TokenStream, b: &Bind, body: TokenStream, names: bool) -> TokenStream {
    let (ty, member) = (f.ty, f.ident);
    let Bind { id, val, key } = b;
    let role = f.role().expect("checked");
    match role.kind {
        Kind::Hash => quote! {
            if let ::core::option::Option::Some(#id) =
                <#ty as ::vectorflow::features::Category>::category(&self.#member, #seed)
            {
                let #val: f32 = 1.0;
                #body
            }
        },
        Kind::Tokens => {
            let w = if role.mean.is_some() {
                let w = weight_var(f);
                quote!(#w)
            } else {
                quote!(1.0)
            };
            if names {
                quote! {
                    <#ty as ::vectorflow::features::Tokens>::named_tokens(
                        &self.#member,
                        #seed,
                        |#id, #key| {
                            let #val: f32 = #w;
                            #body
                        },
                    );
                }
            } else {
                quote! {
                    <#ty as ::vectorflow::features::Tokens>::tokens(&self.#member, #seed, |#id| {
                        let #val: f32 = #w;
                        #body
                    });
                }
            }
        }
        Kind::Value => {
            let v = value_var(f);
            quote! {
                if let ::core::option::Option::Some(#val) = #v {
                    let #id = ::vectorflow::hash::murmur3_32(b"", #seed);
                    #body
                }
            }
        }
        Kind::Sparse => quote! {
            <#ty as ::vectorflow::features::SparsePairs>::pairs(&self.#member, |#key, #val| {
                let #id = ::vectorflow::hash::hash_i128(i128::from(#key), #seed);
                #body
            });
        },
        _ => unreachable!("only sparse kinds are crossed"),
    }
}

/// The name of a crossed pair, `a×b=x×y` as `cross(a, b)` names it, where a `#[value]`
/// field has no value to show and a pre-indexed pair shows its index with its field
/// (`ids[17]×dest=IAH`), and the arguments of the format string.
fn pair_name(fa: &Field, fb: &Field, ba: &Bind, bb: &Bind) -> TokenStream {
    let (mut names, mut values) = (Vec::new(), Vec::new());
    let (mut name_args, mut value_args) = (Vec::new(), Vec::new());
    for (f, b) in [(fa, ba), (fb, bb)] {
        let key = &b.key;
        match f.role().expect("checked").kind {
            Kind::Sparse => {
                names.push(format!("{}[{{}}]", f.name));
                name_args.push(quote!(#key));
            }
            Kind::Hash => {
                names.push(f.name.clone());
                values.push("{}");
                value_args.push(category_name(f.ty, f.ident));
            }
            Kind::Tokens => {
                names.push(f.name.clone());
                values.push("{}");
                value_args.push(quote!(#key));
            }
            _ => names.push(f.name.clone()),
        }
    }
    let mut fmt = names.join("×");
    if !values.is_empty() {
        fmt.push('=');
        fmt.push_str(&values.join("×"));
    }
    let fmt = LitStr::new(&fmt, Span::call_site());
    quote!(::core::format_args!(#fmt #(, #name_args)* #(, #value_args)*))
}

/// The visiting code of `rc`: every crossed pair handed to `sink`.
pub fn visit(input: &Input, rc: &RootCross, sink: &Sink) -> TokenStream {
    let r = input
        .resolve(rc)
        .unwrap_or_else(|_| unreachable!("checked"));
    let [sa, sb] = &r.sides;
    let all: Vec<&Field> = sa.iter().chain(sb).copied().collect();
    let prelude = prelude(&all);
    let ba = Bind {
        id: format_ident!("__vf_ha"),
        val: format_ident!("__vf_va"),
        key: format_ident!("__vf_ka"),
    };
    let bb = Bind {
        id: format_ident!("__vf_hb"),
        val: format_ident!("__vf_vb"),
        key: format_ident!("__vf_kb"),
    };
    let mut pairs = TokenStream::new();
    for fa in sa {
        for fb in sb {
            let (ida, idb, va, vb) = (&ba.id, &bb.id, &ba.val, &bb.val);
            let field = LitStr::new(&fa.name, fa.ident.span());
            let call = sink.call(
                &field,
                || pair_name(fa, fb, &ba, &bb),
                quote!(#idb),
                quote!(#va * #vb),
            );
            let inner = keyed(fb, &quote!(#ida), &bb, quote!(#call;), sink.names());
            let ns = LitStr::new(&format!("{}^{}", fa.name, fb.name), rc.keyword.span());
            let outer = keyed(fa, &quote!(__VF_SEED), &ba, inner, sink.names());
            pairs.extend(quote! {
                {
                    const __VF_SEED: u32 = ::vectorflow::hash::namespace_seed(#ns);
                    #outer
                }
            });
        }
    }
    quote! {
        {
            #prelude
            #pairs
        }
    }
}
