//! Vowpal Wabbit text: `label [importance] ['tag]|ns[:scale] name[:value] ... |ns2 ...`.

use super::error::LineError;
use super::number::{is_blank, parse_f32};
use super::reader::{sealed::ParseLine, SparseFormat};
use super::rows::SparseRows;
use super::Labels;
use crate::hash::murmur3_32;

/// The multiplier of VW's quadratic feature hash (the 32-bit FNV prime).
const FNV_PRIME: u32 = 16777619;

/// How feature and namespace names are hashed: Vowpal Wabbit's two `--hash` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VwHash {
    /// VW's default (`--hash strings`): a name made only of decimal digits is that number
    /// plus the namespace hash; other names are MurmurHash3 seeded by the namespace hash.
    Strings,
    /// VW's `--hash all`: every name is MurmurHash3 seeded by the namespace hash, as
    /// vectorflow's own `#[hash]` fields hash text and integers.
    All,
}

/// The Vowpal Wabbit text reader and its options.
///
/// Ids are VW's own 32-bit feature hashes, so a `Sparse<DIM>` input with `DIM = 2^b`
/// sees the same ids as `vw -b b` (VW keeps the low `b` bits, as reducing modulo a power
/// of two does), and `--audit` / `--invert_hash` output can be compared directly:
///
/// - a namespace `|ns` hashes to `h(ns, 0)`; the default namespace (`| ` with a space)
///   to 0;
/// - a feature `name` or `name:value` to `h(name, ns_hash)`, a string value
///   `name:text` to `h(text, h(name, ns_hash))` with value 1, and an anonymous `:value` to
///   `ns_hash + k` for the namespace's k-th (from 0) anonymous feature;
/// - `h` is MurmurHash3 (x86, 32-bit), except that [`VwHash::Strings`] (the default, as
///   in VW) maps all-digit names to their number plus the seed;
/// - `|ns:scale` multiplies the namespace's numeric values (not string values, as in VW);
///   zero-valued features are dropped.
///
/// Before the first `|`: a label, an optional importance weight (default 1) and an
/// optional tag, which is the last token when it starts with `'` (removed) or touches
/// the `|`, as in VW. A line without a label gives a row labelled NaN (VW's test-only
/// example: it can be predicted, not trained on). VW's initial-prediction field and other
/// label types are not read; its quadratic interactions (`-q ab`) are
/// [`Vw::interactions`].
///
/// ```
/// use vectorflow::io::{SparseFormat, Vw};
/// use vectorflow::hash::{murmur3_32, namespace_seed};
/// let rows = Vw::new().parse_bytes(b"1 2.5 'id7|carrier UA |origin EWR\n", "<text>")?;
/// let row = rows.row(0);
/// assert_eq!((row.label(), row.weight(), row.tag()), (1.0, 2.5, "id7"));
/// assert_eq!(row.ids()[0], murmur3_32(b"UA", namespace_seed("carrier")));
/// # Ok::<(), vectorflow::io::ReadError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Vw {
    hash: VwHash,
    labels: Labels,
    names: bool,
    /// The namespace pairs crossed, by first letter (VW's `-q ab`).
    pairs: Vec<[u8; 2]>,
}

impl Default for Vw {
    fn default() -> Self {
        Vw::new()
    }
}

impl Vw {
    /// VW's default hashing, labels as read.
    pub fn new() -> Vw {
        Vw {
            hash: VwHash::Strings,
            labels: Labels::AsRead,
            names: false,
            pairs: Vec::new(),
        }
    }

    /// The hashing mode (default [`VwHash::Strings`], VW's default).
    pub fn hash(mut self, hash: VwHash) -> Self {
        self.hash = hash;
        self
    }

    /// How labels are stored (default [`Labels::AsRead`]).
    pub fn labels(mut self, labels: Labels) -> Self {
        self.labels = labels;
        self
    }

    /// Whether to keep each feature's name beside its id (default: no), so that audits
    /// and readable models ([`crate::explain`]) name it as VW's `--audit` and
    /// `--invert_hash` do: `ns^name`, `name` in the default namespace, `ns^name^text` for a
    /// string value `name:text`, `ns^` for an anonymous `:value` (invalid UTF-8 shown as
    /// U+FFFD). Without names a feature is named by its 32-bit hash. The names take
    /// about as much memory as they take in the file; training never reads them.
    ///
    /// ```
    /// use vectorflow::features::Named;
    /// use vectorflow::io::{SparseFormat, Vw};
    /// let rows = Vw::new().names(true).parse_bytes(b"1 |carrier UA |a x:2 | 42\n", "<text>")?;
    /// let mut names = Vec::new();
    /// rows.row(0).visit_named(|f| names.push(f.name.to_string())).unwrap();
    /// assert_eq!(names, ["carrier^UA", "a^x", "42"]);
    /// # Ok::<(), vectorflow::io::ReadError>(())
    /// ```
    pub fn names(mut self, yes: bool) -> Self {
        self.names = yes;
        self
    }

    /// Quadratic interactions, as VW's `-q ab`: each pair `[a, b]` crosses every feature
    /// of the namespaces whose name starts with byte `a` (`b' '` for the default
    /// namespace) with every feature of those starting with `b`. The crossed feature's
    /// id is VW's, `id_a × 16777619 (FNV prime) XOR id_b`, its value the product, and
    /// with [`Vw::names`] its name `a^x*b^y`; `[a, a]` crosses a letter's features with
    /// themselves once per unordered pair, a feature with itself included, as VW does.
    /// They follow the row's own features, pair by pair in the order given.
    ///
    /// ```
    /// use vectorflow::io::{SparseFormat, Vw};
    /// let rows = Vw::new().interactions(&[*b"ab"]).parse_bytes(b"1 |a x y:2 |b z\n", "<text>")?;
    /// let row = rows.row(0);
    /// let (x, y, z) = (row.ids()[0], row.ids()[1], row.ids()[2]);
    /// assert_eq!(row.ids()[3..], [x.wrapping_mul(16777619) ^ z, y.wrapping_mul(16777619) ^ z]);
    /// assert_eq!(row.values()[3..], [1.0, 2.0]);
    /// # Ok::<(), vectorflow::io::ReadError>(())
    /// ```
    pub fn interactions(mut self, pairs: &[[u8; 2]]) -> Self {
        self.pairs = pairs.to_vec();
        self
    }

    /// VW's hash of `name` with `seed`, in this reader's mode.
    ///
    /// ```
    /// use vectorflow::io::{Vw, VwHash};
    /// assert_eq!(Vw::new().hash_name(b"12", 9), 21);
    /// assert_eq!(Vw::new().hash(VwHash::All).hash_name(b"12", 9), vectorflow::hash::murmur3_32(b"12", 9));
    /// ```
    pub fn hash_name(&self, name: &[u8], seed: u32) -> u32 {
        if self.hash == VwHash::Strings && name.iter().all(u8::is_ascii_digit) {
            // VW accumulates in a wider integer and keeps the low 32 bits: the same as
            // wrapping u32 arithmetic.
            let n = name.iter().fold(0u32, |n, &d| {
                n.wrapping_mul(10).wrapping_add(u32::from(d - b'0'))
            });
            return n.wrapping_add(seed);
        }
        murmur3_32(name, seed)
    }
}

impl SparseFormat for Vw {}

/// A finite number filling all of `token`.
fn number(token: &[u8]) -> Option<f32> {
    match parse_f32(token, 0) {
        Some((v, end)) if end == token.len() && v.is_finite() => Some(v),
        _ => None,
    }
}

/// Whether all of `token` is a number, finite or not (`nan`, `inf`, `1e39`): such a value
/// is a bad number, not text to hash.
fn is_number(token: &[u8]) -> bool {
    parse_f32(token, 0).is_some_and(|(_, end)| end == token.len())
}

/// The blank-separated tokens of `s`.
fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| is_blank(b)).filter(|t| !t.is_empty())
}

impl ParseLine for Vw {
    fn folds(&self) -> bool {
        true
    }

    fn first_id(&self) -> u32 {
        0
    }

    fn parse_line(&self, line: &[u8], line_no: u64, out: &mut SparseRows) -> Result<(), LineError> {
        let bar = memchr::memchr(b'|', line);
        let head = &line[..bar.unwrap_or(line.len())];
        if bar.is_none() && tokens(head).next().is_none() {
            return Ok(());
        }
        // The tag: the last token if it starts with ' or touches the bar.
        let mut words: [&[u8]; 3] = [b""; 3];
        let mut n = 0;
        let mut tag: &[u8] = b"";
        let touches = bar.is_some() && head.last().is_some_and(|&b| !is_blank(b));
        let count = tokens(head).count();
        for (i, t) in tokens(head).enumerate() {
            if i + 1 == count && (t[0] == b'\'' || touches) {
                tag = t.strip_prefix(b"'").unwrap_or(t);
            } else if n < 2 {
                words[n] = t;
                n += 1;
            } else {
                return Err(LineError::new(
                    "label",
                    "at most a label, an importance weight and a tag before the first `|`",
                    t,
                ));
            }
        }
        let label = match n {
            0 => f32::NAN,
            _ => self.labels.map(number(words[0]).ok_or_else(|| {
                LineError::new("label", "a number (0/1, -1/+1 or a real value)", words[0])
            })?),
        };
        let weight = match n {
            2 => match number(words[1]) {
                Some(w) if w >= 0.0 => w,
                _ => {
                    return Err(LineError::new(
                        "importance weight",
                        "a non-negative number",
                        words[1],
                    ))
                }
            },
            _ => 1.0,
        };
        let tag = std::str::from_utf8(tag).map_err(|_| LineError::new("tag", "UTF-8 text", tag))?;
        if let Some(bar) = bar {
            // Each namespace's first byte and its features, for the interactions.
            let mut spans = Vec::new();
            for segment in line[bar + 1..].split(|&b| b == b'|') {
                let from = out.open_features();
                if let Some(first) = self.namespace(segment, out)? {
                    spans.push((first, from..out.open_features()));
                }
            }
            if !self.pairs.is_empty() {
                self.cross(&spans, out);
            }
        }
        out.finish_row(label, weight, line_no);
        if !tag.is_empty() || out.has_tags() {
            out.push_tag(tag);
        }
        Ok(())
    }
}

impl Vw {
    /// Appends the interactions of the open row, whose namespaces are `spans` (first
    /// byte, features).
    fn cross(&self, spans: &[(u8, std::ops::Range<usize>)], out: &mut SparseRows) {
        let of = |letter: u8| -> Vec<usize> {
            spans
                .iter()
                .filter(|(first, _)| *first == letter)
                .flat_map(|(_, r)| r.clone())
                .collect()
        };
        for &[a, b] in &self.pairs {
            let (left, right) = (of(a), of(b));
            for (i, &k) in left.iter().enumerate() {
                // A letter crossed with itself: each unordered pair once, as VW does.
                let from = if a == b { i } else { 0 };
                for &m in &right[from..] {
                    let (ka, va) = out.open_feature(k);
                    let (kb, vb) = out.open_feature(m);
                    let v = va * vb;
                    if v == 0.0 || !v.is_finite() {
                        continue;
                    }
                    let name = self
                        .names
                        .then(|| format!("{}*{}", out.feature_name(k), out.feature_name(m)));
                    out.push_feature(ka.wrapping_mul(FNV_PRIME) ^ kb, v);
                    if let Some(name) = name {
                        out.push_name(&[name.as_bytes()]);
                    }
                }
            }
        }
    }

    /// Parses one `|`-separated segment: an optional `name[:scale]` then features;
    /// returns the namespace's first byte (`b' '` for the default one), or `None` for an
    /// empty segment.
    fn namespace(&self, segment: &[u8], out: &mut SparseRows) -> Result<Option<u8>, LineError> {
        let mut feats = tokens(segment);
        let (seed, scale, ns_name): (u32, f32, &[u8]) = match segment.first() {
            None => return Ok(None),
            Some(&b) if is_blank(b) => (0, 1.0, b" "),
            Some(_) => {
                let head = feats.next().unwrap_or_default();
                let (name, scale) = match head.iter().position(|&b| b == b':') {
                    None => (head, 1.0),
                    Some(i) => {
                        let scale = number(&head[i + 1..]).ok_or_else(|| {
                            LineError::new(
                                format!("namespace `{}`", String::from_utf8_lossy(&head[..i])),
                                "`name:scale` with a finite number as scale",
                                head,
                            )
                        })?;
                        (&head[..i], scale)
                    }
                };
                if name.is_empty() {
                    return Err(LineError::new(
                        "namespace",
                        "a namespace name before `:`",
                        head,
                    ));
                }
                (self.hash_name(name, 0), scale, name)
            }
        };
        let mut anon = 0u32;
        for (k, tok) in feats.enumerate() {
            let (name, value) = match tok.iter().position(|&b| b == b':') {
                None => (tok, None),
                Some(i) => (&tok[..i], Some(&tok[i + 1..])),
            };
            let field = || {
                format!(
                    "feature {} of namespace `{}`",
                    k + 1,
                    String::from_utf8_lossy(ns_name).trim()
                )
            };
            // String values are not scaled by the namespace's scale, as in VW.
            let (id, v) = match value {
                None => (self.hash_name(name, seed), scale),
                Some(text) => match number(text) {
                    Some(v) if name.is_empty() => {
                        anon += 1;
                        (seed.wrapping_add(anon - 1), v * scale)
                    }
                    Some(v) => (self.hash_name(name, seed), v * scale),
                    None if text.is_empty()
                        || name.is_empty()
                        || matches!(text[0], b'0'..=b'9' | b'-' | b'+' | b'.')
                        || is_number(text) =>
                    {
                        return Err(LineError::new(
                            field(),
                            "`name`, `name:value` with a finite number, or `name:text`",
                            tok,
                        ))
                    }
                    None => (self.hash_name(text, self.hash_name(name, seed)), 1.0),
                },
            };
            // Two finite numbers can multiply past f32's range.
            if !v.is_finite() {
                return Err(LineError::new(
                    field(),
                    "a value that stays finite times the namespace's scale",
                    tok,
                ));
            }
            if v != 0.0 {
                out.push_feature(id, v);
                if self.names {
                    // VW's audit name: the default namespace (" ") is left out.
                    let (ns, caret): (&[u8], &[u8]) = match ns_name {
                        b" " => (b"", b""),
                        _ => (ns_name, b"^"),
                    };
                    match value {
                        Some(text) if number(text).is_none() => {
                            out.push_name(&[ns, caret, name, b"^", text])
                        }
                        _ => out.push_name(&[ns, caret, name]),
                    }
                }
            }
        }
        Ok(ns_name.first().copied())
    }
}
