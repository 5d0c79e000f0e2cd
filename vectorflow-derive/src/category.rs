//! `#[derive(Category)]`: a fieldless enum whose variants hash like their names.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, LitByteStr};

pub fn expand(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();

    let Bodies { category, name } = match check(&input) {
        Ok(bodies) => bodies,
        Err(e) => {
            // The error, and an impl that keeps uses of the type as a category quiet.
            let mut out = e.to_compile_error();
            out.extend(quote! {
                impl #impl_generics ::vectorflow::features::Category for #ident #ty_generics #where_clause {
                    fn category(&self, _seed: u32) -> ::core::option::Option<u32> {
                        ::core::option::Option::None
                    }
                }
            });
            return out;
        }
    };
    quote! {
        impl #impl_generics ::vectorflow::features::Category for #ident #ty_generics #where_clause {
            #[inline]
            fn category(&self, seed: u32) -> ::core::option::Option<u32> {
                #category
            }
            fn fmt_name(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                #name
            }
        }
    }
}

/// The bodies of the impl, or every reason the input is not a fieldless enum.
fn check(input: &DeriveInput) -> syn::Result<Bodies> {
    let e =
        match &input.data {
            Data::Enum(e) => e,
            Data::Struct(s) => return Err(syn::Error::new_spanned(
                s.struct_token,
                "#[derive(Category)] works on enums whose variants have no fields, not structs; \
                 mark a struct's categorical fields #[hash] instead",
            )),
            Data::Union(u) => {
                return Err(syn::Error::new_spanned(
                    u.union_token,
                    "#[derive(Category)] works on enums whose variants have no fields, not unions",
                ))
            }
        };
    let mut errors: Option<syn::Error> = None;
    let mut arms = Vec::new();
    let mut names = Vec::new();
    for v in &e.variants {
        if !matches!(v.fields, Fields::Unit) {
            let err = syn::Error::new_spanned(
                &v.fields,
                format!(
                    "#[derive(Category)] needs variants without fields, and `{}` has some; \
                     a category is one of a fixed set of names",
                    v.ident
                ),
            );
            match &mut errors {
                Some(all) => all.combine(err),
                None => errors = Some(err),
            }
            continue;
        }
        let vi = &v.ident;
        let name = LitByteStr::new(vi.unraw().to_string().as_bytes(), vi.span());
        arms.push(quote! {
            Self::#vi => ::vectorflow::hash::murmur3_32(#name, seed),
        });
        let text = syn::LitStr::new(&vi.unraw().to_string(), vi.span());
        names.push(quote! {
            Self::#vi => #text,
        });
    }
    if let Some(e) = errors {
        return Err(e);
    }
    Ok(Bodies {
        category: quote! {
            ::core::option::Option::Some(match *self {
                #(#arms)*
            })
        },
        name: quote! {
            f.write_str(match *self {
                #(#names)*
            })
        },
    })
}

/// The bodies of `category` and `fmt_name`.
struct Bodies {
    category: TokenStream,
    name: TokenStream,
}
