//! The training layout of sparse rows: each row's weights and optimizer state side by
//! side.
//!
//! A net keeps its weights in one buffer and the optimizer keeps each state float in a
//! plane of its own, so that a net can be saved, served and loaded without its state.
//! For a sparse row that layout costs one cache miss per plane: a row of 16 weights and
//! its 16 AdaGrad accumulators are two misses in two places, and a logistic
//! regression's weight and accumulator two misses for 8 bytes. Training is bound by
//! those misses, so for the length of a fit the sparse tables are *packed*: row `r` of a
//! table is `[w(out) | s₀(out) | … ]`, `out·(1 + STATE)` floats in a row, one or two
//! adjacent lines that the CPU fetches together (the table starts on a line: `aligned.rs`).
//! Everything else (dense roots, biases, hidden layers: a few lines every row touches)
//! stays where it is.
//!
//! A row-wise optimizer ([`Optimizer::ROW_WISE`]) packs a table as its rows of weights
//! alone, `out` floats each (a row of 16 is one line), followed, from the next line on,
//! by one state float per row.
//!
//! [`Packed`] is the store over this layout: the forward pass reads the packed rows
//! through its [`Params`] implementation and the optimizer steps them in place. Offsets
//! stay those of the net's flat buffer, so the layers, priors and merges need not know.
//! The tables are packed once per fit and written back at the end of every pass.

use super::aligned::{Aligned, UNIT};
use super::{all_finite, step_planes, Plain, Store};
use crate::kernels;
use crate::layers::Block;
use crate::optim::{mean_square, Optimizer};
use crate::params::Params;

/// One sparse table, packed.
#[derive(Clone)]
pub(crate) struct Table {
    /// Its first weight in the net's buffer.
    offset: usize,
    /// Its number of weights there.
    len: usize,
    /// Floats per row of weights.
    out: usize,
    /// Floats per packed row: `out · (1 + STATE)`, or `out` for a row-wise optimizer.
    stride: usize,
    /// Where the rows' own state begins (one float per row), for a row-wise optimizer.
    row_state: Option<usize>,
    /// The packed rows, the first on a cache line.
    pub data: Aligned,
}

impl Table {
    /// The range of the net's buffer it holds.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }

    /// Floats per packed row.
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// Floats per row of weights.
    pub fn out(&self) -> usize {
        self.out
    }

    /// The packed position of row `r`'s state float, for a row-wise optimizer.
    #[inline(always)]
    pub fn row_state(&self, r: usize) -> Option<usize> {
        self.row_state.map(|a| a + r)
    }

    /// The packed position of weight `i` of the net's buffer, if this table holds it.
    #[inline(always)]
    pub fn at(&self, i: usize) -> Option<usize> {
        let e = i.wrapping_sub(self.offset);
        (e < self.len).then(|| e / self.out * self.stride + e % self.out)
    }
}

/// The packed tables of a net's sparse blocks, for optimizer `O`.
pub(crate) fn pack<O: Optimizer>(blocks: &[Block], w: &[f32], s: &[Vec<f32>]) -> Vec<Table> {
    blocks
        .iter()
        .filter_map(|b| {
            let out = b.row?;
            let rows = b.len / out;
            let (stride, planes) = if O::ROW_WISE {
                (out, 0)
            } else {
                (out * (1 + O::STATE), O::STATE)
            };
            // Row states start on a line, so that merges see them in units of their own.
            let row_state = O::ROW_WISE.then(|| (rows * stride).next_multiple_of(UNIT));
            let mut data = Aligned::zeros(row_state.map_or(rows * stride, |a| a + rows));
            for (r, packed) in data.chunks_exact_mut(stride).take(rows).enumerate() {
                let at = b.offset + r * out;
                packed[..out].copy_from_slice(&w[at..at + out]);
                for (j, plane) in s.iter().enumerate().take(planes) {
                    packed[out * (j + 1)..out * (j + 2)].copy_from_slice(&plane[at..at + out]);
                }
            }
            if let Some(a) = row_state {
                for r in 0..rows {
                    data[a + r] = s[0][b.offset + r * out];
                }
            }
            Some(Table {
                offset: b.offset,
                len: b.len,
                out,
                stride,
                row_state,
                data,
            })
        })
        .collect()
}

/// Writes packed tables back into the net's buffer and the state planes.
pub(crate) fn unpack<O: Optimizer>(tables: &[Table], w: &mut [f32], s: &mut [Vec<f32>]) {
    let planes = if O::ROW_WISE { 0 } else { O::STATE };
    for t in tables {
        let out = t.out;
        let rows = t.len / out;
        for (r, packed) in t.data.chunks_exact(t.stride).take(rows).enumerate() {
            let at = t.offset + r * out;
            w[at..at + out].copy_from_slice(&packed[..out]);
            for (j, plane) in s.iter_mut().enumerate().take(planes) {
                plane[at..at + out].copy_from_slice(&packed[out * (j + 1)..out * (j + 2)]);
            }
            if let Some(p) = t.row_state(r) {
                s[0][at] = t.data[p];
            }
        }
    }
}

/// One row-wise step on `w`, part or all of a sparse row of `out` weights whose state
/// is `s`: the gradient `grad` of those weights (zero for the rest of the row).
#[inline(always)]
pub(crate) fn row_step<O: Optimizer>(
    opt: O,
    w: &mut [f32],
    s: &mut f32,
    grad: &[f32],
    out: usize,
    scale: f32,
) -> bool {
    let rate = opt.row_rate(s, mean_square(grad, out), scale);
    for (w, g) in w.iter_mut().zip(grad) {
        *w -= rate * g;
    }
    s.is_finite()
}

/// The store over packed tables and, for everything else, the plain buffers.
pub(crate) struct Packed<'a> {
    pub rest: Plain<'a>,
    pub tables: &'a mut [Table],
}

/// The table that starts at `off`, the start of a sparse root's rows.
#[inline(always)]
pub(crate) fn starting(tables: &[Table], off: usize) -> Option<&Table> {
    tables.iter().find(|t| t.offset == off)
}

/// The table holding weight `i` and its packed position.
#[inline(always)]
pub(crate) fn holding(tables: &[Table], i: usize) -> Option<(usize, usize)> {
    tables
        .iter()
        .enumerate()
        .find_map(|(k, t)| t.at(i).map(|p| (k, p)))
}

/// Read access to packed tables and the plain rest: what holdout rows are scored with.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub rest: &'a [f32],
    pub tables: &'a [Table],
}

impl Packed<'_> {
    #[inline(always)]
    fn as_view(&self) -> View<'_> {
        View {
            rest: self.rest.w,
            tables: self.tables,
        }
    }
}

impl Params for View<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        match holding(self.tables, i) {
            Some((k, p)) => self.tables[k].data[p],
            None => self.rest[i],
        }
    }

    #[inline(always)]
    fn row<const N: usize>(&self, off: usize) -> [f32; N] {
        match holding(self.tables, off) {
            Some(_) => std::array::from_fn(|k| self.get(off + k)),
            None => self.rest.row(off),
        }
    }

    #[inline(always)]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        // Dense weights are never packed.
        self.rest.matvec(off, x, y)
    }

    #[inline(always)]
    fn gather<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        match starting(self.tables, off) {
            Some(t) => kernels::gather_strided::<OUT>(&t.data, t.stride, pairs, y),
            None => self.rest.gather(off, pairs, y),
        }
    }
}

impl Params for Packed<'_> {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        self.as_view().get(i)
    }
    #[inline(always)]
    fn row<const N: usize>(&self, off: usize) -> [f32; N] {
        self.as_view().row(off)
    }
    #[inline(always)]
    fn matvec<const IN: usize, const OUT: usize>(
        &self,
        off: usize,
        x: &[f32; IN],
        y: &mut [f32; OUT],
    ) {
        self.as_view().matvec(off, x, y)
    }
    #[inline(always)]
    fn gather<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        self.as_view().gather(off, pairs, y)
    }
}

impl<'a> Store for Packed<'a> {
    type View = Packed<'a>;

    #[inline(always)]
    fn view(&self) -> &Packed<'a> {
        self
    }

    #[inline(always)]
    fn update<O: Optimizer>(&mut self, opt: &O, off: usize, grad: &[f32], scale: f32) -> bool {
        // A local copy, as in `update_rows`: what the optimizer derives from its fields
        // alone is then computed once for the loop.
        let opt = *opt;
        // Dense weights, single outputs of a sparse row (a backward pass with few
        // non-zero gradients), or a mini-batch's run, which may cross a table's ends:
        // one piece at a time, the weights up to the next table or a table's row.
        let (mut k, mut finite) = (0, true);
        while k < grad.len() {
            let i = off + k;
            let Some((t, p)) = holding(self.tables, i) else {
                let next = self.tables.iter().map(|t| t.offset).filter(|&o| o > i);
                let n = next
                    .min()
                    .map_or(grad.len() - k, |o| (o - i).min(grad.len() - k));
                finite &= self.rest.update(&opt, i, &grad[k..k + n], scale);
                k += n;
                continue;
            };
            let t = &mut self.tables[t];
            let (r, c) = (p / t.stride, p % t.stride);
            let n = (t.out - c).min(grad.len() - k);
            let g = &grad[k..k + n];
            if O::ROW_WISE {
                let a = t.row_state(r).expect("a row-wise table has row states");
                let mut s = t.data[a];
                finite &= row_step(opt, &mut t.data[p..p + n], &mut s, g, t.out, scale);
                t.data[a] = s;
            } else {
                for (q, &g) in (p..p + n).zip(g) {
                    let mut s = O::State::default();
                    for (j, s) in s.as_mut().iter_mut().enumerate() {
                        *s = t.data[q + t.out * (j + 1)];
                    }
                    t.data[q] = opt.update(t.data[q], &mut s, g, scale);
                    for (j, s) in s.as_ref().iter().enumerate() {
                        t.data[q + t.out * (j + 1)] = *s;
                    }
                    finite &= all_finite(s.as_ref());
                }
            }
            k += n;
        }
        finite
    }

    #[inline(always)]
    fn update_rows<O: Optimizer, const OUT: usize>(
        &mut self,
        opt: &O,
        off: usize,
        pairs: &[(u32, f32)],
        dy: &[f32; OUT],
        scale: f32,
    ) -> bool {
        let Some(t) = self.tables.iter_mut().find(|t| t.offset == off) else {
            return self.rest.update_rows(opt, off, pairs, dy, scale);
        };
        let stride = t.stride;
        // A local copy: its fields are then values no store can change, and what an
        // optimizer derives from them alone (Adam's log2 β) is computed once per call.
        let opt = *opt;
        if O::ROW_WISE {
            let a = t.row_state.expect("a row-wise table has row states");
            let (rows, states) = t.data.split_at_mut(a);
            // Row i's gradient is v·dy: its mean square is v² times dy's.
            let dy_sq = mean_square(dy, OUT);
            let mut finite = true;
            for &(i, v) in pairs {
                let i = i as usize;
                let w: &mut [f32; OUT] = (&mut rows[i * OUT..(i + 1) * OUT])
                    .try_into()
                    .expect("a row of OUT");
                let rate = opt.row_rate(&mut states[i], v * v * dy_sq, scale) * v;
                for k in 0..OUT {
                    w[k] -= rate * dy[k];
                }
                finite &= states[i].is_finite();
            }
            return finite;
        }
        let mut finite = true;
        for &(i, v) in pairs {
            let row = &mut t.data[i as usize * stride..(i as usize + 1) * stride];
            let g: [f32; OUT] = std::array::from_fn(|k| v * dy[k]);
            let (w, planes) = row.split_at_mut(OUT);
            let w: &mut [f32; OUT] = w.try_into().expect("a row of OUT");
            finite &= step_planes(opt, w, planes, &g, scale);
        }
        finite
    }

    #[inline]
    fn prefetch_rows<O: Optimizer, const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)]) {
        match starting(self.tables, off) {
            Some(t) => {
                for &(i, _) in pairs {
                    kernels::prefetch_at(&t.data, i as usize * t.stride, t.stride);
                    if let Some(p) = t.row_state(i as usize) {
                        kernels::prefetch_at(&t.data, p, 1);
                    }
                }
            }
            None => self.rest.prefetch_rows::<O, OUT>(off, pairs),
        }
    }

    #[inline]
    fn map(&mut self, i: usize, f: impl Fn(f32) -> f32) {
        match holding(self.tables, i) {
            Some((t, p)) => {
                let x = &mut self.tables[t].data[p];
                *x = f(*x);
            }
            None => self.rest.map(i, f),
        }
    }

    #[inline]
    fn swap_stamp(&mut self, r: usize, now: u32) -> u32 {
        self.rest.swap_stamp(r, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Ftrl, Optimizer, RowAdaGrad, Sgd};

    #[test]
    fn packing_round_trips_and_reads_like_the_flat_buffer() {
        // A table of 5 rows of 3 after 2 dense weights, then 4 more dense weights.
        let blocks = [Block {
            layer: 0,
            offset: 2,
            len: 15,
            row: Some(3),
        }];
        let w: Vec<f32> = (0..21).map(|i| i as f32).collect();
        let s: Vec<Vec<f32>> = vec![
            w.iter().map(|x| x + 100.0).collect(),
            w.iter().map(|x| x + 200.0).collect(),
        ];
        assert_eq!(Ftrl::STATE, 2);
        let mut tables = pack::<Ftrl>(&blocks, &w, &s);
        assert_eq!(tables[0].stride, 9);
        assert_eq!(
            tables[0].data[9..18],
            [5., 6., 7., 105., 106., 107., 205., 206., 207.]
        );
        let (mut w2, mut s2) = (w.clone(), s.clone());
        let mut planes = s2.clone();
        {
            let store = Packed {
                rest: Plain {
                    w: &mut w2,
                    s: &mut planes,
                    stamps: &mut [],
                },
                tables: &mut tables,
            };
            for i in 0..21 {
                assert_eq!(store.get(i), i as f32);
            }
            let mut y = [0.0f32; 3];
            store.gather::<3>(2, &[(1, 1.0), (4, 0.5)], &mut y);
            assert_eq!(y, [5.0 + 7.0, 6.0 + 7.5, 7.0 + 8.0]);
        }
        // Unpacking into zeroed buffers restores the table's part of every plane.
        w2.iter_mut().for_each(|x| *x = 0.0);
        s2[0].fill(0.0);
        s2[1].fill(0.0);
        unpack::<Ftrl>(&tables, &mut w2, &mut s2);
        assert_eq!(w2[2..17], w[2..17]);
        assert_eq!(s2[0][2..17], s[0][2..17]);
        assert_eq!(s2[1][2..17], s[1][2..17]);
        assert_eq!(w2[0], 0.0, "dense weights are not the table's");
    }

    #[test]
    fn plain_sgd_packs_the_weights_alone() {
        let blocks = [Block {
            layer: 0,
            offset: 1,
            len: 8,
            row: Some(4),
        }];
        let w: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let tables = pack::<Sgd>(&blocks, &w, &[]);
        assert_eq!(Sgd::STATE, 0);
        assert_eq!((tables[0].stride(), tables[0].out()), (4, 4));
        assert_eq!(tables[0].data[..], w[1..9]);
    }

    #[test]
    fn row_wise_tables_hold_bare_rows_then_one_state_per_row() {
        // 3 rows of 16 after 2 dense weights: each row one line, states from line 3 on.
        let blocks = [Block {
            layer: 0,
            offset: 2,
            len: 48,
            row: Some(16),
        }];
        let w: Vec<f32> = (0..52).map(|i| i as f32).collect();
        let s: Vec<Vec<f32>> = vec![w.iter().map(|x| x + 100.0).collect()];
        let tables = pack::<RowAdaGrad>(&blocks, &w, &s);
        let t = &tables[0];
        assert_eq!(
            (t.stride(), t.row_state(0), t.data.len()),
            (16, Some(48), 51)
        );
        assert_eq!(t.data[..48], w[2..50]);
        // A row's state is its first weight's: 102, 118, 134.
        assert_eq!(t.data[48..], [102.0, 118.0, 134.0]);
        let (mut w2, mut s2) = (vec![0.0; 52], vec![vec![0.0; 52]]);
        unpack::<RowAdaGrad>(&tables, &mut w2, &mut s2);
        assert_eq!(w2[2..50], w[2..50]);
        for (i, x) in s2[0].iter().enumerate() {
            let first = (2..50).contains(&i) && (i - 2) % 16 == 0;
            assert_eq!(*x, if first { i as f32 + 100.0 } else { 0.0 }, "state {i}");
        }
    }
}
