//! `network![...]`: parse the layer list, check every width, expand to a `Net` type.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Error, Expr, Ident, Lit, Result, Token};

pub fn expand(input: TokenStream) -> TokenStream {
    let spec = match syn::parse2::<Spec>(input) {
        Ok(spec) => spec,
        Err(e) => return fallback(e, None),
    };
    let out = spec.output_width();
    spec.expand().unwrap_or_else(|e| fallback(e, out))
}

/// The errors, and a network type that stands in for the one the macro could not build,
/// the way serde_derive emits a stand-in impl: its `OUT` outputs are the last `Linear`'s
/// width when known, so `new`, `predict` and `fit` on the model add no second error.
/// The errors sit in an array length, the one place in a type a `compile_error!` fits.
fn fallback(e: Error, out: Option<TokenStream>) -> TokenStream {
    let errors = e.to_compile_error();
    let out = out.unwrap_or_else(|| quote!(1usize));
    quote! {
        <[(); { #errors 0 }] as ::vectorflow::network::Checked<
            ::vectorflow::Net<::vectorflow::layers::Fallback<#out>, ::vectorflow::network::End<#out>>,
        >>::Net
    }
}

/// The largest `Sparse` width: feature ids are `u32`, so 2^32 slots hold every id.
const MAX_SPARSE: u128 = 1 << 32;

/// A width: the user's expression, and its value when the macro can evaluate it.
#[derive(Clone)]
struct Width {
    expr: TokenStream,
    value: Option<u128>,
    span: Span,
    braced: bool,
}

impl Width {
    fn from_expr(e: &Expr) -> Width {
        Width {
            expr: e.to_token_stream(),
            value: eval(e),
            span: e.span(),
            braced: matches!(e, Expr::Block(_)),
        }
    }
    fn tokens(&self) -> TokenStream {
        let e = &self.expr;
        match self.value {
            // Literal values: no braces, so rustc's messages show plain numbers.
            Some(v) => syn::LitInt::new(&format!("{v}usize"), self.span).to_token_stream(),
            None if self.braced => e.clone(),
            None => quote!({ #e }),
        }
    }
    fn show(&self) -> String {
        match self.value {
            Some(v) => v.to_string(),
            None => self.expr.to_string(),
        }
    }
}

/// Evaluates integer-literal arithmetic (`16`, `{1 << 20}`, `(4 * 8) + 1`).
fn eval(e: &Expr) -> Option<u128> {
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Int(i) => i.base10_parse().ok(),
            _ => None,
        },
        Expr::Paren(p) => eval(&p.expr),
        Expr::Group(g) => eval(&g.expr),
        Expr::Block(b) if b.block.stmts.len() == 1 => match &b.block.stmts[0] {
            syn::Stmt::Expr(e, None) => eval(e),
            _ => None,
        },
        Expr::Binary(b) => {
            let (l, r) = (eval(&b.left)?, eval(&b.right)?);
            match b.op {
                syn::BinOp::Add(_) => l.checked_add(r),
                syn::BinOp::Sub(_) => l.checked_sub(r),
                syn::BinOp::Mul(_) => l.checked_mul(r),
                syn::BinOp::Div(_) => l.checked_div(r),
                syn::BinOp::Rem(_) => l.checked_rem(r),
                syn::BinOp::Shl(_) => u32::try_from(r).ok().and_then(|r| l.checked_shl(r)),
                syn::BinOp::Shr(_) => u32::try_from(r).ok().and_then(|r| l.checked_shr(r)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// One argument between `<` and `>`: a width, a rate, or `bias = false`.
enum Arg {
    Expr(Expr),
    Float(syn::LitFloat),
    Named(Ident, Expr),
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> Result<Arg> {
        if input.peek(syn::LitFloat) {
            return Ok(Arg::Float(input.parse()?));
        }
        if input.peek(Ident) && input.peek2(Token![=]) {
            let name: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            return Ok(Arg::Named(name, parse_atom(input)?));
        }
        Ok(Arg::Expr(parse_atom(input)?))
    }
}

/// A literal, a path or a braced block: what a const generic argument may be.
fn parse_atom(input: ParseStream) -> Result<Expr> {
    if input.peek(syn::token::Brace) {
        Ok(Expr::Block(input.parse()?))
    } else if input.peek(Lit) {
        Ok(Expr::Lit(input.parse()?))
    } else if input.peek(Ident) || input.peek(Token![::]) {
        Ok(Expr::Path(input.parse()?))
    } else {
        Err(input.error("expected a width: an integer, a const, or a `{ expression }` in braces"))
    }
}

/// `Name` or `Name<args>`.
struct Item {
    name: Ident,
    args: Vec<Arg>,
    span: Span,
}

impl Parse for Item {
    fn parse(input: ParseStream) -> Result<Item> {
        let name: Ident = input.parse().map_err(|e| {
            Error::new(e.span(), "expected a layer, such as `Linear<16>` or `ReLU`")
        })?;
        let mut args = Vec::new();
        let mut span = name.span();
        if input.peek(Token![<]) {
            input.parse::<Token![<]>()?;
            loop {
                args.push(input.parse::<Arg>()?);
                if input.peek(Token![,]) {
                    input.parse::<Token![,]>()?;
                    continue;
                }
                break;
            }
            let close = input.parse::<Token![>]>()?;
            span = name.span().join(close.span).unwrap_or(span);
        }
        Ok(Item { name, args, span })
    }
}

/// One input: `[name:] Sparse<DIM>` or `[name:] Dense<N>`.
struct RootSpec {
    group: Option<Ident>,
    dense: bool,
    width: Width,
}

struct Spec {
    roots: Vec<RootSpec>,
    layers: Vec<Item>,
}

impl Parse for Spec {
    fn parse(input: ParseStream) -> Result<Spec> {
        if input.is_empty() {
            return Err(Error::new(
                Span::call_site(),
                "a network needs inputs and layers, e.g. `network![Sparse<{1 << 20}> => Linear<1>]`",
            ));
        }
        let mut roots = Vec::new();
        let mut last_root;
        loop {
            let group = if input.peek(Ident) && input.peek2(Token![:]) && !input.peek2(Token![::]) {
                let g: Ident = input.parse()?;
                input.parse::<Token![:]>()?;
                Some(g)
            } else {
                None
            };
            let item: Item = input.parse()?;
            last_root = item.span;
            let dense = match item.name.to_string().as_str() {
                "Sparse" => false,
                "Dense" => true,
                other => {
                    let hint = if LAYERS.contains(&other) {
                        format!("a network starts with its inputs, not with `{other}`: ")
                    } else {
                        format!("unknown input `{other}`: ")
                    };
                    return Err(Error::new(
                        item.name.span(),
                        format!("{hint}expected `Sparse<DIM>` or `Dense<N>`"),
                    ));
                }
            };
            let width = match item.args.as_slice() {
                [Arg::Expr(e)] => Width::from_expr(e),
                _ => {
                    return Err(Error::new(
                        item.span,
                        format!(
                            "`{}` takes one width, e.g. `{}<{}>`",
                            item.name,
                            item.name,
                            if dense { "8" } else { "{1 << 20}" }
                        ),
                    ))
                }
            };
            if width.value == Some(0) {
                return Err(Error::new(
                    width.span,
                    format!("a `{}` input needs a width of at least 1", item.name),
                ));
            }
            roots.push(RootSpec {
                group,
                dense,
                width,
            });
            if input.peek(Token![,]) {
                input.parse::<Token![,]>()?;
                continue;
            }
            break;
        }
        if input.is_empty() {
            return Err(Error::new(
                last_root,
                "a network needs layers after its inputs: add `=> Linear<OUT>` here, e.g. `=> Linear<1>`",
            ));
        }
        let mut layers = Vec::new();
        while !input.is_empty() {
            input
                .parse::<Token![=>]>()
                .map_err(|e| Error::new(e.span(), "expected `=>` between layers"))?;
            layers.push(input.parse::<Item>()?);
        }
        Ok(Spec { roots, layers })
    }
}

const LAYERS: &[&str] = &["Linear", "ReLU", "TanH", "Sigmoid", "SeLU", "Dropout"];

impl Spec {
    /// The network's output width, if its last `Linear` states a usable one.
    fn output_width(&self) -> Option<TokenStream> {
        let last = self.layers.iter().rev().find(|l| l.name == "Linear")?;
        let w = last.args.iter().rev().find_map(|a| match a {
            Arg::Expr(e) => Some(Width::from_expr(e)),
            _ => None,
        })?;
        match w.value {
            Some(v) if (1..=u32::MAX as u128).contains(&v) => Some(w.tokens()),
            Some(_) => None,
            None => Some(w.tokens()),
        }
    }

    fn expand(self) -> Result<TokenStream> {
        let vf = quote!(::vectorflow);
        let mut errors: Option<Error> = None;
        let mut push = |e: Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        let mut checks = Vec::new();

        // Inputs: each (group, kind) once.
        let mut seen = Vec::new();
        for r in &self.roots {
            let key = (
                r.group.as_ref().map(|g| g.to_string()).unwrap_or_default(),
                r.dense,
            );
            if seen.contains(&key) {
                let what = if key.0.is_empty() {
                    "the row's default feature group".to_string()
                } else {
                    format!("feature group `{}`", key.0)
                };
                let span = r.group.as_ref().map(|g| g.span()).unwrap_or(r.width.span);
                push(Error::new(
                    span,
                    format!(
                        "two `{}` inputs read {what}; name each input after its own group",
                        if r.dense { "Dense" } else { "Sparse" }
                    ),
                ));
            }
            seen.push(key);
            match r.width.value {
                Some(v) if !r.dense && v > MAX_SPARSE => push(Error::new(
                    r.width.span,
                    format!(
                        "a `Sparse` input has at most 2^32 = {MAX_SPARSE} slots, one per feature id (ids are u32); this one has {v}"
                    ),
                )),
                // A named const: checked where it is known, in the type's width checks.
                None if !r.dense => {
                    let w = r.width.tokens();
                    checks.push(quote_spanned!(r.width.span=> ::vectorflow::layers::check_sparse_dim::<#w>();));
                }
                _ => {}
            }
        }
        let roots = self.roots.iter().rev().fold(quote!(()), |rest, r| {
            let w = r.width.tokens();
            let g = r.group.as_ref().map(|g| g.to_string()).unwrap_or_default();
            let kind = if r.dense {
                quote!(Dense)
            } else {
                quote!(Sparse)
            };
            quote!((#vf::layers::#kind<#w, { #vf::features::group_id(#g) }>, #rest))
        });
        let in_width = if self.roots.len() == 1 {
            self.roots[0].width.clone()
        } else {
            let parts = self.roots.iter().map(|r| r.width.tokens());
            Width {
                expr: quote!(0 #(+ #parts)*),
                value: self
                    .roots
                    .iter()
                    .try_fold(0u128, |a, r| a.checked_add(r.width.value?)),
                span: self.roots[0].width.span,
                braced: false,
            }
        };
        let inputs_desc = self
            .roots
            .iter()
            .map(|r| {
                format!(
                    "{}<{}>",
                    if r.dense { "Dense" } else { "Sparse" },
                    r.width.show()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");

        let Some(first) = self.layers.first() else {
            return Err(Error::new(
                Span::call_site(),
                "expected layers after the inputs",
            ));
        };
        if first.name != "Linear" {
            push(Error::new(
                first.name.span(),
                format!(
                    "the first layer after the inputs must be `Linear<OUT>`, which maps the inputs ({inputs_desc}) to OUT units; found `{}`",
                    first.name
                ),
            ));
        }

        let mut prev = in_width;
        let mut prev_desc = format!("the inputs ({inputs_desc})");
        let mut input_layer = None;
        let mut stack = Vec::new();
        for (k, item) in self.layers.iter().enumerate() {
            let name = item.name.to_string();
            let text = layer_text(item);
            let check_in = |explicit: &Expr,
                            prev: &Width,
                            prev_desc: &str,
                            checks: &mut Vec<TokenStream>|
             -> Option<Error> {
                let w = Width::from_expr(explicit);
                match (w.value, prev.value) {
                    (Some(a), Some(b)) if a != b => Some(Error::new(
                        w.span,
                        format!("`{text}` takes an input of width {a}, but {prev_desc} outputs width {b}"),
                    )),
                    (Some(_), Some(_)) => None,
                    _ => {
                        // Named consts: the type system compares them. Every token of the
                        // call is spanned at the user's width, so the error points there.
                        let (e, p) = (w.tokens(), prev.tokens());
                        checks.push(quote_spanned!(w.span=> ::vectorflow::network::same_width::<#e, #p>();));
                        None
                    }
                }
            };
            let out = match name.as_str() {
                "Linear" => {
                    let mut widths = Vec::new();
                    let mut bias = true;
                    for a in &item.args {
                        match a {
                            Arg::Expr(e) => widths.push(e),
                            Arg::Named(n, v) if n == "bias" => match v {
                                Expr::Lit(syn::ExprLit {
                                    lit: Lit::Bool(b), ..
                                }) => bias = b.value,
                                _ => push(Error::new(
                                    v.span(),
                                    "expected `bias = true` or `bias = false`",
                                )),
                            },
                            Arg::Named(n, _) => push(Error::new(
                                n.span(),
                                format!(
                                    "unknown option `{n}` of `Linear`; expected `bias = false`"
                                ),
                            )),
                            Arg::Float(f) => {
                                push(Error::new(f.span(), "a `Linear` width must be an integer"))
                            }
                        }
                    }
                    let out = match widths.as_slice() {
                        [out] => Width::from_expr(out),
                        [inp, out] => {
                            if let Some(e) = check_in(inp, &prev, &prev_desc, &mut checks) {
                                push(e);
                            }
                            Width::from_expr(out)
                        }
                        _ => {
                            push(Error::new(item.span, "`Linear` takes its output width, `Linear<OUT>`, or both widths, `Linear<IN, OUT>`, and optionally `bias = false`"));
                            return Err(errors.expect("an error was pushed"));
                        }
                    };
                    if out.value == Some(0) {
                        push(Error::new(
                            out.span,
                            "a `Linear` layer needs at least one output",
                        ));
                    }
                    let (i, o) = (prev.tokens(), out.tokens());
                    if k == 0 {
                        input_layer = Some(quote!(#vf::layers::Input<#roots, #o, #bias>));
                    } else {
                        stack.push(quote!(#vf::layers::Linear<#i, #o, #bias>));
                    }
                    out
                }
                "ReLU" | "TanH" | "Sigmoid" | "SeLU" | "Dropout" => {
                    let mut rate = None;
                    for a in &item.args {
                        match a {
                            Arg::Expr(e) => {
                                if let Some(e) = check_in(e, &prev, &prev_desc, &mut checks) {
                                    push(e);
                                }
                            }
                            Arg::Float(f) if name == "Dropout" => rate = Some(f.clone()),
                            Arg::Float(f) => push(Error::new(
                                f.span(),
                                format!("`{name}` takes no rate; only `Dropout` does"),
                            )),
                            Arg::Named(n, _) => push(Error::new(
                                n.span(),
                                format!("`{name}` has no option `{n}`"),
                            )),
                        }
                    }
                    let n = prev.tokens();
                    if name == "Dropout" {
                        let ppm = match rate {
                            None => {
                                push(Error::new(
                                    item.span,
                                    "`Dropout` needs its rate, e.g. `Dropout<0.5>`",
                                ));
                                0
                            }
                            Some(f) => match f.base10_parse::<f64>() {
                                Ok(r) if (0.0..1.0).contains(&r) => (r * 1e6).round() as u32,
                                _ => {
                                    push(Error::new(
                                        f.span(),
                                        "a dropout rate must be at least 0 and below 1",
                                    ));
                                    0
                                }
                            },
                        };
                        stack.push(quote!(#vf::layers::Dropout<#n, #ppm>));
                    } else {
                        let act = Ident::new(&name, item.name.span());
                        stack.push(quote!(#vf::layers::Act<#vf::layers::#act, #n>));
                    }
                    prev.clone()
                }
                _ => {
                    push(Error::new(
                        item.name.span(),
                        format!(
                            "unknown layer `{name}`; expected one of {}",
                            LAYERS
                                .iter()
                                .map(|l| format!("`{l}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                    prev.clone()
                }
            };
            prev_desc = format!("the previous layer `{text}`");
            prev = out;
        }
        if let Some(e) = errors {
            return Err(e);
        }
        let end = prev.tokens();
        let stack = stack.iter().rev().fold(
            quote!(#vf::network::End<#end>),
            |rest, l| quote!(#vf::network::Seq<#l, #rest>),
        );
        let net = quote!(#vf::Net<#input_layer, #stack>);
        Ok(if checks.is_empty() {
            net
        } else {
            quote!(<[(); { #(#checks)* 0 }] as #vf::network::Checked<#net>>::Net)
        })
    }
}

fn layer_text(item: &Item) -> String {
    if item.args.is_empty() {
        return item.name.to_string();
    }
    let args: Vec<String> = item
        .args
        .iter()
        .map(|a| match a {
            Arg::Expr(e) => Width::from_expr(e).show(),
            Arg::Float(f) => f.to_string(),
            Arg::Named(n, v) => format!("{n} = {}", v.to_token_stream()),
        })
        .collect();
    format!("{}<{}>", item.name, args.join(", "))
}
