//! Reading weights or a state plane in the flat order without a flat copy: what a model
//! file's tensors are written from.

use super::{holding, Weights};
use std::io;
use std::ops::Range;

/// Floats in the net's flat order, read a range at a time.
pub(crate) trait Flat {
    /// Hands `f` the floats of `r`, in order, in pieces; stops at `f`'s first error.
    fn each(&self, r: Range<usize>, f: &mut dyn FnMut(&[f32]) -> io::Result<()>) -> io::Result<()>;

    /// The floats of `r`, copied.
    fn read(&self, r: Range<usize>) -> Vec<f32> {
        let mut v = Vec::with_capacity(r.len());
        let _ = self.each(r, &mut |p| {
            v.extend_from_slice(p);
            Ok(())
        });
        v
    }
}

impl Flat for Vec<f32> {
    fn each(&self, r: Range<usize>, f: &mut dyn FnMut(&[f32]) -> io::Result<()>) -> io::Result<()> {
        f(&self[r])
    }
}

/// The weights, or state plane `j` of them, in the flat order.
pub(crate) struct Plane<'a> {
    weights: &'a Weights,
    /// `None` for the weights; else the plane and the training state's plane of the
    /// rest.
    state: Option<(usize, &'a [f32])>,
}

impl Weights {
    /// The weights, read in the flat order.
    pub(crate) fn flat(&self) -> Plane<'_> {
        Plane {
            weights: self,
            state: None,
        }
    }

    /// State plane `j`, read in the flat order: `rest` (the training state's plane) but
    /// in the tables, which hold their own.
    pub(crate) fn flat_state<'a>(&'a self, j: usize, rest: &'a [f32]) -> Plane<'a> {
        Plane {
            weights: self,
            state: Some((j, rest)),
        }
    }
}

impl Flat for Plane<'_> {
    fn each(&self, r: Range<usize>, f: &mut dyn FnMut(&[f32]) -> io::Result<()>) -> io::Result<()> {
        let tables = &self.weights.tables;
        // A row's state floats, when the table does not hold them as a slice.
        let mut row = Vec::new();
        let mut at = r.start;
        while at < r.end {
            let Some((k, p)) = holding(tables, at) else {
                let next = tables.iter().map(|t| t.offset()).filter(|&o| o > at);
                let end = next.min().map_or(r.end, |o| o.min(r.end));
                match self.state {
                    None => f(&self.weights.rest[at..end])?,
                    Some((_, rest)) => f(&rest[at..end])?,
                }
                at = end;
                continue;
            };
            let t = &tables[k];
            let (c, out) = (p % t.stride(), t.out());
            let n = (out - c).min(r.end - at);
            match self.state {
                None => f(&t.data[p..p + n])?,
                Some((j, _)) if !t.row_wise() && j < t.planes() => {
                    f(&t.data[p + out * (j + 1)..p + out * (j + 1) + n])?
                }
                Some((j, _)) => {
                    let r = p / t.stride();
                    row.clear();
                    row.extend((c..c + n).map(|c| t.state(r, c, j)));
                    f(&row)?
                }
            }
            at += n;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Block;
    use crate::optim::{AdaGrad, RowAdaGrad};

    #[test]
    fn flat_reads_match_the_flat_copies_over_any_range() {
        // Two tables (5 rows of 3, 4 rows of 2) between dense weights.
        let blocks = [
            Block {
                layer: 0,
                offset: 2,
                len: 15,
                row: Some(3),
            },
            Block {
                layer: 0,
                offset: 19,
                len: 8,
                row: Some(2),
            },
        ];
        let n = 30;
        let w: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let rest_plane: Vec<f32> = (0..n).map(|i| 100.0 + i as f32).collect();
        for row_wise in [false, true] {
            let mut weights = Weights::new(w.clone(), &blocks);
            let rest = weights.take_plane(rest_plane.clone());
            if row_wise {
                weights.lay_out(&RowAdaGrad::new(0.1), true);
            } else {
                weights.lay_out(&AdaGrad::new(0.1), true);
            }
            let state = weights.flat_plane(0, &rest);
            for a in 0..n {
                for b in a..=n {
                    assert_eq!(weights.flat().read(a..b), w[a..b], "weights {a}..{b}");
                    let s = weights.flat_state(0, &rest).read(a..b);
                    assert_eq!(s, state[a..b], "state {a}..{b}, row-wise {row_wise}");
                }
            }
        }
    }
}
