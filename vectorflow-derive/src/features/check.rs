//! Validation of a parsed row: the rules that relate attributes to each other and to the
//! field types. Every broken rule becomes an error at the offending token; expansion only
//! runs on an input that passed.

use super::ast::{borrows, dense_width, float_type, mentions, Errors, Input, Kind};
use syn::ext::IdentExt;

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
                if borrows(field.ty) {
                    errors.spanned(
                        field.ty,
                        format!(
                            "the #[aux] field `{}` borrows, but #[aux] values are kept after the row's buffer is gone; \
                             use a number or a bool (hash text with #[hash])",
                            field.name
                        ),
                    );
                } else if mentions(field.ty, &input.type_params()) {
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
            let root = role.group();
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
                if let Some(role) = input
                    .fields
                    .iter()
                    .find(|f| f.ident == a)
                    .and_then(|f| f.role())
                {
                    let g = role.group();
                    pairs.push((a.unraw().to_string(), b.unraw().to_string(), g));
                }
            }
        }
    }
    for (i, rc) in input.root_crosses.iter().enumerate() {
        let r = match input.resolve(rc) {
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
            .any(|o| o.sides == rc.sides && input.group_guess(o) == r.group);
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
