//! `#[derive(Features)]`: parse ([`parse`]) into the row's description ([`ast`], which
//! answers every question about it), validate ([`check`]), expand ([`expand`], and
//! [`named`] for the audit visitor, both visiting sparse features through [`visit`];
//! [`aux`] for the values a streamed loss reads); [`root_cross`] expands `cross_roots`;
//! [`spec`] fingerprints the row type for binary caches.

mod ast;
mod aux;
mod check;
mod expand;
mod named;
mod parse;
mod root_cross;
mod spec;
mod visit;

use proc_macro2::TokenStream;

pub fn expand(input: TokenStream) -> TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    let mut errors = ast::Errors::default();
    let parsed = parse::parse(&input, &mut errors);
    if let Some(parsed) = &parsed {
        check::check(parsed, &mut errors);
    }
    match (parsed, errors.finish()) {
        (Some(parsed), None) => {
            let mut out = expand::expand(&parsed);
            out.extend(named::expand(&parsed));
            out.extend(aux::expand(&parsed));
            out
        }
        (parsed, Some(e)) => {
            let mut out = e.to_compile_error();
            out.extend(expand::fallback(&input, parsed.as_ref()));
            // The aux struct as written, so that a loss naming it adds no error.
            if let Some(parsed) = &parsed {
                out.extend(aux::expand(parsed));
            }
            out
        }
        (None, None) => unreachable!("parse reports why it gave up"),
    }
}
