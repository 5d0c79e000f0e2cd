//! One sparse table in the training layout, and how it changes layout in place.
//!
//! Row `r` of a table is `[w(out) | s₀(out) | … ]`: `out · (1 + planes)` floats, one or
//! two adjacent lines that the CPU fetches together (the table starts on a line:
//! `aligned.rs`). With no state (an untrained net, one loaded without its state, plain
//! SGD) a row is its `out` weights alone. A row-wise optimizer ([`Optimizer::ROW_WISE`])
//! keeps its rows of weights alone, `out` floats each (a row of 16 is one line),
//! followed, from the next line on, by one state float per row.

use super::aligned::{Aligned, UNIT};
use crate::optim::Optimizer;

/// Where a sparse table's weights sit in the net's flat order and in its rows.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Shape {
    /// Its first weight in the net's flat order.
    offset: usize,
    /// Its number of weights.
    len: usize,
    /// Floats per row of weights.
    out: usize,
    /// Floats per row in the table: `out · (1 + planes)`, or `out` for a row-wise layout.
    stride: usize,
    /// Where the rows' own state begins (one float per row), for a row-wise layout.
    row_state: Option<usize>,
}

/// One sparse table: its shape and its rows.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Table {
    shape: Shape,
    /// In a row-wise layout, the state a flat copy shows for a row's other weights (the
    /// optimizer's initial state, which they never leave: their row's float is theirs).
    fill: f32,
    /// The rows, the first on a cache line.
    pub data: Aligned,
}

impl std::ops::Deref for Table {
    type Target = Shape;
    #[inline(always)]
    fn deref(&self) -> &Shape {
        &self.shape
    }
}

impl Shape {
    /// The range of the net's flat order it holds.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }

    /// Its first weight in the net's flat order.
    #[inline(always)]
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Floats per row in the table.
    #[inline(always)]
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Floats per row of weights.
    #[inline(always)]
    pub fn out(&self) -> usize {
        self.out
    }

    /// Its number of rows.
    pub fn rows(&self) -> usize {
        self.len / self.out
    }

    /// The state floats each weight keeps beside it (none in a row-wise layout).
    pub fn planes(&self) -> usize {
        self.stride / self.out - 1
    }

    /// Whether it holds one state float per row (a row-wise optimizer's layout).
    pub fn row_wise(&self) -> bool {
        self.row_state.is_some()
    }

    /// The position of row `r`'s state float, in a row-wise layout.
    #[inline(always)]
    pub fn row_state(&self, r: usize) -> Option<usize> {
        self.row_state.map(|a| a + r)
    }

    /// The position of weight `i` of the net's flat order, if it holds it.
    #[inline(always)]
    pub fn at(&self, i: usize) -> Option<usize> {
        let e = i.wrapping_sub(self.offset);
        (e < self.len).then(|| e / self.out * self.stride + e % self.out)
    }
}

impl Table {
    /// A table of the weights `w` (its rows of `out`, in order), without state; its
    /// weights are `offset..offset + w.len()` in the net's flat order.
    pub fn bare(offset: usize, out: usize, w: &[f32]) -> Table {
        let mut data = Aligned::zeros(w.len());
        data.copy_from_slice(w);
        Table {
            shape: Shape {
                offset,
                len: w.len(),
                out,
                stride: out,
                row_state: None,
            },
            fill: 0.0,
            data,
        }
    }

    /// The weights of row `r`.
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.stride..r * self.stride + self.out]
    }

    /// State `j` of weight `c` of row `r`, as a flat plane holds it: in a row-wise
    /// layout, state 0 of a row's first weight is the row's, of the others `fill`.
    #[inline]
    pub fn state(&self, r: usize, c: usize, j: usize) -> f32 {
        match self.row_state(r) {
            Some(a) if j == 0 => {
                if c == 0 {
                    self.data[a]
                } else {
                    self.fill
                }
            }
            None if j < self.planes() => self.data[r * self.stride + self.out * (j + 1) + c],
            _ => 0.0,
        }
    }

    /// Sets state `j` of every weight from the flat plane `plane` (the table's range of
    /// it), in a layout of `planes` planes per weight that it must already have.
    pub fn set_plane(&mut self, j: usize, plane: &[f32]) {
        let (out, stride) = (self.out, self.stride);
        for (r, src) in plane.chunks_exact(out).enumerate() {
            let a = r * stride + out * (j + 1);
            self.data[a..a + out].copy_from_slice(src);
        }
    }

    /// Lays the table out for optimizer `O`, in place where it grows: `keep` says
    /// whether the state it holds is the one training continues from (of the same kind
    /// of optimizer, with at least the planes `O` keeps), else every state float starts
    /// as [`Optimizer::start`] has it.
    pub fn lay_out<O: Optimizer>(&mut self, opt: &O, keep: bool) {
        let (out, rows) = (self.out, self.rows());
        // A row-wise layout first becomes bare rows, its row states put aside.
        let row_wise = self.shape.row_state.take().map(|a| {
            let states = self.data[a..a + rows].to_vec();
            self.data.resize(rows * out);
            (states, self.fill)
        });
        let planes = self.planes();
        if O::ROW_WISE {
            let states: Vec<f32> = match (&row_wise, keep) {
                (Some((s, _)), true) => s.clone(),
                (None, true) if planes > 0 => (0..rows)
                    .map(|r| self.data[r * self.stride + out])
                    .collect(),
                _ => (0..rows)
                    .map(|r| opt.start(self.data[r * self.stride]).as_ref()[0])
                    .collect(),
            };
            self.fill = match (&row_wise, keep) {
                (Some((_, f)), true) => *f,
                (None, true) if planes > 0 && out > 1 => self.data[out + 1],
                _ => opt.init_state().as_ref()[0],
            };
            self.restride(0, 0, |_, _, _, _| 0.0);
            let a = (rows * out).next_multiple_of(UNIT);
            self.data.resize(a + rows);
            self.data[a..].copy_from_slice(&states);
            self.shape.row_state = Some(a);
            return;
        }
        match row_wise {
            // A row-wise state continued per weight: state 0 of a row's first weight is
            // the row's, of its other weights the fill; other planes start afresh.
            Some((states, fill)) if keep => self.restride(O::STATE, 0, |r, c, w, j| match j {
                0 if c == 0 => states[r],
                0 => fill,
                _ => opt.start(w).as_ref()[j],
            }),
            _ => {
                let kept = if keep { planes.min(O::STATE) } else { 0 };
                self.restride(O::STATE, kept, |_, _, w, j| opt.start(w).as_ref()[j]);
            }
        }
    }

    /// Changes the layout to `planes` state floats per weight, keeping the weights and
    /// their first `kept` planes, and setting planes `kept..planes` of weight `c` of row
    /// `r`, whose value is `w`, to `fresh(r, c, w, j)`. Rows move from the last to the first
    /// when rows grow, from the first to the last when they shrink, so no row is
    /// overwritten before it moves.
    fn restride(
        &mut self,
        planes: usize,
        kept: usize,
        fresh: impl Fn(usize, usize, f32, usize) -> f32,
    ) {
        let (out, rows, old) = (self.out, self.rows(), self.stride);
        let new = out * (1 + planes);
        let moved = out * (1 + kept);
        if new == old && kept == planes {
            return;
        }
        let step = |r: usize, data: &mut [f32]| {
            data.copy_within(r * old..r * old + moved, r * new);
            for c in 0..out {
                let w = data[r * new + c];
                for j in kept..planes {
                    data[r * new + out * (j + 1) + c] = fresh(r, c, w, j);
                }
            }
        };
        if new >= old {
            self.data.resize(rows * new);
            for r in (0..rows).rev() {
                step(r, &mut self.data);
            }
        } else {
            for r in 0..rows {
                step(r, &mut self.data);
            }
            self.data.resize(rows * new);
        }
        self.shape.stride = new;
    }

    /// Adds a state plane per weight (of the per-weight layout), set from `plane`, the
    /// table's range of a flat plane.
    pub fn add_plane(&mut self, plane: &[f32]) {
        let j = self.planes();
        self.restride(j + 1, j, |_, _, _, _| 0.0);
        self.set_plane(j, plane);
    }

    /// Drops the state: rows of weights alone.
    pub fn strip(&mut self) {
        if self.shape.row_state.take().is_some() {
            self.data.resize(self.rows() * self.out);
        }
        self.restride(0, 0, |_, _, _, _| 0.0);
        self.fill = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{AdaGrad, Adam, Ftrl, RowAdaGrad, Sgd};

    /// A table of `rows` rows of `out` after 2 other weights, its weights `i` for
    /// flat index `i`, and flat planes `i + 100·(j + 1)`.
    fn flat(rows: usize, out: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
        let n = 2 + rows * out + 3;
        let w = (0..n).map(|i| i as f32).collect();
        let planes = (0..4)
            .map(|j| (0..n).map(|i| i as f32 + 100.0 * (j + 1) as f32).collect())
            .collect();
        (w, planes)
    }

    /// The rows as the trainer packed them before the net kept this layout: weights
    /// then each plane, per row; for a row-wise optimizer the weights, then from the
    /// next line on state 0 of each row's first weight.
    fn fresh_pack<O: Optimizer>(
        w: &[f32],
        s: &[Vec<f32>],
        off: usize,
        len: usize,
        out: usize,
    ) -> Vec<f32> {
        let rows = len / out;
        if O::ROW_WISE {
            let a = (rows * out).next_multiple_of(UNIT);
            let mut v = w[off..off + len].to_vec();
            v.resize(a, 0.0);
            v.extend((0..rows).map(|r| s[0][off + r * out]));
            return v;
        }
        let mut v = Vec::new();
        for r in 0..rows {
            let at = off + r * out;
            v.extend_from_slice(&w[at..at + out]);
            for plane in s.iter().take(O::STATE) {
                v.extend_from_slice(&plane[at..at + out]);
            }
        }
        v
    }

    /// A bare table of `w`'s rows, given the planes `planes` of `O` as a load would.
    fn loaded(w: &[f32], planes: &[Vec<f32>], rows: usize, out: usize) -> Table {
        let mut t = Table::bare(2, out, &w[2..2 + rows * out]);
        for p in planes {
            t.add_plane(&p[2..2 + rows * out]);
        }
        t
    }

    fn check<O: Optimizer>(opt: O, rows: usize, out: usize) {
        let (w, s) = flat(rows, out);
        let name = format!("{} over {rows} rows of {out}", O::NAME);
        // Grown in place from bare rows, with the state continued from planes.
        let mut t = loaded(&w, &s[..O::STATE], rows, out);
        t.lay_out(&opt, true);
        assert_eq!(
            &t.data[..],
            &fresh_pack::<O>(&w, &s, 2, rows * out, out)[..],
            "{name}"
        );
        assert_eq!(
            t.data.as_ptr().addr() % 64,
            0,
            "{name}: rows start on a line"
        );
        // Flat again: the weights and the planes, as they were (a row-wise layout
        // keeps the first weight's state of each row, and shows the fill elsewhere).
        for r in 0..rows {
            assert_eq!(t.row(r), &w[2 + r * out..2 + (r + 1) * out], "{name}");
            for c in 0..out {
                for j in 0..O::STATE {
                    let want = if O::ROW_WISE && c > 0 {
                        s[0][3]
                    } else {
                        s[j][2 + r * out + c]
                    };
                    assert_eq!(t.state(r, c, j), want, "{name}: state {j} of {r}, {c}");
                }
            }
        }
        // A fresh state in place: what `start` gives each weight.
        let mut fresh = Table::bare(2, out, &w[2..2 + rows * out]);
        fresh.lay_out(&opt, false);
        for r in 0..rows {
            for c in 0..out {
                let start = opt.start(w[2 + r * out + c]);
                for (j, &s) in start.as_ref().iter().enumerate().take(O::STATE) {
                    let want = if O::ROW_WISE && c > 0 {
                        opt.init_state().as_ref()[0]
                    } else {
                        s
                    };
                    assert_eq!(fresh.state(r, c, j), want, "{name}: fresh state {j}");
                }
            }
        }
        // And back to weights alone.
        t.strip();
        assert_eq!(&t.data[..], &w[2..2 + rows * out], "{name}: stripped");
        assert_eq!((t.stride(), t.row_state(0)), (out, None));
    }

    #[test]
    fn layouts_grow_in_place_as_a_fresh_pack_and_flatten_back() {
        for (rows, out) in [(5, 3), (1000, 1), (64, 16), (33, 2)] {
            check(AdaGrad::new(0.1), rows, out);
            check(Ftrl::new(0.1), rows, out);
            check(Adam::new(0.1), rows, out);
            check(Sgd::new(0.1), rows, out);
            check(Sgd::new(0.1).momentum(0.9), rows, out);
            check(RowAdaGrad::new(0.1), rows, out);
        }
    }

    #[test]
    fn layouts_change_between_optimizers_keeping_what_continues() {
        let (rows, out) = (40, 4);
        let (w, s) = flat(rows, out);
        // Momentum's velocity, continued by plain SGD: the plane is dropped in place.
        let mut t = loaded(&w, &s[..1], rows, out);
        t.lay_out(&Sgd::new(0.1).momentum(0.9), true);
        t.lay_out(&Sgd::new(0.1), true);
        assert_eq!(&t.data[..], &w[2..2 + rows * out]);
        // Adam's three planes, restarted for AdaGrad: one fresh plane.
        let mut t = loaded(&w, &s[..3], rows, out);
        t.lay_out(&AdaGrad::new(0.1).init_acc(0.5), false);
        assert_eq!(t.stride(), 2 * out);
        assert!((0..rows).all(|r| t.state(r, 1, 0) == 0.5 && t.row(r)[1] == w[3 + r * out]));
        // A row-wise state continued per weight keeps each row's float at its first
        // weight, the fill at the others.
        let mut t = loaded(&w, &s[..1], rows, out);
        t.lay_out(&RowAdaGrad::new(0.1), true);
        t.lay_out(&AdaGrad::new(0.1), true);
        assert_eq!(t.stride(), 2 * out);
        for r in 0..rows {
            assert_eq!(t.state(r, 0, 0), s[0][2 + r * out]);
            assert_eq!(t.state(r, 2, 0), s[0][3]);
        }
    }
}
