//! Sparse tables stored as the rows training changed.
//!
//! A `Sparse<DIM>` input's table has DIM rows of `width` weights, and a few rows of
//! training change only the rows of the features they have: a 2^20 × 16 table trained on
//! two rows differs from its initial draws in a few dozen rows. Which rows changed is not
//! tracked while training (that would cost every step); it is found when saving, by
//! comparing each row, bit for bit, with its **base**: the weights the net's [`Init`]
//! draws for it (the draws are seeded and use only exact float arithmetic, so every
//! platform regenerates the same bits), or zeros when the net's initialisation is
//! unknown (a net built with [`crate::Net::from_params`], or loaded from a file that does
//! not name one). A row is listed when its weights differ from the base, or when any
//! state plane's row differs from that plane's **fill row**: the state row of the first
//! unlisted row, which the file stores once per plane (every optimizer starts a row's
//! state as one row of constants, apart from FTRL over nonzero weights, whose tables are
//! then listed in full and so stored dense).
//!
//! A table is stored this way only when its bytes are fewer than dense. Loading draws the
//! base, writes the listed rows over it and checks the CRC-32 of the whole rebuilt buffer
//! (metadata `crc32.weights`), so a load is bit-identical or an error.

use crate::init::{Init, Scheme};
use crate::weights::Flat;
use std::ops::Range;

/// A sparse table the file stores as listed rows.
pub(crate) struct Table {
    /// Its index among the net's sparse blocks.
    pub index: usize,
    /// Its first weight in the parameter buffer.
    pub offset: usize,
    /// Its number of rows (the input's DIM).
    pub rows: usize,
    /// Weights per row.
    pub width: usize,
    /// The listed rows, ascending.
    pub ids: Vec<u32>,
    /// The first row not listed: each state plane's fill row is its row here.
    pub fill: usize,
}

impl Table {
    /// The floats the table covers.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.rows * self.width
    }

    /// The floats of row `r`.
    pub fn row(&self, r: usize) -> Range<usize> {
        let a = self.offset + r * self.width;
        a..a + self.width
    }
}

/// A sparse block of the net: its first weight, rows and row width.
#[derive(Clone, Copy)]
pub(crate) struct Block {
    pub offset: usize,
    pub rows: usize,
    pub width: usize,
}

/// The tables to store as listed rows: those of `blocks` whose listed form is smaller.
/// `base` holds the input layer's initial weights (the start of the buffer), or is
/// `None` for zeros; `planes` are the state planes to be saved.
pub(crate) fn plan(
    params: &dyn Flat,
    planes: &[&dyn Flat],
    blocks: &[Block],
    base: Option<&[f32]>,
) -> Vec<Table> {
    let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
    let zeros = |a: &[f32]| a.iter().all(|x| x.to_bits() == 0);
    let mut out = Vec::new();
    for (index, b) in blocks.iter().enumerate() {
        // Row ids are u32s: a larger table is stored dense.
        if b.width == 0 || b.rows as u64 > 1 << 32 {
            continue;
        }
        let table = |ids, fill| Table {
            index,
            offset: b.offset,
            rows: b.rows,
            width: b.width,
            ids,
            fill,
        };
        let initial = |t: &Table, r: usize| {
            let row = t.row(r);
            match base {
                Some(base) => same(&params.read(row.clone()), &base[row]),
                None => zeros(&params.read(row)),
            }
        };
        let probe = table(Vec::new(), 0);
        let Some(fill) = (0..b.rows).find(|&r| initial(&probe, r)) else {
            continue;
        };
        let mut t = table(Vec::new(), fill);
        let fills: Vec<Vec<f32>> = planes.iter().map(|p| p.read(t.row(fill))).collect();
        for r in 0..b.rows {
            let row = t.row(r);
            let listed = !initial(&t, r)
                || planes
                    .iter()
                    .zip(&fills)
                    .any(|(p, fill)| !same(&p.read(row.clone()), fill));
            if listed {
                t.ids.push(r as u32);
            }
        }
        let s = planes.len();
        let (k, w, d) = (t.ids.len(), b.width, b.rows);
        let listed = k + k * w * (1 + s) + s * w;
        if listed < d * w * (1 + s) {
            out.push(t);
        }
    }
    out
}

/// The ranges of `0..n` outside the tables (ascending and disjoint): where the
/// `params` and `state.j` tensors' floats go.
pub(crate) fn gaps(n: usize, tables: &[Table]) -> Vec<Range<usize>> {
    let mut out = Vec::with_capacity(tables.len() + 1);
    let mut at = 0;
    for t in tables {
        let r = t.range();
        if r.start > at {
            out.push(at..r.start);
        }
        at = r.end;
    }
    if n > at {
        out.push(at..n);
    }
    out
}

/// `init` as the file's `init` metadata, e.g. `uniform:0.1 seed:3 sparse_scale:0.05`,
/// or `None` when it cannot serve as a base: a `Normal` scheme draws sparse weights
/// through `ln` and `cos`, whose last bit may differ between platforms.
pub(crate) fn init_text(init: &Init) -> Option<String> {
    let scheme = match init.scheme {
        Scheme::Uniform(s) => format!("uniform:{s}"),
        Scheme::Xavier => "xavier".into(),
        Scheme::He => "he".into(),
        Scheme::Zeros => "zeros".into(),
        Scheme::Normal(_) => return None,
    };
    Some(format!(
        "{scheme} seed:{} sparse_scale:{}",
        init.seed, init.sparse_scale
    ))
}

/// The [`Init`] an `init` metadata value names (see [`init_text`]).
pub(crate) fn parse_init(text: &str) -> Option<Init> {
    let mut words = text.split(' ');
    let scheme = words.next()?;
    let base = match scheme.split_once(':') {
        Some(("uniform", s)) => Init::uniform(s.parse().ok()?),
        None if scheme == "xavier" => Init::xavier(),
        None if scheme == "he" => Init::he(),
        None if scheme == "zeros" => Init::zeros(),
        _ => return None,
    };
    let seed = words.next()?.strip_prefix("seed:")?.parse().ok()?;
    let scale = words.next()?.strip_prefix("sparse_scale:")?.parse().ok()?;
    if words.next().is_some() {
        return None;
    }
    Some(base.seed(seed).sparse_scale(scale))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_text_round_trips_exactly() {
        for init in [
            Init::uniform(0.1).seed(3),
            Init::xavier().sparse_scale(1e-7),
            Init::he().seed(u64::MAX),
            Init::zeros(),
        ] {
            let text = init_text(&init).unwrap();
            assert_eq!(parse_init(&text), Some(init), "{text}");
        }
        assert_eq!(init_text(&Init::normal(0.1)), None);
        for bad in [
            "",
            "normal:1 seed:0 sparse_scale:0.05",
            "xavier seed:x sparse_scale:1",
        ] {
            assert_eq!(parse_init(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_rows_off_their_base_are_listed_and_only_when_smaller() {
        let block = Block {
            offset: 2,
            rows: 8,
            width: 2,
        };
        let mut params = vec![0.0f32; 20];
        params[2 + 2 * 3] = 1.0;
        params[2 + 2 * 6 + 1] = -0.0; // another bit pattern than the zero base
        let t = plan(&params, &[], &[block], None);
        assert_eq!(t[0].ids, vec![3, 6]);
        assert_eq!(t[0].fill, 0);
        // A state plane whose row 5 left the fill row lists row 5 as well.
        let mut plane = vec![1.0f32; 20];
        plane[2 + 2 * 5] = 2.0;
        let t = plan(&params, &[&plane], &[block], None);
        assert_eq!(t[0].ids, vec![3, 5, 6]);
        // All rows changed: dense is smaller.
        let ones = vec![1.0f32; 20];
        assert!(plan(&ones, &[], &[block], None).is_empty());
        assert!(plan(&ones, &[], &[block], Some(&ones)).len() == 1);
        assert_eq!(gaps(20, &t), vec![0..2, 18..20]);
    }
}
