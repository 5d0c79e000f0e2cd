//! Validation of a parsed `network!`: every layer's name against the layer table
//! ([`super::table`]), its arguments, and the width each layer takes against the width the one before it outputs. Widths the
//! macro can evaluate are compared here; the others become [`Check`]s the compiler runs.

use super::parse::{Arg, Item, Layer, Root, Spec, Width};
use super::table::{builtin, near_miss, Builtin};
use proc_macro2::Span;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Error, Expr, Lit};

/// The largest `Sparse` width: feature ids are `u32`, so 2^32 slots hold every id.
const MAX_SPARSE: u128 = 1 << 32;

/// The activation function of an `Act` layer.
pub enum ActFn {
    /// One of `vectorflow::layers`, by name.
    Builtin(&'static str, Span),
    /// A user's type implementing `Activation`.
    User(Box<syn::Type>),
}

/// A layer of the stack, resolved.
pub enum Kind {
    Linear { bias: bool },
    Act(ActFn),
    Dropout { ppm: u32 },
    User(syn::TypePath),
}

/// A layer with the width it takes (the previous layer's output) and the width it
/// outputs.
pub struct Resolved {
    pub kind: Kind,
    pub input: Width,
    pub out: Width,
}

/// A rule only the compiler can decide, emitted as a const call at the user's token.
pub enum Check {
    /// A named-const `Sparse` width is at most 2^32.
    SparseDim(Width),
    /// A width written in a layer equals the previous layer's output.
    Written { written: Width, prev: Width },
    /// A user layer's `Layer::In` width equals the previous layer's output.
    LayerIn { layer: syn::TypePath, prev: Width },
    /// `F` of `Act<F>` implements `Activation`.
    Activation(Box<syn::Type>),
}

/// A checked network.
pub struct Net {
    pub roots: Vec<Root>,
    /// The input layer's outputs and bias.
    pub input: (Width, bool),
    /// The layers after the input layer.
    pub stack: Vec<Resolved>,
    pub out: Width,
    pub checks: Vec<Check>,
}

/// Accumulates errors, combined into one `syn::Error`.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, e: Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
}

pub fn check(spec: Spec) -> syn::Result<Net> {
    let mut errors = Errors::default();
    let mut checks = Vec::new();
    check_roots(&spec.roots, &mut errors, &mut checks);
    let inputs_desc = spec
        .roots
        .iter()
        .map(|r| {
            let kind = if r.dense { "Dense" } else { "Sparse" };
            format!("{kind}<{}>", r.width.show())
        })
        .collect::<Vec<_>>()
        .join(", ");

    let mut prev = in_width(&spec.roots);
    let mut prev_desc = format!("the inputs ({inputs_desc})");
    let mut input = None;
    let mut stack = Vec::new();
    for (k, layer) in spec.layers.iter().enumerate() {
        let r = resolve(layer, &prev, &mut errors, &mut checks);
        let text = layer.text();
        if let Some(written) = &r.written {
            check_input(written, &prev, &text, &prev_desc, &mut errors, &mut checks);
        }
        match (k, r.kind) {
            (0, Some(Kind::Linear { bias })) => input = Some((r.out.clone(), bias)),
            (0, Some(_)) => errors.push(first_not_linear(layer, &inputs_desc)),
            (_, Some(kind)) => stack.push(Resolved {
                kind,
                input: prev.clone(),
                out: r.out.clone(),
            }),
            // No kind: `resolve` reported the layer's mistake.
            (_, None) => {}
        }
        prev_desc = format!("the previous layer `{text}`");
        prev = r.out;
    }
    match (errors.0, input) {
        (Some(e), _) => Err(e),
        (None, Some(input)) => Ok(Net {
            roots: spec.roots,
            input,
            stack,
            out: prev,
            checks,
        }),
        (None, None) => unreachable!("a network without a first `Linear` has an error"),
    }
}

/// Each input reads its own (group, kind), and a `Sparse` one has at most 2^32 slots.
fn check_roots(roots: &[Root], errors: &mut Errors, checks: &mut Vec<Check>) {
    let mut seen = Vec::new();
    for r in roots {
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
            errors.push(Error::new(
                span,
                format!(
                    "two `{}` inputs read {what}; name each input after its own group",
                    if r.dense { "Dense" } else { "Sparse" }
                ),
            ));
        }
        seen.push(key);
        match r.width.value {
            Some(v) if !r.dense && v > MAX_SPARSE => errors.push(Error::new(
                r.width.span,
                format!(
                    "a `Sparse` input has at most 2^32 = {MAX_SPARSE} slots, one per feature id (ids are u32); this one has {v}"
                ),
            )),
            // A named const: checked where it is known, in the type's width checks.
            None if !r.dense => checks.push(Check::SparseDim(r.width.clone())),
            _ => {}
        }
    }
}

/// The input layer's width: the sum of its inputs'.
fn in_width(roots: &[Root]) -> Width {
    if let [only] = roots {
        return only.width.clone();
    }
    let parts = roots.iter().map(|r| r.width.tokens());
    Width {
        expr: quote!(0 #(+ #parts)*),
        value: roots
            .iter()
            .try_fold(0u128, |a, r| a.checked_add(r.width.value?)),
        span: roots[0].width.span,
        braced: false,
    }
}

fn first_not_linear(layer: &Layer, inputs_desc: &str) -> Error {
    let (span, name) = match layer {
        Layer::Builtin(item) => (item.name.span(), item.name.to_string()),
        Layer::Act { name, .. } => (name.span(), layer.text()),
        Layer::User(path) => (path.span(), layer.text()),
    };
    Error::new(
        span,
        format!(
            "the first layer after the inputs must be `Linear<OUT>`, which maps the inputs ({inputs_desc}) to OUT units; found `{name}`"
        ),
    )
}

/// The input width a layer states: a width written in it, or a user layer's own.
enum Written {
    Width(Width),
    Layer(syn::TypePath),
}

/// One layer, built-in or the user's: its kind (`None` after an error), the input width
/// it states, and its output width.
struct Resolution {
    kind: Option<Kind>,
    written: Option<Written>,
    out: Width,
}

fn resolve(
    layer: &Layer,
    prev: &Width,
    errors: &mut Errors,
    checks: &mut Vec<Check>,
) -> Resolution {
    match layer {
        Layer::Builtin(item) => {
            let name = item.name.to_string();
            match builtin(&name) {
                Some(Builtin::Linear) => linear(item, errors),
                Some(Builtin::Act(f)) => {
                    let written = widths_only(item, errors);
                    Resolution {
                        kind: Some(Kind::Act(ActFn::Builtin(f, item.name.span()))),
                        written,
                        out: prev.clone(),
                    }
                }
                Some(Builtin::Dropout) => dropout(item, prev, errors),
                None => {
                    errors.push(Error::new(
                        item.name.span(),
                        format!(
                            "`{name}` is an input; inputs come first, separated by commas: `network![Sparse<DIM>, ctx: Dense<N> => Linear<OUT>]`"
                        ),
                    ));
                    Resolution {
                        kind: None,
                        written: None,
                        out: unknown(item.span),
                    }
                }
            }
        }
        Layer::Act { f, width, .. } => {
            let written = match width {
                Some(Arg::Expr(e)) => Some(Written::Width(Width::from_expr(e))),
                Some(a) => {
                    errors.push(Error::new(
                        arg_span(a),
                        "the second argument of `Act` is its width, e.g. `Act<MyActivation, 16>`",
                    ));
                    None
                }
                None => None,
            };
            checks.push(Check::Activation(f.clone()));
            Resolution {
                kind: Some(Kind::Act(ActFn::User(f.clone()))),
                written,
                out: prev.clone(),
            }
        }
        Layer::User(path) => {
            if let Some(e) = near_miss(path) {
                errors.push(e);
                return Resolution {
                    kind: None,
                    written: None,
                    out: prev.clone(),
                };
            }
            Resolution {
                kind: Some(Kind::User(path.clone())),
                written: Some(Written::Layer(path.clone())),
                out: Width::opaque(
                    quote!(<<#path as ::vectorflow::layers::Layer>::Out as ::vectorflow::layers::Buf>::WIDTH),
                    path.span(),
                ),
            }
        }
    }
}

/// The output width of a layer with a mistake: unknown, so the layers after it are not
/// compared with a guess.
fn unknown(span: Span) -> Width {
    Width::opaque(quote!(1usize), span)
}

fn arg_span(a: &Arg) -> Span {
    match a {
        Arg::Expr(e) => e.span(),
        Arg::Float(f) => f.span(),
        Arg::Named(n, _) => n.span(),
    }
}

/// Compares the input width a layer states with the previous layer's output: here when
/// both are known, else through a [`Check`].
fn check_input(
    written: &Written,
    prev: &Width,
    text: &str,
    prev_desc: &str,
    errors: &mut Errors,
    checks: &mut Vec<Check>,
) {
    match written {
        Written::Width(w) => match (w.value, prev.value) {
            (Some(a), Some(b)) if a != b => errors.push(Error::new(
                w.span,
                format!("`{text}` takes an input of width {a}, but {prev_desc} outputs width {b}"),
            )),
            (Some(_), Some(_)) => {}
            _ => checks.push(Check::Written {
                written: w.clone(),
                prev: prev.clone(),
            }),
        },
        Written::Layer(path) => checks.push(Check::LayerIn {
            layer: path.clone(),
            prev: prev.clone(),
        }),
    }
}

/// `Linear<OUT>`, `Linear<IN, OUT>`, with `bias = false` optionally.
fn linear(item: &Item, errors: &mut Errors) -> Resolution {
    let mut widths = Vec::new();
    let mut bias = true;
    for a in &item.args {
        match a {
            Arg::Expr(e) => widths.push(e),
            Arg::Named(n, v) if n == "bias" => match v {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Bool(b), ..
                }) => bias = b.value,
                _ => errors.push(Error::new(
                    v.span(),
                    "expected `bias = true` or `bias = false`",
                )),
            },
            Arg::Named(n, _) => errors.push(Error::new(
                n.span(),
                format!("unknown option `{n}` of `Linear`; expected `bias = false`"),
            )),
            Arg::Float(f) => {
                errors.push(Error::new(f.span(), "a `Linear` width must be an integer"))
            }
        }
    }
    let (written, out) = match widths.as_slice() {
        [out] => (None, Width::from_expr(out)),
        [inp, out] => (
            Some(Written::Width(Width::from_expr(inp))),
            Width::from_expr(out),
        ),
        _ => {
            errors.push(Error::new(item.span, "`Linear` takes its output width, `Linear<OUT>`, or both widths, `Linear<IN, OUT>`, and optionally `bias = false`"));
            return Resolution {
                kind: None,
                written: None,
                out: unknown(item.span),
            };
        }
    };
    if out.value == Some(0) {
        errors.push(Error::new(
            out.span,
            "a `Linear` layer needs at least one output",
        ));
    }
    Resolution {
        kind: Some(Kind::Linear { bias }),
        written,
        out,
    }
}

/// The arguments of a layer that takes at most its input width (`ReLU<16>`).
fn widths_only(item: &Item, errors: &mut Errors) -> Option<Written> {
    let name = &item.name;
    let mut written = None;
    for a in &item.args {
        match a {
            Arg::Expr(e) => written = Some(Written::Width(Width::from_expr(e))),
            Arg::Float(_) if name == "Dropout" => {}
            Arg::Float(f) => errors.push(Error::new(
                f.span(),
                format!("`{name}` takes no rate; only `Dropout` does"),
            )),
            Arg::Named(n, _) => errors.push(Error::new(
                n.span(),
                format!("`{name}` has no option `{n}`"),
            )),
        }
    }
    written
}

/// `Dropout<RATE>`, optionally with its width: `Dropout<16, 0.5>`.
fn dropout(item: &Item, prev: &Width, errors: &mut Errors) -> Resolution {
    let written = widths_only(item, errors);
    let rate = item.args.iter().rev().find_map(|a| match a {
        Arg::Float(f) => Some(f),
        _ => None,
    });
    let ppm = match rate {
        None => {
            errors.push(Error::new(
                item.span,
                "`Dropout` needs its rate, e.g. `Dropout<0.5>`",
            ));
            0
        }
        Some(f) => match f.base10_parse::<f64>() {
            Ok(r) if (0.0..1.0).contains(&r) => (r * 1e6).round() as u32,
            _ => {
                errors.push(Error::new(
                    f.span(),
                    "a dropout rate must be at least 0 and below 1",
                ));
                0
            }
        },
    };
    Resolution {
        kind: Some(Kind::Dropout { ppm }),
        written,
        out: prev.clone(),
    }
}
