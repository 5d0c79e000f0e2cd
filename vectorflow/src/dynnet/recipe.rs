//! A model file's read recipe: how the rows it was trained on were read, so that new
//! rows are read the same way without repeating a command line's flags.
//!
//! It is stored as `recipe.*` entries of the header's metadata (covered by the header
//! checksum), with a version of its own: builds before it ignore the entries, and
//! files without them load with no recipe. The model file layer keeps the entries as
//! text; a [`super::DynNet`] reads and checks them when it is loaded.

use super::{DynLoss, Spec};
use crate::io::columns::ColumnSpec;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The newest recipe version this build writes and reads.
pub const RECIPE_VERSION: u32 = 1;

/// The metadata keys of a version-1 recipe, without the `recipe.` prefix.
const FIELDS: [&str; 6] = [
    "version",
    "format",
    "net",
    "loss",
    "columns",
    "interactions",
];

/// A file format rows are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataFormat {
    /// LIBSVM / SVMlight text ([`crate::io::LibSvm`]).
    LibSvm,
    /// Vowpal Wabbit text ([`crate::io::Vw`]).
    Vw,
    /// CSV with a header line, read with a [`ColumnSpec`].
    Csv,
    /// JSON lines, read with a [`ColumnSpec`].
    JsonLines,
    /// Parquet (feature `parquet`), read with a [`ColumnSpec`].
    Parquet,
}

impl DataFormat {
    /// Every format, by its name.
    const ALL: [(DataFormat, &'static str); 5] = [
        (DataFormat::LibSvm, "libsvm"),
        (DataFormat::Vw, "vw"),
        (DataFormat::Csv, "csv"),
        (DataFormat::JsonLines, "jsonl"),
        (DataFormat::Parquet, "parquet"),
    ];

    /// Its name: `libsvm`, `vw`, `csv`, `jsonl` or `parquet`.
    pub fn name(self) -> &'static str {
        DataFormat::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |f| f.1)
    }

    /// Whether its rows are read with a [`ColumnSpec`] (CSV, JSON lines, Parquet).
    pub fn has_columns(self) -> bool {
        matches!(
            self,
            DataFormat::Csv | DataFormat::JsonLines | DataFormat::Parquet
        )
    }

    /// The format a path's name says: `.svm`/`.libsvm`/`.txt`, `.vw`, `.csv`,
    /// `.jsonl`/`.ndjson`/`.json`, `.parquet` or a directory (Parquet); `None` otherwise.
    ///
    /// ```
    /// use vectorflow::dynnet::DataFormat;
    /// assert_eq!(DataFormat::of_path("train.svm".as_ref()), Some(DataFormat::LibSvm));
    /// assert_eq!(DataFormat::of_path("t.JSONL".as_ref()), Some(DataFormat::JsonLines));
    /// assert_eq!(DataFormat::of_path("t.gz".as_ref()), None);
    /// ```
    pub fn of_path(path: &Path) -> Option<DataFormat> {
        if path.is_dir() {
            return Some(DataFormat::Parquet);
        }
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "svm" | "libsvm" | "txt" => Some(DataFormat::LibSvm),
            "vw" => Some(DataFormat::Vw),
            "csv" => Some(DataFormat::Csv),
            "jsonl" | "ndjson" | "json" => Some(DataFormat::JsonLines),
            "parquet" => Some(DataFormat::Parquet),
            _ => None,
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DataFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<DataFormat, String> {
        let low = s.trim().to_ascii_lowercase();
        DataFormat::ALL
            .iter()
            .find(|(_, n)| *n == low)
            .map(|f| f.0)
            .ok_or_else(|| format!("unknown data format `{s}` (libsvm, vw, csv, jsonl or parquet)"))
    }
}

/// How a model's training rows were read: the format, the column spec (CSV, JSON lines,
/// Parquet), VW's namespace crosses, the network spec with its inputs' feature groups
/// (the topology line names none) and the loss. A model file records it (see
/// [`super::DynNet::set_recipe`]).
///
/// ```
/// use vectorflow::dynnet::{DataFormat, DynLoss, Recipe};
/// let r = Recipe::new(DataFormat::Vw, "sparse:2^18 > 1", DynLoss::Logistic)
///     .with_interactions(vec![*b"ab"]);
/// assert_eq!(r.to_string(), "vw -q ab, net sparse:2^18 > 1, loss logistic");
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// The rows' format.
    pub format: DataFormat,
    /// The column spec, for the formats that have one ([`DataFormat::has_columns`]).
    pub columns: Option<ColumnSpec>,
    /// VW's `-q` namespace pairs ([`crate::io::Vw::interactions`]).
    pub interactions: Vec<[u8; 2]>,
    /// The network spec as given, with its inputs' feature groups.
    pub net: String,
    /// The loss trained with.
    pub loss: DynLoss,
}

impl Recipe {
    /// A recipe for rows of `format` trained as the net `net` with `loss`.
    pub fn new(format: DataFormat, net: impl Into<String>, loss: DynLoss) -> Recipe {
        Recipe {
            format,
            columns: None,
            interactions: Vec::new(),
            net: net.into(),
            loss,
        }
    }

    /// With the column spec the rows were read with.
    pub fn with_columns(self, columns: ColumnSpec) -> Recipe {
        Recipe {
            columns: Some(columns),
            ..self
        }
    }

    /// With VW's namespace crosses.
    pub fn with_interactions(self, interactions: Vec<[u8; 2]>) -> Recipe {
        Recipe {
            interactions,
            ..self
        }
    }

    /// The metadata entries it is stored as.
    pub(crate) fn entries(&self) -> Vec<(String, String)> {
        let mut out = vec![
            ("version", RECIPE_VERSION.to_string()),
            ("format", self.format.name().to_string()),
            ("net", self.net.clone()),
            ("loss", loss_name(self.loss)),
        ];
        if let Some(c) = &self.columns {
            out.push(("columns", c.to_string()));
        }
        if !self.interactions.is_empty() {
            out.push(("interactions", pairs_text(&self.interactions)));
        }
        out.into_iter()
            .map(|(k, v)| (format!("recipe.{k}"), v))
            .collect()
    }

    /// The recipe of a model file's `recipe.*` metadata entries, checked against the
    /// file's `topology`: `None` without entries, else every entry read and checked.
    pub(crate) fn from_entries(
        entries: &[(String, String)],
        topology: &str,
    ) -> Result<Option<Recipe>, String> {
        let entries: Vec<(&str, &str)> = entries
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("recipe.")?, v.as_str())))
            .collect();
        if entries.is_empty() {
            return Ok(None);
        }
        let get = |k: &str| -> Result<Option<&str>, String> {
            Ok(entries.iter().find(|(n, _)| *n == k).map(|(_, v)| *v))
        };
        let need = |k: &str| get(k)?.ok_or_else(|| format!("it has no recipe.{k}"));
        let version = need("version")?;
        let version: u32 = version
            .parse()
            .map_err(|_| format!("recipe.version {version:?} is not a number"))?;
        if version > RECIPE_VERSION {
            return Err(format!(
                "it is version {version}, but this build reads versions up to \
                 {RECIPE_VERSION}: use a newer vectorflow"
            ));
        }
        if let Some((k, _)) = entries.iter().find(|(k, _)| !FIELDS.contains(k)) {
            return Err(format!("it has an unknown field recipe.{k}"));
        }
        let format: DataFormat = need("format")?
            .parse()
            .map_err(|e| format!("recipe.format: {e}"))?;
        let net = need("net")?;
        let spec = Spec::parse(net).map_err(|e| format!("recipe.net {net:?}: {e}"))?;
        if spec.topology() != topology {
            return Err(format!(
                "recipe.net {net:?} is the topology {}, but the file holds {topology}",
                spec.topology()
            ));
        }
        let loss = need("loss")?;
        let loss = DynLoss::parse(loss, spec.outputs()).map_err(|e| format!("recipe.loss: {e}"))?;
        let columns = match (get("columns")?, format.has_columns()) {
            (Some(c), true) => Some(
                c.parse::<ColumnSpec>()
                    .map_err(|e| format!("recipe.columns {c:?}: {e}"))?,
            ),
            (None, false) => None,
            (Some(_), false) => return Err(format!("{format} rows have no recipe.columns")),
            (None, true) => return Err(format!("{format} rows need recipe.columns")),
        };
        let interactions = match get("interactions")? {
            None => Vec::new(),
            Some(_) if format != DataFormat::Vw => {
                return Err("only vw rows have recipe.interactions".into())
            }
            Some(text) => {
                parse_pairs(text).map_err(|e| format!("recipe.interactions {text:?}: {e}"))?
            }
        };
        Ok(Some(Recipe {
            format,
            columns,
            interactions,
            net: net.to_string(),
            loss,
        }))
    }
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.format)?;
        if let Some(c) = &self.columns {
            write!(f, " {c}")?;
        }
        for p in &self.interactions {
            write!(f, " -q {}", String::from_utf8_lossy(p))?;
        }
        write!(f, ", net {}, loss {}", self.net, loss_name(self.loss))
    }
}

/// A loss's name as [`DynLoss::parse`] reads it back: `logistic`, `multinomial:3`, ...
pub fn loss_name(loss: DynLoss) -> String {
    match loss {
        DynLoss::Logistic => "logistic".into(),
        DynLoss::Square => "square".into(),
        DynLoss::Hinge => "hinge".into(),
        DynLoss::Poisson => "poisson".into(),
        DynLoss::Multinomial(k) => format!("multinomial:{k}"),
    }
}

/// VW namespace pairs as text: `ab,cd`.
fn pairs_text(pairs: &[[u8; 2]]) -> String {
    let texts: Vec<String> = pairs
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    texts.join(",")
}

/// Reads VW namespace pairs written as `ab` (several separated by commas): two ASCII
/// characters each, a space standing for the default namespace.
///
/// ```
/// use vectorflow::dynnet::parse_pairs;
/// assert_eq!(parse_pairs("ab,c ").unwrap(), vec![*b"ab", *b"c "]);
/// assert!(parse_pairs("abc").unwrap_err().contains("two namespace letters"));
/// ```
pub fn parse_pairs(text: &str) -> Result<Vec<[u8; 2]>, String> {
    text.split(',')
        .map(|p| match p.as_bytes() {
            &[a, b] if a.is_ascii() && b.is_ascii() && a != b':' && b != b':' => Ok([a, b]),
            _ => Err(format!(
                "`{p}` is not two namespace letters (ASCII, `:` wildcards are not read)"
            )),
        })
        .collect()
}
