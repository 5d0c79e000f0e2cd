//! A net's weights as they live in memory: each sparse table in the training layout, the
//! rest flat.
//!
//! A sparse row is trained by reading and writing its weights and their optimizer state
//! together, and training is bound by those cache misses: so the net keeps each sparse
//! table's row `r` as `[w(out) | s₀(out) | … ]` (one or two adjacent cache lines, see
//! `table.rs`), the layout training reads, and a fit makes no copy of it. Everything
//! else (dense roots, biases, hidden layers: a few lines every row touches) is one flat
//! buffer of the net's full length, offsets unchanged, whose tables' ranges are never
//! written (a zeroed allocation of that size costs no memory there); their optimizer
//! state is in [`crate::optim::TrainState`]'s planes.
//!
//! Flat views exist only where a flat array is needed: [`Weights::to_vec`], the model
//! file's `params` tensor. Prediction reads the tables' rows where they are.

pub(crate) mod aligned;
mod flat;
mod table;
mod view;

pub(crate) use aligned::UNIT;
pub(crate) use flat::Flat;
pub(crate) use table::{Shape, Table};
pub(crate) use view::{holding, params_through_view, starting, AtomicTable, View};

use crate::layers::Block;
use crate::optim::Optimizer;
use crate::params::Params;
use std::ops::{Index, IndexMut, Range};

/// A net's weights ([`crate::Net::params`]), in the net's flat order: the input layer
/// first, then each layer of the stack.
///
/// Read one with [`Weights::get`] or `w[i]`, all of them with [`Weights::iter`] or
/// [`Weights::to_vec`]; set them with `w[i] = x`, [`Weights::iter_mut`] or
/// [`Weights::copy_from_slice`].
///
/// ```
/// use vectorflow::prelude::*;
///
/// type Lr = network![Sparse<4> => Linear<1>];
/// let mut net = Lr::from_params(vec![0.5, -1.0, 2.0, 0.0, 0.25]).unwrap();
/// assert_eq!(net.params()[1], -1.0);
/// net.params_mut()[1] = 3.0;
/// assert_eq!(net.params().to_vec(), [0.5, 3.0, 2.0, 0.0, 0.25]);
/// ```
#[derive(Clone)]
pub struct Weights {
    /// Every weight outside the tables, at its flat offset; zeros in the tables' ranges.
    rest: Vec<f32>,
    /// The sparse tables, in the order of their offsets.
    tables: Vec<Table>,
}

impl Weights {
    /// The weights `flat` of a net whose weight blocks are `blocks`: each sparse block
    /// becomes a table, without state.
    pub(crate) fn new(flat: Vec<f32>, blocks: &[Block]) -> Weights {
        let mut tables: Vec<Table> = blocks
            .iter()
            .filter_map(|b| {
                Some(Table::bare(
                    b.offset,
                    b.row?,
                    &flat[b.offset..b.offset + b.len],
                ))
            })
            .collect();
        tables.sort_by_key(|t| t.offset());
        if tables.is_empty() {
            return Weights { rest: flat, tables };
        }
        // A fresh zeroed buffer, written only outside the tables: their ranges take no
        // memory there.
        let mut rest = vec![0.0f32; flat.len()];
        for r in gaps(flat.len(), &tables) {
            rest[r.clone()].copy_from_slice(&flat[r]);
        }
        Weights { rest, tables }
    }

    /// The number of weights.
    pub fn len(&self) -> usize {
        self.rest.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The weight at `i` of the flat order.
    #[inline]
    pub fn get(&self, i: usize) -> f32 {
        self.view().get(i)
    }

    /// Every weight, in the flat order.
    pub fn iter(&self) -> impl Iterator<Item = &f32> + '_ {
        self.into_iter()
    }

    /// Every weight, mutably, in the flat order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut f32> + '_ {
        self.pieces_mut().into_iter().flatten()
    }

    /// A flat copy of the weights.
    pub fn to_vec(&self) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.len());
        for p in self.pieces() {
            v.extend_from_slice(p);
        }
        v
    }

    /// Sets every weight from the flat `w`.
    ///
    /// # Panics
    /// If `w` is not [`Weights::len`] long.
    pub fn copy_from_slice(&mut self, w: &[f32]) {
        assert_eq!(w.len(), self.len(), "one value per weight");
        let mut at = 0;
        for p in self.pieces_mut() {
            p.copy_from_slice(&w[at..at + p.len()]);
            at += p.len();
        }
    }

    /// Sets every weight to `x`.
    pub fn fill(&mut self, x: f32) {
        for p in self.pieces_mut() {
            p.fill(x);
        }
    }

    /// The weights in the flat order, as runs of the rest and rows of the tables.
    pub(crate) fn pieces(&self) -> Vec<&[f32]> {
        let mut out = Vec::new();
        let mut at = 0;
        for t in &self.tables {
            out.push(&self.rest[at..t.offset()]);
            out.extend((0..t.rows()).map(|r| t.row(r)));
            at = t.range().end;
        }
        out.push(&self.rest[at..]);
        out
    }

    /// [`Weights::pieces`], mutably.
    fn pieces_mut(&mut self) -> Vec<&mut [f32]> {
        let mut out = Vec::new();
        let (mut rest, mut at) = (&mut self.rest[..], 0);
        for t in &mut self.tables {
            let (before, after) = std::mem::take(&mut rest).split_at_mut(t.offset() - at);
            out.push(before);
            rest = &mut after[t.range().len()..];
            at = t.range().end;
            let (out_w, stride, rows) = (t.out(), t.stride(), t.rows());
            out.extend(
                t.data
                    .chunks_exact_mut(stride)
                    .take(rows)
                    .map(|r| &mut r[..out_w]),
            );
        }
        out.push(rest);
        out
    }

    /// Read access in the flat order.
    #[inline(always)]
    pub(crate) fn view(&self) -> View<'_, Table> {
        View {
            rest: &self.rest,
            tables: &self.tables,
        }
    }

    /// The flat rest (zeros in the tables' ranges) and the tables, mutably.
    pub(crate) fn parts_mut(&mut self) -> (&mut [f32], &mut [Table]) {
        (&mut self.rest, &mut self.tables)
    }

    /// The flat rest: every weight outside the tables, zeros in their ranges.
    pub(crate) fn rest(&self) -> &[f32] {
        &self.rest
    }

    /// The ranges of the flat order the tables hold.
    pub(crate) fn table_ranges(&self) -> Vec<Range<usize>> {
        self.tables.iter().map(|t| t.range()).collect()
    }

    /// Lays every table out for optimizer `O` (see `Table::lay_out`).
    pub(crate) fn lay_out<O: Optimizer>(&mut self, opt: &O, keep: bool) {
        for t in &mut self.tables {
            t.lay_out(opt, keep);
        }
    }

    /// Drops the tables' state.
    pub(crate) fn strip(&mut self) {
        for t in &mut self.tables {
            t.strip();
        }
    }

    /// State plane `j` in the flat order: `rest` (the training state's plane, zeros in
    /// the tables' ranges) with the tables' state.
    pub(crate) fn flat_plane(&self, j: usize, rest: &[f32]) -> Vec<f32> {
        let mut v = rest.to_vec();
        for t in &self.tables {
            for r in 0..t.rows() {
                let at = t.offset() + r * t.out();
                for (c, x) in v[at..at + t.out()].iter_mut().enumerate() {
                    *x = t.state(r, c, j);
                }
            }
        }
        v
    }

    /// Gives the tables one more state plane per weight, from the flat `plane`, and
    /// returns the plane without the tables' floats: what the training state keeps.
    pub(crate) fn take_plane(&mut self, plane: Vec<f32>) -> Vec<f32> {
        for t in &mut self.tables {
            t.add_plane(&plane[t.range()]);
        }
        // A zeroed buffer written outside the tables takes no memory there.
        let mut rest = vec![0.0f32; plane.len()];
        for r in gaps(plane.len(), &self.tables) {
            rest[r.clone()].copy_from_slice(&plane[r]);
        }
        rest
    }
}

/// The tables of the blocks `blocks` of the flat weights `w`, laid out for `opt` with
/// the state planes `planes` (flat, empty when unused) it continues from.
#[cfg(test)]
pub(crate) fn laid_out<O: Optimizer>(
    opt: &O,
    blocks: &[Block],
    w: &[f32],
    planes: &[Vec<f32>],
) -> Vec<Table> {
    let mut weights = Weights::new(w.to_vec(), blocks);
    let planes: Vec<Vec<f32>> = planes.iter().filter(|p| !p.is_empty()).cloned().collect();
    let keep = !planes.is_empty();
    for p in planes {
        weights.take_plane(p);
    }
    weights.lay_out(opt, keep);
    weights.tables
}

/// The ranges of `0..n` outside the tables.
fn gaps(n: usize, tables: &[Table]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut at = 0;
    for t in tables {
        out.push(at..t.offset());
        at = t.range().end;
    }
    out.push(at..n);
    out
}

impl<'a> IntoIterator for &'a Weights {
    type Item = &'a f32;
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<&'a [f32]>>;
    fn into_iter(self) -> Self::IntoIter {
        self.pieces().into_iter().flatten()
    }
}

impl Index<usize> for Weights {
    type Output = f32;
    #[inline]
    fn index(&self, i: usize) -> &f32 {
        match holding(&self.tables, i) {
            Some((k, p)) => &self.tables[k].data[p],
            None => &self.rest[i],
        }
    }
}

impl IndexMut<usize> for Weights {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut f32 {
        match holding(&self.tables, i) {
            Some((k, p)) => &mut self.tables[k].data[p],
            None => &mut self.rest[i],
        }
    }
}

impl PartialEq for Weights {
    /// Equal weights, in the flat order (whatever their layouts).
    fn eq(&self, other: &Weights) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl PartialEq<[f32]> for Weights {
    fn eq(&self, other: &[f32]) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

params_through_view!(Weights, view);
