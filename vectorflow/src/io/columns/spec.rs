//! [`ColumnSpec`]: which columns of a table are the label, the weight and which kind of
//! feature, checked as the derive checks a row struct; its one-line description; and
//! the plan the rows are hashed by.

use super::list::{quoted, Column, Columns, Cross, Crosses};
use crate::features::group_id;
use crate::hash::{namespace_seed, slot_id};
use crate::io::ReadError;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// A column spec that cannot be used: an empty or malformed list, a column named twice,
/// a cross of a column that is not hashed, ... The message says which and what was
/// expected.
#[derive(Clone, PartialEq, Eq)]
pub struct SpecError(pub(super) String);

impl SpecError {
    pub(super) fn new(msg: String) -> SpecError {
        SpecError(msg)
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

debug_as_message!(SpecError);

impl std::error::Error for SpecError {}

/// Which columns of a CSV, JSON lines or Parquet file are the label, the weight, and
/// which features, chosen at run time: the rows read with it have exactly the feature
/// ids and values `#[derive(Features)]` gives a struct with those fields and attributes.
///
/// | spec | the derived struct's field |
/// | --- | --- |
/// | `--label clicked` | `#[label] clicked: f32` (`true`/`false` read as 1/0) |
/// | `--weight w` | `#[weight] w: f32` |
/// | `--hash carrier` | `#[hash] carrier: Option<Cow<str>>` (an integer or a bool as `#[hash]` of its type: the ids of its text) |
/// | `--hash "carrier(namespace=airline,root=user)"` | `#[hash(namespace = "airline", root = "user")]` |
/// | `--value distance` | `#[value] distance: Option<f32>` |
/// | `--tokens remarks` | `#[tokens] remarks: Option<Cow<str>>` |
/// | `--tokens "remarks(mean)"` | `#[tokens(mean)]` |
/// | `--cross origin*dest` | `#[features(cross(origin, dest))]` |
/// | `--cross "origin*dest(namespace=route)"` | `#[features(cross(origin, dest, namespace = "route"))]` |
///
/// The struct's fields are declared in the order hashed columns, numeric columns, token
/// columns (each in list order), which is the order a group's features are visited in,
/// then its crosses: a net trained on the rows is bit-identical to one trained on the
/// derived rows. As with `Option` fields, an empty CSV field, a JSON `null` or absent
/// key and a Parquet null give no feature; a label or weight must be present. A
/// non-finite value is an error naming the file, line and column when the row is read
/// (where the derive's row fails when trained on).
///
/// Parsed from the values of command-line flags with a builder (each list by its
/// [`FromStr`], as `clap` hands them over), checked when built as the derive checks a
/// struct:
///
/// ```
/// use vectorflow::io::columns::ColumnSpec;
/// let spec = ColumnSpec::builder()
///     .label("clicked")
///     .hash("carrier,origin,dest".parse()?)
///     .value("distance".parse()?)
///     .tokens("remarks".parse()?)
///     .cross("origin*dest".parse()?)
///     .build()?;
/// assert_eq!(
///     spec.to_string(),
///     "--label clicked --hash carrier,origin,dest --value distance --tokens remarks --cross origin*dest"
/// );
/// // The description reads back into the same spec: a model file records it.
/// assert_eq!(spec.to_string().parse::<ColumnSpec>()?, spec);
///
/// let twice = ColumnSpec::builder().hash("carrier".parse()?).value("carrier".parse()?).build();
/// assert!(twice.unwrap_err().to_string().contains("column `carrier` is named twice"));
/// # Ok::<(), vectorflow::io::columns::SpecError>(())
/// ```
///
/// `cross_roots`, `#[sparse]`, `#[dense]` and `#[aux]` have no column form.
#[derive(Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    label: Option<String>,
    weight: Option<String>,
    hash: Vec<Column>,
    value: Vec<Column>,
    tokens: Vec<Column>,
    crosses: Vec<Cross>,
}

impl fmt::Debug for ColumnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ColumnSpec({self})")
    }
}

/// Builds a [`ColumnSpec`]; see there. Each list method may be called more than once
/// (a repeated flag), adding to the list.
#[derive(Clone, Debug, Default)]
pub struct ColumnSpecBuilder {
    labels: Vec<String>,
    weights: Vec<String>,
    hash: Vec<Column>,
    value: Vec<Column>,
    tokens: Vec<Column>,
    crosses: Vec<Cross>,
}

impl ColumnSpecBuilder {
    /// The label column (`--label`).
    pub fn label(mut self, column: impl Into<String>) -> Self {
        self.labels.push(column.into());
        self
    }

    /// The row weight column (`--weight`).
    pub fn weight(mut self, column: impl Into<String>) -> Self {
        self.weights.push(column.into());
        self
    }

    /// Categorical columns, each value hashed in its namespace (`--hash`).
    pub fn hash(mut self, columns: Columns) -> Self {
        self.hash.extend(columns.0);
        self
    }

    /// Numeric columns, each one feature whose value is the number (`--value`).
    pub fn value(mut self, columns: Columns) -> Self {
        self.value.extend(columns.0);
        self
    }

    /// Text columns, each a bag of whitespace-separated tokens (`--tokens`).
    pub fn tokens(mut self, columns: Columns) -> Self {
        self.tokens.extend(columns.0);
        self
    }

    /// Crosses of hashed columns (`--cross`).
    pub fn cross(mut self, crosses: Crosses) -> Self {
        self.crosses.extend(crosses.0);
        self
    }

    /// Checks the spec as the derive checks a struct: one label and one weight at most,
    /// at least one feature column, no column named twice, `mean` on token columns only,
    /// crosses of two or more distinct `--hash` columns of one root, no cross twice.
    pub fn build(self) -> Result<ColumnSpec, SpecError> {
        let one = |list: Vec<String>, flag: &str| -> Result<Option<String>, SpecError> {
            match list.as_slice() {
                [] => Ok(None),
                [one] if one.is_empty() => Err(SpecError::new(format!(
                    "{flag} needs a column name, found an empty one"
                ))),
                [one] => Ok(Some(one.clone())),
                [a, b, ..] => Err(SpecError::new(format!(
                    "{flag} is given twice (`{a}` and `{b}`); a row has one"
                ))),
            }
        };
        let spec = ColumnSpec {
            label: one(self.labels, "--label")?,
            weight: one(self.weights, "--weight")?,
            hash: self.hash,
            value: self.value,
            tokens: self.tokens,
            crosses: self.crosses,
        };
        spec.check()?;
        Ok(spec)
    }
}

impl ColumnSpec {
    /// A builder, to which each flag's value is given.
    pub fn builder() -> ColumnSpecBuilder {
        ColumnSpecBuilder::default()
    }

    /// The label column, if any (rows read without one have a NaN label).
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The weight column, if any.
    pub fn weight(&self) -> Option<&str> {
        self.weight.as_deref()
    }

    /// The hashed columns.
    pub fn hashed(&self) -> &[Column] {
        &self.hash
    }

    /// The numeric columns.
    pub fn values(&self) -> &[Column] {
        &self.value
    }

    /// The token columns.
    pub fn token_bags(&self) -> &[Column] {
        &self.tokens
    }

    /// The crosses.
    pub fn crosses(&self) -> &[Cross] {
        &self.crosses
    }

    /// Every column the spec reads, in the order label, weight, hashed, numeric, tokens.
    pub fn columns(&self) -> Vec<&str> {
        let features = self.features().map(|(_, c)| c.name.as_str());
        self.label
            .iter()
            .chain(&self.weight)
            .map(String::as_str)
            .chain(features)
            .collect()
    }

    /// The feature groups (roots) the rows have, in order of first appearance; `""` is
    /// the default group. A network's `Sparse` inputs read these: a named input whose
    /// name is not among them reads no feature.
    pub fn roots(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for (_, c) in self.features() {
            if !out.contains(&c.group()) {
                out.push(c.group());
            }
        }
        out
    }

    /// The feature columns with their kind, in the order of the derived struct's fields.
    fn features(&self) -> impl Iterator<Item = (Kind, &Column)> {
        fn tagged(kind: Kind, list: &[Column]) -> impl Iterator<Item = (Kind, &Column)> {
            list.iter().map(move |c| (kind, c))
        }
        tagged(Kind::Hash, &self.hash)
            .chain(tagged(Kind::Value, &self.value))
            .chain(tagged(Kind::Tokens, &self.tokens))
    }

    fn check(&self) -> Result<(), SpecError> {
        let err = |m: String| Err(SpecError::new(m));
        if self.hash.is_empty() && self.value.is_empty() && self.tokens.is_empty() {
            return err(
                "the spec has no feature column; give at least one of --hash, --value or --tokens"
                    .into(),
            );
        }
        let mut seen: Vec<(&str, &str)> = Vec::new();
        let label = self.label.iter().map(|l| ("--label", l.as_str()));
        let weight = self.weight.iter().map(|w| ("--weight", w.as_str()));
        let features = self.features().map(|(k, c)| (k.flag(), c.name.as_str()));
        for (flag, name) in label.chain(weight).chain(features) {
            if name.is_empty() {
                return err(format!("{flag} names a column with an empty name"));
            }
            if let Some((prev, _)) = seen.iter().find(|(_, n)| *n == name) {
                let also = if *prev == flag {
                    format!("twice in {flag}")
                } else {
                    format!("in {prev} and in {flag}")
                };
                return err(format!(
                    "column `{name}` is named twice ({also}); a column is read as one thing"
                ));
            }
            seen.push((flag, name));
        }
        for (kind, c) in self.features() {
            if c.mean && kind != Kind::Tokens {
                return err(format!(
                    "{} {c}: `mean` applies to --tokens only: it scales each token of a bag by 1/len",
                    kind.flag()
                ));
            }
        }
        for (i, cross) in self.crosses.iter().enumerate() {
            let mut group: Option<(&str, &str)> = None;
            for (j, name) in cross.columns.iter().enumerate() {
                if cross.columns[..j].contains(name) {
                    return err(format!(
                        "--cross {cross}: `{name}` appears twice in the cross"
                    ));
                }
                let Some(col) = self.hash.iter().find(|c| c.name == *name) else {
                    let what = match seen.iter().find(|(_, n)| n == name) {
                        Some((flag, _)) => format!("a {flag} column"),
                        None => "not a column of the spec".to_string(),
                    };
                    return err(format!(
                        "--cross {cross}: `{name}` is {what}; a cross takes --hash columns, so add it to --hash"
                    ));
                };
                match group {
                    None => group = Some((name, col.group())),
                    Some((first, g)) if g != col.group() => {
                        return err(format!(
                            "--cross {cross}: the columns of a cross must be in one root, but `{first}` is in {} and `{name}` in {}",
                            root_name(g),
                            root_name(col.group())
                        ))
                    }
                    Some(_) => {}
                }
            }
            let twice = self.crosses[..i].iter().any(|c| {
                c.columns == cross.columns && c.namespace_name() == cross.namespace_name()
            });
            if twice {
                return err(format!("--cross {cross} is given twice"));
            }
        }
        Ok(())
    }

    /// Checks that the file has every column the spec reads: `columns` are its header
    /// (CSV), its columns and partition keys (Parquet) or the keys its rows have (JSON
    /// lines). The error names the missing column and lists those there are.
    pub fn check_columns(&self, file: &str, columns: &[&str]) -> Result<(), ReadError> {
        self.check_columns_at(file, 1, columns)
    }

    /// As [`check_columns`](Self::check_columns), the error at `line` (0: the whole file).
    pub(super) fn check_columns_at(
        &self,
        file: &str,
        line: u64,
        columns: &[&str],
    ) -> Result<(), ReadError> {
        let Some(missing) = self.columns().into_iter().find(|c| !columns.contains(c)) else {
            return Ok(());
        };
        let there: Vec<String> = columns.iter().map(|c| quoted(c)).collect();
        let there = match there.is_empty() {
            true => "none".to_string(),
            false => there.join(", "),
        };
        Err(ReadError::message(
            &Arc::from(file),
            line,
            Some(format!("column `{missing}`")),
            format!("the column spec reads `{missing}`, which the file does not have; its columns are {there}"),
        ))
    }

    /// The plan rows are hashed by.
    pub(super) fn plan(&self) -> Arc<Plan> {
        let names: Vec<String> = self.columns().into_iter().map(str::to_string).collect();
        let index = |name: &str| names.iter().position(|n| n == name).expect("checked");
        let mut groups: Vec<Group> = Vec::new();
        let mut group = |name: &str| match groups.iter().position(|g| g.name == name) {
            Some(i) => i,
            None => {
                groups.push(Group {
                    id: group_id(name),
                    name: name.to_string(),
                    ops: Vec::new(),
                });
                groups.len() - 1
            }
        };
        let mut ops: Vec<(usize, Op)> = Vec::new();
        for (kind, c) in self.features() {
            let col = index(&c.name);
            let ns = c.namespace_name();
            let op = match kind {
                Kind::Hash => Op::Hash {
                    col,
                    seed: namespace_seed(ns),
                },
                Kind::Value => Op::Value {
                    col,
                    slot: slot_id(ns),
                },
                Kind::Tokens => Op::Tokens {
                    col,
                    seed: namespace_seed(ns),
                    mean: c.mean,
                },
            };
            ops.push((group(c.group()), op));
        }
        for cross in &self.crosses {
            let first = self.hash.iter().find(|c| c.name == cross.columns[0]);
            let g = group(first.expect("checked").group());
            let cols = cross.columns.iter().map(|c| index(c)).collect();
            let seed = namespace_seed(&cross.namespace_name());
            ops.push((g, Op::Cross { cols, seed }));
        }
        for (g, op) in ops {
            groups[g].ops.push(op);
        }
        Arc::new(Plan {
            label: self.label.as_ref().map(|l| index(l)),
            weight: self.weight.as_ref().map(|w| index(w)),
            names,
            groups,
        })
    }
}

fn root_name(g: &str) -> String {
    match g {
        "" => "the default root".to_string(),
        g => format!("root `{g}`"),
    }
}

/// The spec's one-line description: the flags that give it, in a fixed order
/// (`--label clicked --weight w --hash carrier,origin --value distance --tokens remarks
/// --cross origin*dest`), with names quoted where needed. It reads back with
/// [`FromStr`] into an equal spec.
impl fmt::Display for ColumnSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = Vec::new();
        if let Some(l) = &self.label {
            parts.push(format!("--label {}", quoted(l)));
        }
        if let Some(w) = &self.weight {
            parts.push(format!("--weight {}", quoted(w)));
        }
        for (flag, list) in [
            ("--hash", &self.hash),
            ("--value", &self.value),
            ("--tokens", &self.tokens),
        ] {
            if !list.is_empty() {
                parts.push(format!("{flag} {}", Columns(list.clone())));
            }
        }
        if !self.crosses.is_empty() {
            parts.push(format!("--cross {}", Crosses(self.crosses.clone())));
        }
        f.write_str(&parts.join(" "))
    }
}

/// Reads a spec's description (its [`Display`](fmt::Display)), as a model file records
/// it: `--flag value` pairs separated by spaces.
impl FromStr for ColumnSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<ColumnSpec, SpecError> {
        let words = split_words(s)?;
        let mut b = ColumnSpec::builder();
        let mut it = words.chunks(2);
        for pair in it.by_ref() {
            let [flag, value] = pair else {
                return Err(SpecError::new(format!(
                    "in the column spec `{s}`: `{}` needs a value",
                    pair[0]
                )));
            };
            let single = |v: &str| -> Result<String, SpecError> {
                match v.parse::<Columns>()?.0.as_slice() {
                    [c] if c.namespace.is_none() && c.root.is_none() && !c.mean => {
                        Ok(c.name.clone())
                    }
                    _ => Err(SpecError::new(format!(
                        "in the column spec `{s}`: {flag} takes one column name, found `{v}`"
                    ))),
                }
            };
            b = match flag.as_str() {
                "--label" => b.label(single(value)?),
                "--weight" => b.weight(single(value)?),
                "--hash" => b.hash(value.parse()?),
                "--value" => b.value(value.parse()?),
                "--tokens" => b.tokens(value.parse()?),
                "--cross" => b.cross(value.parse()?),
                other => {
                    return Err(SpecError::new(format!(
                        "in the column spec `{s}`: unknown flag `{other}`; expected --label, --weight, --hash, --value, --tokens or --cross"
                    )))
                }
            };
        }
        b.build()
    }
}

/// Splits at spaces outside double quotes (which stay, for the lists' parser).
fn split_words(s: &str) -> Result<Vec<String>, SpecError> {
    let (mut words, mut word) = (Vec::new(), String::new());
    let (mut quoted, mut escaped) = (false, false);
    for c in s.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                continue;
            }
            _ => {}
        }
        word.push(c);
    }
    if quoted {
        return Err(SpecError::new(format!(
            "in the column spec `{s}`: a quote is not closed"
        )));
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}

/// A feature column's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Hash,
    Value,
    Tokens,
}

impl Kind {
    fn flag(self) -> &'static str {
        match self {
            Kind::Hash => "--hash",
            Kind::Value => "--value",
            Kind::Tokens => "--tokens",
        }
    }
}

/// A spec compiled for hashing rows: the columns read (cells are indexed by them) and,
/// per feature group, what each feature is made of, seeds computed once.
#[derive(Debug)]
pub(super) struct Plan {
    pub names: Vec<String>,
    pub label: Option<usize>,
    pub weight: Option<usize>,
    pub groups: Vec<Group>,
}

/// One feature group: its type-level id, its name, and its features in visiting order.
#[derive(Debug)]
pub(super) struct Group {
    pub id: u64,
    pub name: String,
    pub ops: Vec<Op>,
}

/// One feature (or bag) of a group, from column `col` (cells' index).
#[derive(Debug)]
pub(super) enum Op {
    Hash { col: usize, seed: u32 },
    Value { col: usize, slot: u32 },
    Tokens { col: usize, seed: u32, mean: bool },
    Cross { cols: Vec<usize>, seed: u32 },
}
