//! The parser of a `#[derive(Features)]` input into the types of [`super::ast`].
//!
//! Parsing is lenient: every malformed attribute is recorded in [`Errors`] and parsing
//! goes on, so one derive reports all its syntax mistakes at once. Rules that relate
//! several fields (one label, cross members, groups) are checked later, in `check.rs`.

use super::ast::{Cross, Errors, Field, Input, Kind, Role, RootCross};
use syn::ext::IdentExt;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Data, DeriveInput, Fields, Ident, LitStr, Token};

/// Parses the derive input. Returns `None` when it is not a struct with named fields (the
/// error is then in `errors`).
pub fn parse<'a>(input: &'a DeriveInput, errors: &mut Errors) -> Option<Input<'a>> {
    let named = match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => Some(named),
            Fields::Unnamed(_) | Fields::Unit => {
                let what = if matches!(s.fields, Fields::Unit) {
                    "a unit struct"
                } else {
                    "a tuple struct"
                };
                errors.spanned(
                    &input.ident,
                    format!(
                        "#[derive(Features)] needs a struct with named fields, found {what}; \
                         name the fields so that each can be marked (#[label], #[hash], ...)"
                    ),
                );
                None
            }
        },
        Data::Enum(e) => {
            errors.spanned(
                e.enum_token,
                "#[derive(Features)] works on structs with named fields, not enums; \
                 a row is a struct, and a fieldless enum used as a category takes #[derive(Category)]",
            );
            None
        }
        Data::Union(u) => {
            errors.spanned(
                u.union_token,
                "#[derive(Features)] works on structs with named fields, not unions",
            );
            None
        }
    };

    let (mut crosses, mut root_crosses) = (Vec::new(), Vec::new());
    for attr in &input.attrs {
        if attr.path().is_ident("features") {
            parse_features_attr(attr, &mut crosses, &mut root_crosses, errors);
        } else if let Some((name, _)) = Kind::ALL.iter().find(|(n, _)| attr.path().is_ident(n)) {
            errors.spanned(
                attr,
                format!("#[{name}] goes on a field of the struct, not on the struct itself"),
            );
        }
    }

    let named = named?;
    let fields = named
        .named
        .iter()
        .map(|f| {
            let ident = f.ident.as_ref().expect("named field");
            Field {
                ident,
                vis: &f.vis,
                name: ident.unraw().to_string(),
                ty: &f.ty,
                attrs: &f.attrs,
                roles: f
                    .attrs
                    .iter()
                    .filter_map(|a| parse_field_attr(a, errors))
                    .collect(),
            }
        })
        .collect();

    Some(Input {
        ident: &input.ident,
        attrs: &input.attrs,
        vis: &input.vis,
        generics: &input.generics,
        fields,
        crosses,
        root_crosses,
    })
}

fn parse_features_attr(
    attr: &Attribute,
    crosses: &mut Vec<Cross>,
    root_crosses: &mut Vec<RootCross>,
    errors: &mut Errors,
) {
    if let syn::Meta::Path(_) | syn::Meta::NameValue(_) = &attr.meta {
        errors.spanned(
            attr,
            "expected #[features(cross(field, field, ...))] or #[features(cross_roots(a, b))] with a list of interactions",
        );
        return;
    }
    let r = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("cross") {
            crosses.push(parse_cross(&meta, errors)?);
            Ok(())
        } else if meta.path.is_ident("cross_roots") {
            root_crosses.push(parse_root_cross(&meta)?);
            Ok(())
        } else {
            Err(meta.error(format!(
                "unknown key `{}` in #[features(..)]; expected `cross(field, field, ...)` or `cross_roots(a, b)`",
                path_text(&meta.path)
            )))
        }
    });
    if let Err(e) = r {
        errors.push(e);
    }
}

fn parse_cross(meta: &ParseNestedMeta, errors: &mut Errors) -> syn::Result<Cross> {
    let keyword = meta.path.get_ident().expect("checked `cross`").clone();
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(
            "expected a list of fields: `cross(a, b)` hashes the interaction of the #[hash] fields `a` and `b`",
        ));
    }
    let mut fields = Vec::new();
    let mut namespace = None;
    meta.parse_nested_meta(|inner| {
        if inner.input.peek(Token![=]) {
            if inner.path.is_ident("namespace") {
                let lit = string_value(&inner, &mut namespace, "namespace")?;
                check_namespace(&lit, errors);
                Ok(())
            } else {
                Err(inner.error(format!(
                    "unknown key `{}` in cross(..); expected field names and optionally `namespace = \"...\"`",
                    path_text(&inner.path)
                )))
            }
        } else if let Some(ident) = inner.path.get_ident() {
            if inner.input.peek(syn::token::Paren) {
                return Err(inner.error("expected a field name in cross(..), not a list"));
            }
            if namespace.is_some() {
                errors.spanned(ident, "put the fields of a cross before its `namespace = \"...\"`");
            }
            fields.push(ident.clone());
            Ok(())
        } else {
            Err(inner.error("expected a field name in cross(..)"))
        }
    })?;
    Ok(Cross {
        keyword,
        fields,
        namespace,
    })
}

fn parse_root_cross(meta: &ParseNestedMeta) -> syn::Result<RootCross> {
    let keyword = meta
        .path
        .get_ident()
        .expect("checked `cross_roots`")
        .clone();
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(
            "expected two roots or namespaces: `cross_roots(user, item)` crosses every feature of `user` with every feature of `item`",
        ));
    }
    let mut sides = Vec::new();
    let mut root = None;
    meta.parse_nested_meta(|inner| {
        if inner.input.peek(Token![=]) {
            if inner.path.is_ident("root") {
                string_value(&inner, &mut root, "root").map(drop)
            } else {
                Err(inner.error(format!(
                    "unknown key `{}` in cross_roots(..); expected two roots or namespaces and optionally `root = \"...\"`",
                    path_text(&inner.path)
                )))
            }
        } else if let Some(ident) = inner.path.get_ident() {
            if inner.input.peek(syn::token::Paren) {
                return Err(inner.error("expected a root or namespace name in cross_roots(..), not a list"));
            }
            sides.push(ident.clone());
            Ok(())
        } else {
            Err(inner.error("expected a root or namespace name in cross_roots(..)"))
        }
    })?;
    Ok(RootCross {
        keyword,
        sides,
        root,
    })
}

/// Parses one attribute of a field; `None` if it is not one of ours (or malformed).
fn parse_field_attr(attr: &Attribute, errors: &mut Errors) -> Option<Role> {
    let path = attr.path();
    if path.is_ident("features") {
        errors.spanned(
            attr,
            "#[features(..)] goes on the struct; mark a field with its kind alone, e.g. #[hash] or #[value]",
        );
        return None;
    }
    if path.is_ident("feature") {
        // The design's first spelling, `#[feature(hash)]`: `feature` is a built-in
        // attribute, so each kind is its own helper attribute now.
        if let syn::Meta::List(list) = &attr.meta {
            if let Ok(kind) = list.parse_args::<Ident>() {
                if Kind::ALL.iter().any(|(n, _)| kind == n) {
                    errors.spanned(
                        attr,
                        format!("#[feature({kind})] is spelled #[{kind}]: each feature kind is its own attribute"),
                    );
                }
            }
        }
        return None;
    }
    let &(_, kind) = Kind::ALL.iter().find(|(n, _)| path.is_ident(n))?;
    let mut role = Role {
        kind,
        path: path.clone(),
        namespace: None,
        root: None,
        mean: None,
    };
    match &attr.meta {
        syn::Meta::Path(_) => {}
        syn::Meta::NameValue(nv) => {
            errors.spanned(
                &nv.value,
                format!(
                    "expected #[{}] or #[{}(..)], not `= ...`",
                    kind.name(),
                    kind.name()
                ),
            );
        }
        syn::Meta::List(_) => {
            let r = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("namespace") && kind.takes_namespace() {
                    let lit = string_value(&meta, &mut role.namespace, "namespace")?;
                    check_namespace(&lit, errors);
                    Ok(())
                } else if meta.path.is_ident("root") && kind.takes_root() {
                    string_value(&meta, &mut role.root, "root").map(drop)
                } else if meta.path.is_ident("mean") && kind == Kind::Tokens {
                    if !meta.input.is_empty() && !meta.input.peek(Token![,]) {
                        return Err(meta.error("write `mean` alone: #[tokens(mean)] scales each token by 1/len"));
                    }
                    if role.mean.is_some() {
                        return Err(meta.error("`mean` is given twice"));
                    }
                    role.mean = meta.path.get_ident().cloned();
                    Ok(())
                } else if meta.path.is_ident("mean") {
                    Err(meta.error(format!(
                        "`mean` applies to #[tokens] only: it scales each token of a bag by 1/len, and #[{}] gives one feature",
                        kind.name()
                    )))
                } else {
                    Err(meta.error(format!(
                        "unknown key `{}` in #[{}]; expected {}",
                        path_text(&meta.path),
                        kind.name(),
                        kind.expected_keys()
                    )))
                }
            });
            if let Err(e) = r {
                errors.push(e);
            }
        }
    }
    Some(role)
}

/// Parses `key = "string"` into `slot`, refusing a second one.
fn string_value(
    meta: &ParseNestedMeta,
    slot: &mut Option<LitStr>,
    key: &str,
) -> syn::Result<LitStr> {
    let value = meta.value()?;
    let lit: LitStr = value
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("expected a string: `{key} = \"name\"`")))?;
    if slot.is_some() {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{key}` is given twice"),
        ));
    }
    *slot = Some(lit.clone());
    Ok(lit)
}

fn check_namespace(lit: &LitStr, errors: &mut Errors) {
    if lit.value().is_empty() {
        errors.spanned(
            lit,
            "a namespace needs a name; leave out `namespace` to use the field's name",
        );
    }
}

fn path_text(path: &syn::Path) -> String {
    let mut s = String::new();
    for (i, seg) in path.segments.iter().enumerate() {
        if i > 0 {
            s.push_str("::");
        }
        s.push_str(&seg.ident.to_string());
    }
    s
}

/// Which arguments each kind of attribute takes.
impl Kind {
    fn takes_namespace(self) -> bool {
        matches!(self, Kind::Hash | Kind::Value | Kind::Tokens)
    }

    fn takes_root(self) -> bool {
        matches!(
            self,
            Kind::Hash | Kind::Value | Kind::Tokens | Kind::Sparse | Kind::Dense
        )
    }

    fn expected_keys(self) -> &'static str {
        match (self.takes_namespace(), self.takes_root()) {
            (true, _) if self == Kind::Tokens => {
                "`namespace = \"...\"`, `root = \"...\"` or `mean`"
            }
            (true, _) => "`namespace = \"...\"` or `root = \"...\"`",
            (false, true) => "`root = \"...\"` (only hashed features have a namespace)",
            (false, false) => "no arguments",
        }
    }
}
