//! The syntax of `network![...]`: inputs, then `=>`-separated layers. Parsing stops at
//! the first malformed token; which names are layers, and what their arguments mean, is
//! for `check.rs`.

use super::table;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Error, Expr, Ident, Lit, Result, Token};

/// A width: the user's expression, and its value when the macro can evaluate it.
#[derive(Clone)]
pub struct Width {
    pub expr: TokenStream,
    pub value: Option<u128>,
    pub span: Span,
    pub braced: bool,
}

impl Width {
    pub fn from_expr(e: &Expr) -> Width {
        Width {
            expr: e.to_token_stream(),
            value: eval(e),
            span: e.span(),
            braced: matches!(e, Expr::Block(_)),
        }
    }

    /// A width only the compiler knows, such as a user layer's `Layer::Out` width.
    pub fn opaque(expr: TokenStream, span: Span) -> Width {
        Width {
            expr,
            value: None,
            span,
            braced: false,
        }
    }

    /// The width as a const generic argument.
    pub fn tokens(&self) -> TokenStream {
        let e = &self.expr;
        match self.value {
            // Literal values: no braces, so rustc's messages show plain numbers.
            Some(v) => syn::LitInt::new(&format!("{v}usize"), self.span).to_token_stream(),
            None if self.braced => e.clone(),
            None => quote::quote!({ #e }),
        }
    }

    /// The width as the user reads it in a message.
    pub fn show(&self) -> String {
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
pub enum Arg {
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

impl Arg {
    /// The argument as the user reads it in a message.
    fn show(&self) -> String {
        match self {
            Arg::Expr(e) => Width::from_expr(e).show(),
            Arg::Float(f) => f.to_string(),
            Arg::Named(n, v) => format!("{n} = {}", v.to_token_stream()),
        }
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

/// `Name` or `Name<args>`: an input, or a built-in layer.
pub struct Item {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub span: Span,
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

impl Item {
    /// The item as written, e.g. `Linear<8, 4>`.
    pub fn text(&self) -> String {
        if self.args.is_empty() {
            return self.name.to_string();
        }
        let args: Vec<String> = self.args.iter().map(Arg::show).collect();
        format!("{}<{}>", self.name, args.join(", "))
    }
}

/// One layer of the stack.
pub enum Layer {
    /// A name of the built-in table, with its arguments: `Linear<16>`, `ReLU`.
    Builtin(Item),
    /// `Act<F>` or `Act<F, N>`: a user's `Activation` `F`.
    Act {
        name: Ident,
        f: Box<syn::Type>,
        width: Option<Arg>,
    },
    /// Any other path: a user type implementing `Layer`.
    User(syn::TypePath),
}

impl Parse for Layer {
    fn parse(input: ParseStream) -> Result<Layer> {
        // A lone name (not the start of a path) of the table takes the built-ins' syntax.
        let lone = if input.peek(Ident) && !input.peek2(Token![::]) {
            Some(input.fork().parse::<Ident>()?.to_string())
        } else {
            None
        };
        match lone.as_deref() {
            Some(name) if table::builtin(name).is_some() || table::is_input(name) => {
                Ok(Layer::Builtin(input.parse()?))
            }
            Some("Act") => {
                let name: Ident = input.parse()?;
                input.parse::<Token![<]>().map_err(|_| {
                    Error::new(
                        name.span(),
                        "`Act` takes an activation type, e.g. `Act<MyActivation>`",
                    )
                })?;
                let f: Box<syn::Type> = input.parse()?;
                let width = if input.peek(Token![,]) {
                    input.parse::<Token![,]>()?;
                    Some(input.parse::<Arg>()?)
                } else {
                    None
                };
                input.parse::<Token![>]>()?;
                Ok(Layer::Act { name, f, width })
            }
            _ if input.peek(Ident) || input.peek(Token![::]) || input.peek(Token![<]) => {
                Ok(Layer::User(input.parse()?))
            }
            _ => Err(input.error("expected a layer, such as `Linear<16>` or `ReLU`")),
        }
    }
}

impl Layer {
    /// The layer as written, for messages.
    pub fn text(&self) -> String {
        match self {
            Layer::Builtin(item) => item.text(),
            Layer::Act { name, f, width, .. } => {
                let f = f.to_token_stream().to_string().replace(' ', "");
                match width {
                    Some(w) => format!("{name}<{f}, {}>", w.show()),
                    None => format!("{name}<{f}>"),
                }
            }
            Layer::User(path) => path.to_token_stream().to_string().replace(' ', ""),
        }
    }
}

/// One input: `[name:] Sparse<DIM>` or `[name:] Dense<N>`.
pub struct Root {
    pub group: Option<Ident>,
    pub dense: bool,
    pub width: Width,
}

pub struct Spec {
    pub roots: Vec<Root>,
    pub layers: Vec<Layer>,
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
            roots.push(root(group, item)?);
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
            layers.push(input.parse::<Layer>()?);
        }
        Ok(Spec { roots, layers })
    }
}

/// An input from its item: `Sparse<DIM>` or `Dense<N>`, one nonzero width.
fn root(group: Option<Ident>, item: Item) -> Result<Root> {
    let name = item.name.to_string();
    let dense = match name.as_str() {
        "Sparse" => false,
        "Dense" => true,
        other => {
            let hint = if table::builtin(other).is_some() {
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
                    "`{name}` takes one width, e.g. `{name}<{}>`",
                    if dense { "8" } else { "{1 << 20}" }
                ),
            ))
        }
    };
    if width.value == Some(0) {
        return Err(Error::new(
            width.span,
            format!("a `{name}` input needs a width of at least 1"),
        ));
    }
    Ok(Root {
        group,
        dense,
        width,
    })
}
