//! LIBSVM / SVMlight text: `label [qid:N] id:value id:value ... [# comment]`.

use super::error::LineError;
use super::number::{is_blank, parse_f32, scan_digits};
use super::reader::{sealed::ParseLine, SparseFormat};
use super::rows::SparseRows;
use super::Labels;

/// What to do with a feature id outside the feature space: the one set by
/// [`LibSvm::dim`] when reading, and a network's `Sparse<DIM>` input when training.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutOfRange {
    /// An error naming the file, the line and the id (the default: a wrong `dim` or
    /// `DIM`, or a file from another feature space, is caught, not silently folded).
    Error,
    /// The id modulo the dimension, when read (with [`LibSvm::dim`]) and again by a
    /// network's `Sparse<DIM>` input, which then folds ids at or beyond `DIM` into it (a
    /// smaller table of weights shared by several ids, as with hashed features).
    Modulo,
}

/// The LIBSVM / SVMlight reader and its options.
///
/// - labels: any number (`0`/`1`, `-1`/`+1`, `+1`, real values), kept as read or mapped
///   to 0/1 with [`labels`](Self::labels);
/// - ids: 1-based by default, 0-based with [`zero_based`](Self::zero_based); stored
///   0-based; unsorted and repeated ids are kept as they are;
/// - `qid:N` is checked to be an integer and ignored; `#` starts a comment to the end of
///   the line; blank lines are skipped; `\r\n` line endings are accepted;
/// - audits ([`crate::explain`]) name a feature by its id as written in the file (`7`
///   for `7:1.5`), 1- or 0-based alike; with [`OutOfRange::Modulo`], an id folded into
///   [`dim`](Self::dim) is named as folded.
///
/// ```
/// use vectorflow::io::{LibSvm, SparseFormat};
/// let rows = LibSvm::new().parse_bytes(b"+1 qid:3 3:0.5 1:2 # a comment\n-1 2:1\n", "<text>")?;
/// assert_eq!(rows.labels(), [1.0, -1.0]);
/// assert_eq!(rows.row(0).ids(), [2, 0]);
/// assert_eq!(rows.row(0).values(), [0.5, 2.0]);
/// # Ok::<(), vectorflow::io::ReadError>(())
/// ```
/// Reading a file: `LibSvm::new().open("train.svm")?` then `.read_all()?` (every row, in
/// parallel) or `.read_into(&mut rows)?` chunk by chunk (see [`SparseReader`](super::SparseReader)).
#[derive(Clone, Debug)]
pub struct LibSvm {
    zero_based: bool,
    dim: Option<u32>,
    out_of_range: OutOfRange,
    labels: Labels,
}

impl Default for LibSvm {
    fn default() -> Self {
        LibSvm::new()
    }
}

impl LibSvm {
    /// 1-based ids, any id accepted, labels as read.
    pub fn new() -> LibSvm {
        LibSvm {
            zero_based: false,
            dim: None,
            out_of_range: OutOfRange::Error,
            labels: Labels::AsRead,
        }
    }

    /// Whether the file's ids start at 0 (default: at 1, the LIBSVM convention).
    pub fn zero_based(mut self, yes: bool) -> Self {
        self.zero_based = yes;
        self
    }

    /// The feature space: stored (0-based) ids must be below `dim`; others are handled
    /// by [`out_of_range`](Self::out_of_range).
    pub fn dim(mut self, dim: u32) -> Self {
        self.dim = Some(dim.max(1));
        self
    }

    /// What to do with ids outside [`dim`](Self::dim), and with ids at or beyond a
    /// network's `Sparse<DIM>` input when the rows are trained on or predicted (default
    /// [`OutOfRange::Error`]: both are errors naming the file and line).
    pub fn out_of_range(mut self, policy: OutOfRange) -> Self {
        self.out_of_range = policy;
        self
    }

    /// How labels are stored (default [`Labels::AsRead`]).
    pub fn labels(mut self, labels: Labels) -> Self {
        self.labels = labels;
        self
    }
}

impl SparseFormat for LibSvm {}

/// The end of the token starting at `pos`.
#[inline]
fn token_end(line: &[u8], mut pos: usize) -> usize {
    while pos < line.len() && !is_blank(line[pos]) {
        pos += 1;
    }
    pos
}

#[inline]
fn skip_blanks(line: &[u8], mut pos: usize) -> usize {
    while pos < line.len() && is_blank(line[pos]) {
        pos += 1;
    }
    pos
}

/// A finite number filling the token at `pos`, and the token's end.
#[inline]
fn number(line: &[u8], pos: usize) -> Option<(f32, usize)> {
    match parse_f32(line, pos) {
        Some((v, end)) if v.is_finite() && (end == line.len() || is_blank(line[end])) => {
            Some((v, end))
        }
        _ => None,
    }
}

/// `MASKS[n]` keeps the first `n` bytes of a little-endian pair of words (`n < 16`).
const MASKS: [[u64; 2]; 16] = {
    let mut m = [[0u64; 2]; 16];
    let mut n = 1;
    while n < 16 {
        m[n] = if n < 8 {
            [(1 << (8 * n)) - 1, 0]
        } else {
            [u64::MAX, (1 << (8 * (n - 8))) - 1]
        };
        n += 1;
    }
    m
};

/// Misses in a row after which a line stops asking its [`Memo`].
const MEMO_TRIES: u32 = 8;

/// The last value token read from a line and its value. Sparse rows often repeat one
/// value (`1`, or a row's normalised weight), whose bytes are then compared rather than
/// parsed again: same bytes, same value. After [`MEMO_TRIES`] misses in a row a line
/// is parsed without it.
struct Memo {
    /// The token's bytes as two little-endian words, zero past its length.
    bytes: [u64; 2],
    /// Its length, 1 to 15; 0 when nothing is remembered.
    len: usize,
    /// What the token parses to.
    value: f32,
    /// Misses in a row left before the line stops asking: a miss costs a comparison
    /// and a copy.
    tries: u32,
}

impl Default for Memo {
    fn default() -> Memo {
        Memo {
            bytes: [0; 2],
            len: 0,
            value: 0.0,
            tries: MEMO_TRIES,
        }
    }
}

impl Memo {
    /// [`number`] at `pos`, from the memo when the token there has its bytes.
    #[inline]
    fn number(&mut self, line: &[u8], pos: usize) -> Option<(f32, usize)> {
        if self.tries == 0 {
            return number(line, pos);
        }
        // Sixteen bytes hold a token of up to 15 and the blank that ends it; a token
        // nearer the line's end than that is parsed.
        let Some(window) = line.get(pos..pos + 16) else {
            return number(line, pos);
        };
        let word = |k: usize| {
            u64::from_le_bytes(window[8 * k..8 * k + 8].try_into().expect("eight bytes"))
        };
        // `len` is below 16: the mask makes that plain to the bounds checks.
        let mask = MASKS[self.len & 15];
        // The first word tells most tokens apart: the second is read only when it agrees.
        if word(0) & mask[0] == self.bytes[0]
            && self.len > 0
            && word(1) & mask[1] == self.bytes[1]
            && is_blank(window[self.len & 15])
        {
            self.tries = MEMO_TRIES;
            return Some((self.value, pos + self.len));
        }
        self.tries -= 1;
        let (value, end) = number(line, pos)?;
        let len = end - pos;
        if len < 16 {
            let mask = MASKS[len];
            *self = Memo {
                bytes: [word(0) & mask[0], word(1) & mask[1]],
                len,
                value,
                ..*self
            };
        }
        Some((value, end))
    }
}

impl ParseLine for LibSvm {
    fn folds(&self) -> bool {
        self.out_of_range == OutOfRange::Modulo
    }

    fn first_id(&self) -> u32 {
        u32::from(!self.zero_based)
    }

    fn parse_line(&self, line: &[u8], line_no: u64, out: &mut SparseRows) -> Result<(), LineError> {
        let mut pos = skip_blanks(line, 0);
        if pos == line.len() || line[pos] == b'#' {
            return Ok(());
        }
        let Some((label, end)) = number(line, pos) else {
            let tok = &line[pos..token_end(line, pos)];
            return Err(LineError::new(
                "label",
                "a number (0/1, -1/+1 or a real value)",
                tok,
            ));
        };
        pos = end;
        let mut k = 0;
        let mut memo = Memo::default();
        loop {
            pos = skip_blanks(line, pos);
            if pos == line.len() || line[pos] == b'#' {
                break;
            }
            let tok = pos;
            if line[pos..].starts_with(b"qid:") {
                let end = token_end(line, pos);
                let digits = &line[pos + 4..end];
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(LineError::new(
                        "qid",
                        "`qid:` followed by an integer",
                        &line[tok..end],
                    ));
                }
                pos = end;
                continue;
            }
            k += 1;
            let mut id: u64 = 0;
            pos = scan_digits(line, pos, &mut id);
            if pos - tok > 19 {
                // Twenty digits or more may have wrapped a u64: saturate far above
                // u32::MAX instead, so that the range check below rejects it (leading
                // zeros are still read).
                id = line[tok..pos].iter().fold(0, |id: u64, &b| {
                    (id * 10 + u64::from(b - b'0')).min(1 << 40)
                });
            }
            if pos == tok || pos == line.len() || line[pos] != b':' {
                return Err(LineError::new(
                    format!("feature {k}"),
                    "`id:value`",
                    &line[tok..token_end(line, tok)],
                ));
            }
            let id = self.id(id).map_err(|expected| {
                LineError::new(format!("id of feature {k}"), expected, &line[tok..pos])
            })?;
            pos += 1;
            let Some((value, end)) = memo.number(line, pos) else {
                return Err(LineError::new(
                    format!("value of feature {k}"),
                    "a finite number",
                    &line[pos..token_end(line, pos)],
                ));
            };
            out.push_feature(id, value);
            pos = end;
        }
        out.finish_row(self.labels.map(label), 1.0, line_no);
        Ok(())
    }
}

impl LibSvm {
    /// The stored id of the file's id `raw`, or what was expected.
    #[inline]
    fn id(&self, raw: u64) -> Result<u32, String> {
        let first = u64::from(!self.zero_based);
        if raw < first {
            return Err("a feature id of at least 1 (ids are 1-based; read 0-based files with LibSvm::zero_based)".into());
        }
        let id = raw - first;
        match self.dim {
            None if id > u64::from(u32::MAX) => Err(format!(
                "a feature id of at most {}",
                u64::from(u32::MAX) + first
            )),
            None => Ok(id as u32),
            Some(d) if id < u64::from(d) => Ok(id as u32),
            Some(d) => match self.out_of_range {
                OutOfRange::Modulo => Ok((id % u64::from(d)) as u32),
                OutOfRange::Error if self.zero_based => {
                    Err(format!("a feature id below the dimension {d}"))
                }
                OutOfRange::Error => Err(format!("a feature id of at most the dimension {d}")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn the_memo_reads_every_token_as_number_does() {
        // Repeats, one value spelled several ways, tokens that begin with another, a
        // token of 15 bytes and longer ones, and tokens that are not numbers.
        let tokens = [
            "1",
            "1.0",
            "0.5",
            "0.55",
            "0.5e1",
            "0.5e",
            "-0.5",
            "0.0944911",
            "0.09449110",
            "0.0944911000000",
            "0.09449110000000",
            "1e40",
            "x",
            "0.5#",
            "0.5:1",
        ];
        let blanks = [" ", "\t", "  ", "\r"];
        let mut rng = Rng::new(3);
        let mut hits = 0;
        for _ in 0..3000 {
            let mut line = String::new();
            let mut starts = Vec::new();
            for _ in 0..1 + rng.below(12) {
                line.push_str(blanks[rng.below(blanks.len())]);
                starts.push(line.len());
                // Runs of one token, as sparse rows have.
                let t = tokens[rng.below(tokens.len())];
                for _ in 0..1 + rng.below(3) {
                    if line.len() > *starts.last().unwrap() {
                        line.push(' ');
                        starts.push(line.len());
                    }
                    line.push_str(t);
                }
            }
            if rng.below(2) == 0 {
                line.push('\r');
            }
            let line = line.as_bytes();
            let mut memo = Memo::default();
            for &pos in &starts {
                let got = memo.number(line, pos);
                assert_eq!(got, number(line, pos), "{:?} at {pos}", line);
                // Only an answer from the memo leaves all its tries: a miss takes one.
                let asked = pos + 16 <= line.len();
                hits += (asked && got.is_some() && memo.tries == MEMO_TRIES) as usize;
            }
        }
        assert!(hits > 1000, "the memo answered {hits} times");
    }
}
