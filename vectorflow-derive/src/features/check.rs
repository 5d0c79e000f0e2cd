//! Validation of a parsed row: the rules that relate attributes to each other and to the
//! field types. Every broken rule becomes an error at the offending token; expansion only
//! runs on an input that passed.

use super::ast::{Errors, Input, Kind};
use super::root_cross;
use syn::ext::IdentExt;
use syn::{Expr, GenericArgument, PathArguments, Type};

pub fn check(input: &Input, errors: &mut Errors) {
    let mut label: Option<&str> = None;
    let mut weight: Option<&str> = None;
    for field in &input.fields {
        let Some(first) = field.roles.first() else {
            continue;
        };
        for extra in &field.roles[1..] {
            let msg = if extra.kind == first.kind {
                format!(
                    "field `{}` is already marked #[{}]",
                    field.name,
                    first.kind.name()
                )
            } else {
                format!(
                    "field `{}` is already marked #[{}]; a field is one kind of feature, \
                     so it cannot also be #[{}]",
                    field.name,
                    first.kind.name(),
                    extra.kind.name()
                )
            };
            errors.spanned(&extra.path, msg);
        }
        match first.kind {
            Kind::Label => match label {
                Some(prev) => errors.spanned(
                    &first.path,
                    format!("a row has one #[label], and `{prev}` is already it; mark the other fields as features or leave them unmarked"),
                ),
                None => label = Some(&field.name),
            },
            Kind::Weight => match weight {
                Some(prev) => errors.spanned(
                    &first.path,
                    format!("a row has one #[weight], and `{prev}` is already it"),
                ),
                None => weight = Some(&field.name),
            },
            Kind::Hash => {
                if let Some(float) = float_type(field.ty) {
                    errors.spanned(
                        float,
                        format!(
                            "#[hash] cannot hash the float field `{}`: nearly equal floats would get unrelated ids; \
                             use #[value] for a number whose size matters, or bucket it into an integer first",
                            field.name
                        ),
                    );
                }
            }
            Kind::Dense => {
                if dense_width(field.ty).is_none() {
                    errors.spanned(
                        field.ty,
                        format!(
                            "#[dense] needs a fixed-width array `[f32; N]` (or `Option<[f32; N]>`), so that the group's width \
                             is known at compile time; the field `{}` has no width in its type",
                            field.name
                        ),
                    );
                }
            }
            Kind::Aux => {
                let params: Vec<&syn::Ident> =
                    input.generics.type_params().map(|p| &p.ident).collect();
                if borrows(field.ty) {
                    errors.spanned(
                        field.ty,
                        format!(
                            "the #[aux] field `{}` borrows, but #[aux] values are kept after the row's buffer is gone; \
                             use a number or a bool (hash text with #[hash])",
                            field.name
                        ),
                    );
                } else if super::expand::mentions(quote::ToTokens::to_token_stream(field.ty), &params) {
                    errors.spanned(
                        field.ty,
                        format!(
                            "the #[aux] field `{}` has a type that uses the row's type parameters; \
                             the struct of #[aux] values has no parameters, so give it a concrete type such as `f32`",
                            field.name
                        ),
                    );
                }
            }
            Kind::Value | Kind::Tokens | Kind::Sparse | Kind::Skip => {}
        }
    }

    for (i, cross) in input.crosses.iter().enumerate() {
        if cross.fields.len() < 2 {
            errors.spanned(
                &cross.keyword,
                "a cross needs at least two fields: `cross(a, b)` hashes the pair of the #[hash] fields `a` and `b`",
            );
        }
        let mut group: Option<(&syn::Ident, String)> = None;
        for (j, name) in cross.fields.iter().enumerate() {
            if cross.fields[..j].contains(name) {
                errors.spanned(name, format!("`{name}` appears twice in this cross"));
                continue;
            }
            let Some(field) = input.fields.iter().find(|f| f.ident == name) else {
                errors.spanned(
                    name,
                    format!("the struct has no field named `{name}`; cross(..) names #[hash] fields of this struct"),
                );
                continue;
            };
            let Some(role) = field.role() else {
                errors.spanned(
                    name,
                    format!("cross(..) takes #[hash] fields, and `{name}` is not a feature; mark it #[hash]"),
                );
                continue;
            };
            if role.kind != Kind::Hash {
                errors.spanned(
                    name,
                    format!(
                        "cross(..) takes #[hash] fields, and `{name}` is #[{}]; only categories can be crossed",
                        role.kind.name()
                    ),
                );
                continue;
            }
            let root = role.root.as_ref().map(|r| r.value()).unwrap_or_default();
            match &group {
                None => group = Some((name, root)),
                Some((first, g)) if *g != root => errors.spanned(
                    name,
                    format!(
                        "the fields of a cross must be in one feature group, but `{first}` is in {} and `{name}` is in {}",
                        group_text(g),
                        group_text(&root)
                    ),
                ),
                Some(_) => {}
            }
        }
        let same = input.crosses[..i]
            .iter()
            .any(|c| c.fields == cross.fields && c.namespace_name() == cross.namespace_name());
        if same {
            errors.spanned(&cross.keyword, "this cross is listed twice");
        }
    }

    check_root_crosses(input, errors);
}

/// `cross_roots(a, b)`: both sides must name roots or namespaces with sparse features
/// and no field in common (a field crossed with itself would square its features), and
/// no pair may be crossed twice into one group, which would count its features twice.
fn check_root_crosses(input: &Input, errors: &mut Errors) {
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    for c in &input.crosses {
        if let [a, b] = c.fields.as_slice() {
            if c.namespace.is_none() {
                if let Some(g) = input
                    .fields
                    .iter()
                    .find(|f| f.ident == a)
                    .and_then(|f| f.role())
                {
                    let g = g.root.as_ref().map(|r| r.value()).unwrap_or_default();
                    pairs.push((a.unraw().to_string(), b.unraw().to_string(), g));
                }
            }
        }
    }
    for (i, rc) in input.root_crosses.iter().enumerate() {
        let r = match root_cross::resolve(input, rc) {
            Ok(r) => r,
            Err(es) => {
                for (span, msg) in es {
                    errors.push(syn::Error::new(span, msg));
                }
                continue;
            }
        };
        let same = input.root_crosses[..i]
            .iter()
            .any(|o| o.sides == rc.sides && root_cross::group_guess(input, o) == r.group);
        if same {
            errors.spanned(&rc.keyword, "this cross_roots(..) is listed twice");
            continue;
        }
        let [sa, sb] = &r.sides;
        'pairs: for fa in sa {
            for fb in sb {
                let pair = (fa.name.clone(), fb.name.clone(), r.group.clone());
                if pairs.contains(&pair) {
                    errors.spanned(
                        &rc.keyword,
                        format!(
                            "cross_roots(..) crosses `{}` with `{}`, which another cross of this struct already does; drop one of them",
                            fa.name, fb.name
                        ),
                    );
                    break 'pairs;
                }
                pairs.push(pair);
            }
        }
    }
}

fn group_text(g: &str) -> String {
    if g.is_empty() {
        "the default group".to_string()
    } else {
        format!("root \"{g}\"")
    }
}

/// Strips references, parentheses and invisible groups.
fn peel_refs(mut ty: &Type) -> &Type {
    loop {
        ty = match ty {
            Type::Reference(r) => &r.elem,
            Type::Paren(p) => &p.elem,
            Type::Group(g) => &g.elem,
            _ => return ty,
        };
    }
}

/// The `T` of `Option<T>` (by name: a type alias or another `Option` is not seen).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

/// `ty` without references and one `Option`.
fn peel(ty: &Type) -> &Type {
    let ty = peel_refs(ty);
    option_inner(ty).map(peel_refs).unwrap_or(ty)
}

/// The `f32`/`f64` token of a float (or optional float) type.
fn float_type(ty: &Type) -> Option<&Type> {
    let inner = peel(ty);
    match inner {
        Type::Path(p)
            if p.qself.is_none() && (p.path.is_ident("f32") || p.path.is_ident("f64")) =>
        {
            Some(inner)
        }
        _ => None,
    }
}

/// The width `N` of a `[T; N]`, `&[T; N]` or `Option<[T; N]>` type.
pub fn dense_width(ty: &Type) -> Option<&Expr> {
    match peel(ty) {
        Type::Array(a) => Some(&a.len),
        _ => None,
    }
}

/// Whether a type holds a reference or names a lifetime.
pub fn borrows(ty: &Type) -> bool {
    fn any(tokens: proc_macro2::TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            proc_macro2::TokenTree::Punct(p) => matches!(p.as_char(), '&' | '\''),
            proc_macro2::TokenTree::Group(g) => any(g.stream()),
            _ => false,
        })
    }
    any(quote::ToTokens::to_token_stream(ty))
}
