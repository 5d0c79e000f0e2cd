//! The lists a column spec is written in (`carrier,origin(namespace=airport)`,
//! `origin*dest`): their types, their parser and their canonical text.

use super::SpecError;
use std::fmt;
use std::str::FromStr;

/// One feature column of a [`ColumnSpec`](super::ColumnSpec) list, with the arguments
/// the derive's attribute takes: `carrier`, `carrier(namespace=airline)`,
/// `user_id(root=user)`, `remarks(mean)` (for `--tokens`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Column {
    /// The column's name in the file (a CSV header, a JSON key, a Parquet column).
    pub name: String,
    /// `namespace = "..."`: the namespace hashed in, by default the column's name.
    pub namespace: Option<String>,
    /// `root = "..."`: the feature group (a named input of the network), by default the
    /// unnamed one.
    pub root: Option<String>,
    /// `mean` (token bags only): each token weighs 1/len instead of 1.
    pub mean: bool,
}

impl Column {
    /// A column of this name, with no arguments.
    pub fn new(name: impl Into<String>) -> Column {
        Column {
            name: name.into(),
            namespace: None,
            root: None,
            mean: false,
        }
    }

    /// The namespace its values are hashed in: given, or its name.
    pub fn namespace_name(&self) -> &str {
        self.namespace.as_deref().unwrap_or(&self.name)
    }

    /// The feature group: its root, or `""` for the default group.
    pub fn group(&self) -> &str {
        self.root.as_deref().unwrap_or("")
    }
}

/// A list of feature columns, `carrier,origin(namespace=airport),dest`: the value of
/// `--hash`, `--value` or `--tokens`. Names with spaces or any of `,*()="` are written
/// in double quotes (`"dep time"`, `\"` for a quote).
///
/// ```
/// use vectorflow::io::columns::Columns;
/// let list: Columns = "carrier,origin(namespace=airport, root=route),remarks(mean)".parse()?;
/// assert_eq!(list.0[1].name, "origin");
/// assert_eq!(list.0[1].namespace.as_deref(), Some("airport"));
/// assert_eq!(list.0[1].root.as_deref(), Some("route"));
/// assert!(list.0[2].mean);
/// assert_eq!(list.to_string(), "carrier,origin(namespace=airport,root=route),remarks(mean)");
/// assert!("carrier,,dest".parse::<Columns>().is_err());
/// # Ok::<(), vectorflow::io::columns::SpecError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Columns(pub Vec<Column>);

/// A cross of hashed columns, `origin*dest` or `origin*dest(namespace=route)`, as the
/// derive's `#[features(cross(origin, dest))]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cross {
    /// The `--hash` columns crossed, in order (at least two).
    pub columns: Vec<String>,
    /// `namespace = "..."`, by default the columns' names joined with `^`.
    pub namespace: Option<String>,
}

impl Cross {
    /// The namespace: given, or the columns' names joined with `^` (`origin^dest`).
    pub fn namespace_name(&self) -> String {
        match &self.namespace {
            Some(ns) => ns.clone(),
            None => self.columns.join("^"),
        }
    }
}

/// A list of crosses, `origin*dest,carrier*hour(namespace=ch)`: the value of `--cross`.
///
/// ```
/// use vectorflow::io::columns::Crosses;
/// let list: Crosses = "origin*dest,carrier*hour(namespace=ch)".parse()?;
/// assert_eq!(list.0[0].columns, ["origin", "dest"]);
/// assert_eq!(list.0[1].namespace_name(), "ch");
/// assert!("origin".parse::<Crosses>().is_err()); // a cross needs two columns
/// # Ok::<(), vectorflow::io::columns::SpecError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Crosses(pub Vec<Cross>);

impl FromStr for Columns {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Columns, SpecError> {
        empty(s, "columns", "carrier,origin")?;
        let mut p = Lexer::new(s);
        let mut out = Vec::new();
        loop {
            let name = p.name("a column name")?;
            let mut col = Column::new(name);
            if p.eat('(') {
                p.args(s, |key, value| match (key, value) {
                    ("namespace", Some(v)) => set(&mut col.namespace, v, "namespace", s),
                    ("root", Some(v)) => set(&mut col.root, v, "root", s),
                    ("mean", None) if !col.mean => {
                        col.mean = true;
                        Ok(())
                    }
                    ("mean", None) => Err(SpecError::new(format!("in `{s}`: `mean` is given twice"))),
                    (key, _) => Err(SpecError::new(format!(
                        "in `{s}`: unknown argument `{key}` of column `{}`; expected `namespace=...`, `root=...` or (for --tokens) `mean`",
                        col.name
                    ))),
                })?;
            }
            out.push(col);
            if !p.list_continues(s)? {
                return Ok(Columns(out));
            }
        }
    }
}

impl FromStr for Crosses {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Crosses, SpecError> {
        empty(s, "crosses", "origin*dest,carrier*hour")?;
        let mut p = Lexer::new(s);
        let mut out = Vec::new();
        loop {
            let mut columns = vec![p.name("a column name")?];
            while p.eat('*') {
                columns.push(p.name("a column name after `*`")?);
            }
            if columns.len() < 2 {
                return Err(SpecError::new(format!(
                    "in `{s}`: a cross needs at least two columns, as `origin*dest`, found `{}` alone",
                    columns[0]
                )));
            }
            let mut namespace = None;
            if p.eat('(') {
                p.args(s, |key, value| match (key, value) {
                    ("namespace", Some(v)) => set(&mut namespace, v, "namespace", s),
                    (key, _) => Err(SpecError::new(format!(
                        "in `{s}`: unknown argument `{key}` of a cross; expected `namespace=...`"
                    ))),
                })?;
            }
            out.push(Cross { columns, namespace });
            if !p.list_continues(s)? {
                return Ok(Crosses(out));
            }
        }
    }
}

/// An empty list is an error: a flag given with nothing is a mistake, not "none".
fn empty(s: &str, what: &str, example: &str) -> Result<(), SpecError> {
    if s.trim().is_empty() {
        return Err(SpecError::new(format!(
            "an empty list of {what}; expected names separated by `,`, as `{example}`"
        )));
    }
    Ok(())
}

fn set(slot: &mut Option<String>, value: String, key: &str, s: &str) -> Result<(), SpecError> {
    if slot.is_some() {
        return Err(SpecError::new(format!("in `{s}`: `{key}` is given twice")));
    }
    if value.is_empty() {
        return Err(SpecError::new(format!(
            "in `{s}`: `{key}` needs a name; leave it out for the default"
        )));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads names, quoted or bare, and punctuation, skipping spaces around them.
struct Lexer<'a> {
    rest: &'a str,
}

/// The characters that end a bare name.
const SPECIAL: &[char] = &[',', '*', '(', ')', '=', '"'];

impl<'a> Lexer<'a> {
    fn new(s: &'a str) -> Self {
        Lexer { rest: s }
    }

    fn eat(&mut self, c: char) -> bool {
        self.rest = self.rest.trim_start();
        match self.rest.strip_prefix(c) {
            Some(r) => {
                self.rest = r;
                true
            }
            None => false,
        }
    }

    fn found(&self) -> String {
        match self.rest.chars().next() {
            Some(c) => format!("`{c}`"),
            None => "the end".to_string(),
        }
    }

    fn name(&mut self, what: &str) -> Result<String, SpecError> {
        self.rest = self.rest.trim_start();
        if let Some(r) = self.rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = r.char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.rest = &r[i + 1..];
                        return Ok(out);
                    }
                    '\\' => match chars.next() {
                        Some((_, e)) => out.push(e),
                        None => break,
                    },
                    c => out.push(c),
                }
            }
            return Err(SpecError::new(format!(
                "a quoted name that ends with `\"`, found `\"{r}`"
            )));
        }
        let end = self
            .rest
            .find(|c: char| SPECIAL.contains(&c) || c.is_whitespace())
            .unwrap_or(self.rest.len());
        if end == 0 {
            return Err(SpecError::new(format!(
                "expected {what}, found {}",
                self.found()
            )));
        }
        let (name, rest) = self.rest.split_at(end);
        self.rest = rest;
        Ok(name.to_string())
    }

    /// `key=value, key, ...)` after a `(`, each handed to `f`.
    fn args(
        &mut self,
        s: &str,
        mut f: impl FnMut(&str, Option<String>) -> Result<(), SpecError>,
    ) -> Result<(), SpecError> {
        loop {
            let key = self
                .name("an argument")
                .map_err(|e| SpecError::new(format!("in `{s}`: {}", e.0)))?;
            let value = if self.eat('=') {
                if self.rest.trim_start().starts_with([',', ')']) {
                    Some(String::new())
                } else {
                    Some(
                        self.name("a value")
                            .map_err(|e| SpecError::new(format!("in `{s}`: {}", e.0)))?,
                    )
                }
            } else {
                None
            };
            f(&key, value)?;
            if self.eat(')') {
                return Ok(());
            }
            if !self.eat(',') {
                return Err(SpecError::new(format!(
                    "in `{s}`: expected `,` or `)` after an argument, found {}",
                    self.found()
                )));
            }
        }
    }

    /// After an item: true at a `,` (another item follows), false at the end.
    fn list_continues(&mut self, s: &str) -> Result<bool, SpecError> {
        if self.eat(',') {
            return Ok(true);
        }
        if self.rest.trim().is_empty() {
            return Ok(false);
        }
        Err(SpecError::new(format!(
            "in `{s}`: expected `,` or the end of the list, found {}",
            self.found()
        )))
    }
}

/// A name as the lists write it: bare, or quoted when it has a space or a special
/// character.
pub(super) fn quoted(name: &str) -> String {
    let plain = !name.is_empty()
        && !name
            .chars()
            .any(|c| SPECIAL.contains(&c) || c.is_whitespace() || c == '\\');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

impl fmt::Display for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&quoted(&self.name))?;
        let mut args = Vec::new();
        if let Some(ns) = &self.namespace {
            args.push(format!("namespace={}", quoted(ns)));
        }
        if let Some(root) = &self.root {
            args.push(format!("root={}", quoted(root)));
        }
        if self.mean {
            args.push("mean".to_string());
        }
        if !args.is_empty() {
            write!(f, "({})", args.join(","))?;
        }
        Ok(())
    }
}

impl fmt::Display for Columns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(Column::to_string).collect();
        f.write_str(&items.join(","))
    }
}

impl fmt::Display for Cross {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.columns.iter().map(|c| quoted(c)).collect();
        f.write_str(&names.join("*"))?;
        if let Some(ns) = &self.namespace {
            write!(f, "(namespace={})", quoted(ns))?;
        }
        Ok(())
    }
}

impl fmt::Display for Crosses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items: Vec<String> = self.0.iter().map(Cross::to_string).collect();
        f.write_str(&items.join(","))
    }
}
