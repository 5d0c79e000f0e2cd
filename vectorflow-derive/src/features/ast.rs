//! The typed description of a `#[derive(Features)]` input (parsed by `parse.rs`), and
//! every question asked of it: a field's group and namespace, the groups of a row, the
//! fields of a cross and of a `cross_roots`, the width of a dense type. The check and the
//! code generators all ask here, so that they agree, and this module uses none of them
//! (as serde_derive's `internals`).

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::{
    Attribute, Expr, GenericArgument, Generics, Ident, LitStr, PathArguments, Type, Visibility,
};

/// The kinds that give sparse features: what a group's `visit` reads and a cross crosses.
pub const SPARSE: [Kind; 4] = [Kind::Hash, Kind::Value, Kind::Tokens, Kind::Sparse];

/// Accumulates errors, combined into one `syn::Error`.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn spanned<T: quote::ToTokens>(&mut self, tokens: T, msg: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, msg));
    }

    pub fn finish(self) -> Option<syn::Error> {
        self.0
    }
}

/// A row struct.
pub struct Input<'a> {
    pub ident: &'a Ident,
    /// The struct's attributes, as written (for the spec's fingerprint).
    pub attrs: &'a [Attribute],
    pub vis: &'a Visibility,
    pub generics: &'a Generics,
    pub fields: Vec<Field<'a>>,
    pub crosses: Vec<Cross>,
    pub root_crosses: Vec<RootCross>,
}

/// One named field and the feature kinds written on it (the check allows at most one).
pub struct Field<'a> {
    pub ident: &'a Ident,
    pub vis: &'a Visibility,
    /// The field's name without `r#`, used as the default namespace and in errors.
    pub name: String,
    pub ty: &'a Type,
    pub roles: Vec<Role>,
    /// The field's attributes, as written (for the spec's fingerprint).
    pub attrs: &'a [Attribute],
}

impl Field<'_> {
    /// The field's kind of feature, if any (after the check: its only one).
    pub fn role(&self) -> Option<&Role> {
        self.roles.first()
    }

    /// The feature group: the role's `root`, or `""` for the default group.
    pub fn group(&self) -> String {
        self.role().map(Role::group).unwrap_or_default()
    }

    /// Whether the field is a feature of one of `kinds` in group `g`.
    pub fn in_group(&self, g: &str, kinds: &[Kind]) -> bool {
        self.role()
            .is_some_and(|r| kinds.contains(&r.kind) && r.group() == g)
    }

    /// The namespace: given, or the field's name.
    pub fn namespace_name(&self) -> String {
        self.role()
            .and_then(|r| r.namespace.as_ref())
            .map(LitStr::value)
            .unwrap_or_else(|| self.name.clone())
    }

    fn is_sparse(&self) -> bool {
        self.role().is_some_and(|r| SPARSE.contains(&r.kind))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Label,
    Weight,
    Hash,
    Value,
    Tokens,
    Sparse,
    Dense,
    Aux,
    Skip,
}

impl Kind {
    pub const ALL: [(&'static str, Kind); 9] = [
        ("label", Kind::Label),
        ("weight", Kind::Weight),
        ("hash", Kind::Hash),
        ("value", Kind::Value),
        ("tokens", Kind::Tokens),
        ("sparse", Kind::Sparse),
        ("dense", Kind::Dense),
        ("aux", Kind::Aux),
        ("skip", Kind::Skip),
    ];

    pub fn name(self) -> &'static str {
        Kind::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// One feature-kind attribute on a field, e.g. `#[hash(namespace = "route")]`.
pub struct Role {
    pub kind: Kind,
    /// The attribute's name token, where errors about the attribute point.
    pub path: syn::Path,
    pub namespace: Option<LitStr>,
    pub root: Option<LitStr>,
    /// `#[tokens(mean)]`: each token weighs 1/len instead of 1.
    pub mean: Option<Ident>,
}

impl Role {
    /// The feature group: `root`, or `""` for the default group.
    pub fn group(&self) -> String {
        self.root.as_ref().map(LitStr::value).unwrap_or_default()
    }
}

/// `cross(a, b, ..., namespace = "...")` in `#[features(..)]`.
pub struct Cross {
    /// The `cross` keyword, where errors about the whole cross point.
    pub keyword: Ident,
    pub fields: Vec<Ident>,
    pub namespace: Option<LitStr>,
}

impl Cross {
    /// The namespace: given, or the fields' names joined with `^`.
    pub fn namespace_name(&self) -> String {
        match &self.namespace {
            Some(ns) => ns.value(),
            None => self
                .fields
                .iter()
                .map(|f| f.unraw().to_string())
                .collect::<Vec<_>>()
                .join("^"),
        }
    }
}

/// `cross_roots(a, b, root = "...")` in `#[features(..)]`: every sparse feature of the
/// root or namespace `a` crossed with every one of `b`.
pub struct RootCross {
    /// The `cross_roots` keyword, where errors about the whole cross point.
    pub keyword: Ident,
    /// The roots or namespaces crossed, as written.
    pub sides: Vec<Ident>,
    /// The feature group the crossed features go to, if given.
    pub root: Option<LitStr>,
}

impl<'a> Input<'a> {
    /// The struct's type parameters.
    pub fn type_params(&self) -> Vec<&'a Ident> {
        self.generics.type_params().map(|p| &p.ident).collect()
    }

    /// The first field of `kind`.
    pub fn find(&self, kind: Kind) -> Option<&Field<'a>> {
        self.fields
            .iter()
            .find(|f| f.role().is_some_and(|r| r.kind == kind))
    }

    /// The feature groups, in order of first appearance.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        for f in &self.fields {
            if let Some(role) = f.role() {
                if SPARSE.contains(&role.kind) || role.kind == Kind::Dense {
                    let g = role.group();
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
        }
        for rc in &self.root_crosses {
            let g = self.group_guess(rc);
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        groups
    }

    /// The fields a checked cross names, in its order.
    pub fn cross_fields(&self, c: &Cross) -> Vec<&Field<'a>> {
        c.fields
            .iter()
            .map(|n| self.fields.iter().find(|f| f.ident == n).expect("checked"))
            .collect()
    }

    /// The group of a checked cross: its fields'.
    pub fn cross_group(&self, c: &Cross) -> String {
        self.cross_fields(c)[0].group()
    }

    /// The sparse fields a side of `cross_roots` names: a root's if some field has
    /// `root = "name"`, else the fields of the namespace `name` (a root takes precedence,
    /// so that `#[hash(root = "user")] user: ..` still names the root).
    fn side(&self, name: &Ident) -> Result<Vec<&Field<'a>>, String> {
        let n = name.unraw().to_string();
        let in_root: Vec<&Field> = self
            .fields
            .iter()
            .filter(|f| f.role().is_some_and(|r| r.root.is_some()) && f.group() == n)
            .collect();
        if !in_root.is_empty() {
            let sparse: Vec<&Field> = in_root.into_iter().filter(|f| f.is_sparse()).collect();
            if sparse.is_empty() {
                return Err(format!(
                    "the root `{n}` has only #[dense] fields; cross_roots(..) crosses sparse features (#[hash], #[value], #[tokens], #[sparse])"
                ));
            }
            return Ok(sparse);
        }
        let in_ns: Vec<&Field> = self
            .fields
            .iter()
            .filter(|f| {
                f.role()
                    .is_some_and(|r| matches!(r.kind, Kind::Hash | Kind::Value | Kind::Tokens))
                    && f.namespace_name() == n
            })
            .collect();
        if !in_ns.is_empty() {
            return Ok(in_ns);
        }
        let field = self.fields.iter().find(|f| f.name == n);
        Err(match field.and_then(|f| f.role()) {
            Some(r) if r.kind == Kind::Sparse => format!(
                "`{n}` is a #[sparse] field, which has no namespace; put it in a root (`root = \"...\"`) to cross it"
            ),
            Some(r) if r.namespace.is_some() => format!(
                "`{n}` is a field in the namespace \"{}\"; cross_roots(..) names roots and namespaces, not fields",
                field.expect("found").namespace_name()
            ),
            Some(r) => format!(
                "`{n}` is a #[{}] field, which gives no sparse feature to cross",
                r.kind.name()
            ),
            None => format!(
                "the struct has no root or namespace named `{n}`; cross_roots(..) names a `root = \"...\"` or the namespace of #[hash], #[value] or #[tokens] fields (by default the field's name)"
            ),
        })
    }

    /// Resolves `rc`, or the errors, each with the token it points at.
    pub fn resolve(&self, rc: &RootCross) -> Result<Resolved<'_, 'a>, Vec<(Span, String)>> {
        if rc.sides.len() != 2 {
            return Err(vec![(
                rc.keyword.span(),
                format!(
                    "cross_roots(..) crosses two roots or namespaces, e.g. `cross_roots(user, item)`, but {} given",
                    match rc.sides.len() {
                        0 => "none is".to_string(),
                        1 => "one is".to_string(),
                        k => format!("{k} are"),
                    }
                ),
            )]);
        }
        let (a, b) = (&rc.sides[0], &rc.sides[1]);
        if a.unraw() == b.unraw() {
            return Err(vec![(
                b.span(),
                format!(
                    "cross_roots({a}, {b}) crosses `{a}` with itself, which is not supported; cross two different roots or namespaces, or list pairs of fields with cross(x, y)"
                ),
            )]);
        }
        let mut errors = Vec::new();
        let sa = self.side(a).map_err(|e| errors.push((a.span(), e)));
        let sb = self.side(b).map_err(|e| errors.push((b.span(), e)));
        let (Ok(sa), Ok(sb)) = (sa, sb) else {
            return Err(errors);
        };
        if let Some(f) = sb.iter().find(|f| sa.iter().any(|g| g.ident == f.ident)) {
            return Err(vec![(
                b.span(),
                format!(
                    "`{a}` and `{b}` share the field `{}`, which would be crossed with itself; cross roots or namespaces without common fields",
                    f.name
                ),
            )]);
        }
        let group = match &rc.root {
            Some(r) => r.value(),
            None => {
                let first = sa[0].group();
                if sa.iter().chain(&sb).all(|f| f.group() == first) {
                    first
                } else {
                    String::new()
                }
            }
        };
        Ok(Resolved {
            sides: [sa, sb],
            group,
        })
    }

    /// The group `rc` feeds, as far as it can be told (for the fallback impls).
    pub fn group_guess(&self, rc: &RootCross) -> String {
        self.resolve(rc)
            .map(|r| r.group)
            .unwrap_or_else(|_| rc.root.as_ref().map(LitStr::value).unwrap_or_default())
    }
}

/// A checked `cross_roots`: the fields of each side, and the group it feeds.
pub struct Resolved<'i, 'a> {
    pub sides: [Vec<&'i Field<'a>>; 2],
    pub group: String,
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
pub fn float_type(ty: &Type) -> Option<&Type> {
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
    fn any(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Punct(p) => matches!(p.as_char(), '&' | '\''),
            TokenTree::Group(g) => any(g.stream()),
            _ => false,
        })
    }
    any(quote::ToTokens::to_token_stream(ty))
}

/// Whether a type names one of `params`.
pub fn mentions(ty: &Type, params: &[&Ident]) -> bool {
    fn any(tokens: TokenStream, params: &[&Ident]) -> bool {
        tokens.into_iter().any(|t| match t {
            TokenTree::Ident(i) => params.iter().any(|p| **p == i),
            TokenTree::Group(g) => any(g.stream(), params),
            _ => false,
        })
    }
    any(quote::ToTokens::to_token_stream(ty), params)
}
