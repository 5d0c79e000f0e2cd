//! Network specs: the topology line model files store, and a short form.
//!
//! Both are one grammar: elements separated by `=>` or `>`, the inputs first (roots
//! joined by `+`), then the input layer's width, then the layers. An element is
//! `Sparse(N)`, `Dense(N)` (a root, optionally `name: ` first) or their short forms
//! `sparse:N`, `dense:N` (`name:sparse:N`); `Linear(a->b)` or a width `b` (with
//! `, no bias` / ` nobias` for no bias); `ReLU`, `TanH`, `Sigmoid`, `SeLU` (any case);
//! `Dropout(r)` or `dropout:r`. Widths are decimal, `2^k` or `1<<k`.

use crate::layers::MAX_SPARSE_DIM;
use std::fmt;

/// An input (root) of a network spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootSpec {
    /// The feature group it reads; `""` for the default group.
    pub name: String,
    /// `Sparse` (hashed ids, `width` slots) or `Dense` (`width` values).
    pub sparse: bool,
    /// Its dimension (`Sparse`) or width (`Dense`).
    pub width: usize,
}

/// An element-wise activation of the built-in layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActFn {
    /// [`crate::layers::ReLU`].
    ReLU,
    /// [`crate::layers::TanH`].
    TanH,
    /// [`crate::layers::Sigmoid`].
    Sigmoid,
    /// [`crate::layers::SeLU`].
    SeLU,
}

impl ActFn {
    /// Every activation, with its topology name.
    const ALL: [(ActFn, &'static str); 4] = [
        (ActFn::ReLU, "ReLU"),
        (ActFn::TanH, "TanH"),
        (ActFn::Sigmoid, "Sigmoid"),
        (ActFn::SeLU, "SeLU"),
    ];

    /// Its name in a topology line (the typed layer's [`crate::layers::Activation::NAME`]).
    pub fn name(self) -> &'static str {
        ActFn::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |a| a.1)
    }
}

/// A layer of the dense stack after the input layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerSpec {
    /// `Linear(inp->out)`, with biases when `bias`.
    Linear {
        /// Its input width.
        inp: usize,
        /// Its output width.
        out: usize,
        /// Whether it has biases.
        bias: bool,
    },
    /// An activation.
    Act(ActFn),
    /// Dropout at `ppm` parts per million ([`crate::layers::Dropout`]).
    Dropout {
        /// The rate in parts per million.
        ppm: u32,
    },
}

/// A network's shape, parsed from a spec ([`Spec::parse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The inputs, in order.
    pub roots: Vec<RootSpec>,
    /// The input layer's output width.
    pub width: usize,
    /// Whether the input layer has biases.
    pub bias: bool,
    /// The layers after the input layer.
    pub layers: Vec<LayerSpec>,
}

/// A spec that does not describe a network: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// The part of the spec at fault (the element before it too, for context).
    pub at: String,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at.is_empty() {
            f.write_str(&self.what)
        } else {
            write!(f, "at {:?}: {}", self.at, self.what)
        }
    }
}

impl std::error::Error for SpecError {}

/// An element of a spec, as written, and the separator before it.
struct Elem<'a> {
    text: &'a str,
    sep: &'a str,
}

/// Splits at `=>` and `>` outside parentheses (the `>` of `->` is not a separator).
fn split(spec: &str) -> Vec<Elem<'_>> {
    let b = spec.as_bytes();
    let (mut out, mut depth, mut start, mut sep) = (Vec::new(), 0i32, 0, "");
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b'>' if depth == 0 && (i == 0 || b[i - 1] != b'-') => {
                let from = if i > 0 && b[i - 1] == b'=' { i - 1 } else { i };
                out.push(Elem {
                    text: spec[start..from].trim(),
                    sep,
                });
                sep = if from < i { "=>" } else { ">" };
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(Elem {
        text: spec[start..].trim(),
        sep,
    });
    out
}

/// A width: decimal (with `_`), `2^k` or `1<<k`.
fn width(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let pow = |k: &str| -> Result<usize, String> {
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| format!("{s} is not a width"))?;
        1usize
            .checked_shl(k)
            .filter(|_| k < usize::BITS)
            .ok_or_else(|| format!("{s} is too large"))
    };
    let n = if let Some((base, k)) = s.split_once('^') {
        if base.trim() != "2" {
            return Err(format!("{s} is not a width; powers are written 2^k"));
        }
        pow(k)?
    } else if let Some((one, k)) = s.split_once("<<") {
        if one.trim() != "1" {
            return Err(format!("{s} is not a width; shifts are written 1<<k"));
        }
        pow(k)?
    } else {
        s.replace('_', "")
            .parse()
            .map_err(|_| format!("{s} is not a width (a number, 2^k or 1<<k)"))?
    };
    if n == 0 {
        return Err("a width of 0; every width is at least 1".into());
    }
    Ok(n)
}

/// The Levenshtein distance between `a` and `b`.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `; did you mean x?` for the name among `names` closest to `word`, if close.
fn suggest(word: &str, names: &[&str]) -> String {
    let low = word.to_lowercase();
    names
        .iter()
        .map(|n| (distance(&low, &n.to_lowercase()), n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| {
            // In the case the spec was written in.
            let n = if word == low {
                n.to_lowercase()
            } else {
                n.to_string()
            };
            format!("; did you mean {n}?")
        })
        .unwrap_or_default()
}

/// The names a layer element may start with.
const LAYERS: [&str; 6] = ["Linear", "ReLU", "TanH", "Sigmoid", "SeLU", "Dropout"];

/// `name(arg)` or `name:arg` split into `(name, Some(arg))`, else `(elem, None)`.
fn call(elem: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(open) = elem.find('(') {
        let inner = elem[open + 1..]
            .strip_suffix(')')
            .ok_or_else(|| format!("{elem} has no closing parenthesis"))?;
        Ok((elem[..open].trim(), Some(inner)))
    } else if let Some((name, arg)) = elem.split_once(':') {
        Ok((name.trim(), Some(arg)))
    } else {
        Ok((elem, None))
    }
}

/// Whether `s` starts with a root kind's name (any case).
fn is_root(s: &str) -> bool {
    let low = s.trim_start().to_lowercase();
    low.starts_with("sparse") || low.starts_with("dense")
}

/// One root: `[name: ]Sparse(N)`, `Dense(N)`, `[name:]sparse:N`, `dense:N`.
fn root(text: &str) -> Result<RootSpec, String> {
    let (name, rest) = match text.find(':') {
        Some(i) if is_root(&text[i + 1..]) => (text[..i].trim(), text[i + 1..].trim()),
        _ => ("", text),
    };
    let ident = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !(name.is_empty() || ident) {
        return Err(format!(
            "{name:?} is not an input's name (letters, digits and _)"
        ));
    }
    let (kind, arg) = call(rest)?;
    let sparse = match kind.to_lowercase().as_str() {
        "sparse" => true,
        "dense" => false,
        _ => {
            return Err(format!(
                "unknown input {kind}{}; an input is sparse:DIM or dense:N",
                suggest(kind, &["Sparse", "Dense"])
            ))
        }
    };
    let arg = arg.ok_or_else(|| format!("{kind} needs its width, e.g. {kind}:2^20"))?;
    let width = width(arg)?;
    if sparse && width > MAX_SPARSE_DIM {
        return Err(format!(
            "a sparse input has at most 2^32 slots (ids are u32), not {width}"
        ));
    }
    Ok(RootSpec {
        name: name.to_string(),
        sparse,
        width,
    })
}

/// A `Linear` element (`Linear(a->b[, no bias])`, `b`, `b nobias`): its input width if
/// written, output width and bias; `None` if the element is not a `Linear`.
fn linear(text: &str) -> Result<Option<(Option<usize>, usize, bool)>, String> {
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        let (w, bias) = match text.strip_suffix("nobias") {
            Some(w) => (w, false),
            None => (text, true),
        };
        return Ok(Some((None, width(w)?, bias)));
    }
    let (name, arg) = call(text)?;
    if !name.eq_ignore_ascii_case("linear") {
        return Ok(None);
    }
    let arg = arg.ok_or("Linear needs its widths, e.g. Linear(16->1)")?;
    let (shape, bias) = match arg.split_once(',') {
        Some((shape, "no bias" | " no bias")) => (shape, false),
        Some((_, other)) => return Err(format!("unknown Linear option {:?}", other.trim())),
        None => (arg, true),
    };
    let Some((a, b)) = shape.split_once("->") else {
        return Err(format!("Linear({arg}) is not Linear(in->out)"));
    };
    Ok(Some((Some(width(a)?), width(b)?, bias)))
}

/// A layer after the input layer, whose input width is `prev`.
fn layer(text: &str, prev: usize) -> Result<(LayerSpec, usize), String> {
    if let Some((inp, out, bias)) = linear(text)? {
        if let Some(inp) = inp.filter(|&i| i != prev) {
            return Err(format!(
                "{text} takes {inp} inputs, but the layer before gives {prev}"
            ));
        }
        return Ok((
            LayerSpec::Linear {
                inp: prev,
                out,
                bias,
            },
            out,
        ));
    }
    let (name, arg) = call(text)?;
    if let Some((f, _)) = ActFn::ALL
        .iter()
        .find(|(_, n)| n.eq_ignore_ascii_case(name))
    {
        if arg.is_some() {
            return Err(format!("{name} takes no argument"));
        }
        return Ok((LayerSpec::Act(*f), prev));
    }
    if name.eq_ignore_ascii_case("dropout") {
        let arg = arg.ok_or("Dropout needs its rate, e.g. dropout:0.3")?;
        let ppm = match arg.trim().parse::<f64>() {
            // As `network!` rounds `Dropout<r>`.
            Ok(r) if (0.0..1.0).contains(&r) => (r * 1e6).round() as u32,
            _ => return Err(format!("a dropout rate is in [0, 1), not {}", arg.trim())),
        };
        return Ok((LayerSpec::Dropout { ppm }, prev));
    }
    if name.is_empty() {
        return Err("an empty layer".into());
    }
    Err(format!("unknown layer {name}{}", suggest(name, &LAYERS)))
}

impl Spec {
    /// Parses a spec: the topology line of a model file
    /// (`Sparse(1048576) => Linear(1048576->16) => ReLU => Linear(16->1)`) or its short
    /// form (`sparse:2^20 > 16 > relu > 1`); see the [module docs](self).
    ///
    /// ```
    /// use vectorflow::dynnet::Spec;
    ///
    /// let short = Spec::parse("sparse:2^20 > 16 > relu > 1").unwrap();
    /// let long = Spec::parse("Sparse(1048576) => Linear(1048576->16) => ReLU => Linear(16->1)");
    /// assert_eq!(long.unwrap(), short);
    /// assert_eq!(short.outputs(), 1);
    /// let e = Spec::parse("sparse:2^20 > 16 > rleu > 1").unwrap_err();
    /// assert_eq!(e.to_string(), r#"at "16 > rleu": unknown layer rleu; did you mean relu?"#);
    /// ```
    pub fn parse(spec: &str) -> Result<Spec, SpecError> {
        let elems = split(spec);
        let at = |i: usize| -> String {
            let e: &Elem = &elems[i];
            match i {
                0 => e.text.to_string(),
                _ => format!("{} {} {}", elems[i - 1].text, e.sep, e.text),
            }
        };
        let fail = |i: usize, what: String| SpecError { at: at(i), what };
        let first = elems[0].text;
        if first.is_empty() {
            return Err(SpecError {
                at: String::new(),
                what: "an empty spec; a network starts with its input, e.g. \
                       sparse:2^20 > 16 > relu > 1"
                    .into(),
            });
        }
        if !is_root(first) && !first.contains(':') {
            return Err(fail(
                0,
                "a network starts with its input (sparse:DIM or dense:N), e.g. \
                 sparse:2^20 > 16 > relu > 1"
                    .into(),
            ));
        }
        // Roots are joined by `+` in a topology line, by `,` in `network!`.
        let roots = first
            .split(['+', ','])
            .map(|r| root(r.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|what| fail(0, what))?;
        let mut names: Vec<&str> = roots.iter().map(|r| r.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            let which = if w[0].is_empty() {
                "the default group".to_string()
            } else {
                format!("group {}", w[0])
            };
            return Err(fail(
                0,
                format!("two inputs read {which}; name them apart (user:sparse:N + item:sparse:N)"),
            ));
        }
        let total: usize = roots.iter().map(|r| r.width).sum();
        let Some(second) = elems.get(1) else {
            return Err(fail(
                0,
                "the inputs need a first layer after them, e.g. sparse:2^20 > 1".into(),
            ));
        };
        let (inp, width, bias) = match linear(second.text).map_err(|w| fail(1, w))? {
            Some(l) => l,
            None => {
                return Err(fail(
                    1,
                    format!(
                        "the layer after the inputs is a Linear (a width, e.g. 16), not {}",
                        second.text
                    ),
                ))
            }
        };
        if let Some(inp) = inp.filter(|&i| i != total) {
            return Err(fail(
                1,
                format!(
                    "{} takes {inp} inputs, but the inputs have {total}",
                    second.text
                ),
            ));
        }
        let mut prev = width;
        let mut layers = Vec::new();
        for (i, e) in elems.iter().enumerate().skip(2) {
            let (l, next) = layer(e.text, prev).map_err(|w| fail(i, w))?;
            layers.push(l);
            prev = next;
        }
        Ok(Spec {
            roots,
            width,
            bias,
            layers,
        })
    }

    /// The topology line, as [`crate::Net::topology`] writes it for the typed net of
    /// this shape (root names are not part of it).
    pub fn topology(&self) -> String {
        let mut s = String::new();
        for (i, r) in self.roots.iter().enumerate() {
            if i > 0 {
                s.push_str(" + ");
            }
            let kind = if r.sparse { "Sparse" } else { "Dense" };
            s.push_str(&format!("{kind}({})", r.width));
        }
        s.push_str(" => ");
        let total = self.roots.iter().map(|r| r.width).sum();
        crate::layers::linear::describe(total, self.width, self.bias, &mut s);
        for l in &self.layers {
            s.push_str(" => ");
            match *l {
                LayerSpec::Linear { inp, out, bias } => {
                    crate::layers::linear::describe(inp, out, bias, &mut s)
                }
                LayerSpec::Act(f) => s.push_str(f.name()),
                LayerSpec::Dropout { ppm } => crate::layers::dropout::describe(ppm, &mut s),
            }
        }
        s
    }

    /// The output width.
    pub fn outputs(&self) -> usize {
        self.layers.iter().fold(self.width, |w, l| match *l {
            LayerSpec::Linear { out, .. } => out,
            _ => w,
        })
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.topology())
    }
}

impl std::str::FromStr for Spec {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Spec, SpecError> {
        Spec::parse(s)
    }
}
