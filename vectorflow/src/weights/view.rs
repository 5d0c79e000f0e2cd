//! Reading weights through their layout: the flat rest and the sparse tables, plain or
//! as the atomics Hogwild threads share.

use super::table::{Shape, Table};
use crate::kernels;
use crate::params::{as_atomic, gather_rows, AtomicF32, Params};

/// Floats that a table's rows can be gathered from: plain, or atomic.
pub(crate) trait Cells: Params {
    /// `y += Σ v · row i` over `(i, v)` in `pairs`, row `i` being `OUT` floats at
    /// `i · by`.
    fn strided<const OUT: usize>(&self, by: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]);

    /// [`Cells::strided`] for rows of `y.len()` floats, a width known at run time.
    fn strided_dyn(&self, by: usize, pairs: &[(u32, f32)], y: &mut [f32]);
}

impl Cells for [f32] {
    #[inline(always)]
    fn strided<const OUT: usize>(&self, by: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        kernels::gather_strided::<OUT>(self, by, pairs, y)
    }
    #[inline(always)]
    fn strided_dyn(&self, by: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        gather_rows(self, by, pairs, y, |x| *x)
    }
}

impl Cells for [AtomicF32] {
    #[inline]
    fn strided<const OUT: usize>(&self, by: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        for &(i, v) in pairs {
            let r = self.row::<OUT>(i as usize * by);
            for k in 0..OUT {
                y[k] += v * r[k];
            }
        }
    }
    #[inline]
    fn strided_dyn(&self, by: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        gather_rows(self, by, pairs, y, AtomicF32::load)
    }
}

/// A sparse table as a view reads it.
pub(crate) trait Slab {
    /// Its floats.
    type Cells: Cells + ?Sized;
    /// Where its weights are.
    fn shape(&self) -> &Shape;
    /// Its rows.
    fn cells(&self) -> &Self::Cells;
}

impl Slab for Table {
    type Cells = [f32];
    #[inline(always)]
    fn shape(&self) -> &Shape {
        self
    }
    #[inline(always)]
    fn cells(&self) -> &[f32] {
        &self.data
    }
}

/// A table's rows viewed as atomics, which Hogwild threads share.
#[derive(Clone, Copy)]
pub(crate) struct AtomicTable<'a> {
    pub shape: Shape,
    pub data: &'a [AtomicF32],
}

impl Table {
    /// The table viewed as atomics, for as long as the exclusive borrow lasts (see
    /// [`as_atomic`]).
    pub fn as_atomic(&mut self) -> AtomicTable<'_> {
        AtomicTable {
            shape: **self,
            data: as_atomic(&mut self.data),
        }
    }
}

impl Slab for AtomicTable<'_> {
    type Cells = [AtomicF32];
    #[inline(always)]
    fn shape(&self) -> &Shape {
        &self.shape
    }
    #[inline(always)]
    fn cells(&self) -> &[AtomicF32] {
        self.data
    }
}

/// The table that starts at `off`, the start of a sparse root's rows.
#[inline(always)]
pub(crate) fn starting<T: Slab>(tables: &[T], off: usize) -> Option<&T> {
    tables.iter().find(|t| t.shape().offset() == off)
}

/// The table holding weight `i`, and the weight's position there.
#[inline(always)]
pub(crate) fn holding<T: Slab>(tables: &[T], i: usize) -> Option<(usize, usize)> {
    tables
        .iter()
        .enumerate()
        .find_map(|(k, t)| t.shape().at(i).map(|p| (k, p)))
}

/// Implements [`Params`] for a type that reads through the [`View`] its method `$view`
/// gives.
macro_rules! params_through_view {
    ($ty:ty, $view:ident) => {
        impl $crate::params::Params for $ty {
            #[inline(always)]
            fn get(&self, i: usize) -> f32 {
                $crate::params::Params::get(&self.$view(), i)
            }
            #[inline(always)]
            fn row<const N: usize>(&self, off: usize) -> [f32; N] {
                $crate::params::Params::row(&self.$view(), off)
            }
            #[inline(always)]
            fn matvec<const IN: usize, const OUT: usize>(
                &self,
                off: usize,
                x: &[f32; IN],
                y: &mut [f32; OUT],
            ) {
                $crate::params::Params::matvec(&self.$view(), off, x, y)
            }
            #[inline(always)]
            fn gather<const OUT: usize>(
                &self,
                off: usize,
                pairs: &[(u32, f32)],
                y: &mut [f32; OUT],
            ) {
                $crate::params::Params::gather(&self.$view(), off, pairs, y)
            }
            #[inline(always)]
            fn gather_dyn(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
                $crate::params::Params::gather_dyn(&self.$view(), off, pairs, y)
            }
        }
    };
}
pub(crate) use params_through_view;

/// Read access to the tables and the flat rest, in the net's flat order.
pub(crate) struct View<'a, T: Slab> {
    pub rest: &'a T::Cells,
    pub tables: &'a [T],
}

impl<T: Slab> Clone for View<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Slab> Copy for View<'_, T> {}

impl<T: Slab> Params for View<'_, T> {
    #[inline(always)]
    fn get(&self, i: usize) -> f32 {
        match holding(self.tables, i) {
            Some((k, p)) => self.tables[k].cells().get(p),
            None => self.rest.get(i),
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
        // Dense weights are never in tables.
        self.rest.matvec(off, x, y)
    }

    #[inline(always)]
    fn gather<const OUT: usize>(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32; OUT]) {
        match starting(self.tables, off) {
            Some(t) => t.cells().strided::<OUT>(t.shape().stride(), pairs, y),
            None => self.rest.gather(off, pairs, y),
        }
    }

    #[inline(always)]
    fn gather_dyn(&self, off: usize, pairs: &[(u32, f32)], y: &mut [f32]) {
        match starting(self.tables, off) {
            Some(t) => t.cells().strided_dyn(t.shape().stride(), pairs, y),
            None => self.rest.gather_dyn(off, pairs, y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::Block;
    use crate::optim::Ftrl;

    #[test]
    fn an_atomic_view_of_a_table_reads_and_writes_it_in_place() {
        // A table of 6 rows of 4 after 3 dense weights, with Ftrl's two planes.
        let blocks = [Block {
            layer: 0,
            offset: 3,
            len: 24,
            row: Some(4),
        }];
        let w: Vec<f32> = (0..30).map(|i| i as f32 * 0.5).collect();
        let planes = vec![vec![1.0; 30], vec![2.0; 30]];
        let mut tables = crate::weights::laid_out(&Ftrl::new(0.1), &blocks, &w, &planes);
        let plain = tables.clone();
        let mut rest = w.clone();
        let atomic: Vec<AtomicTable<'_>> = tables.iter_mut().map(Table::as_atomic).collect();
        let view = View {
            rest: as_atomic(&mut rest),
            tables: &atomic,
        };
        let reference = View {
            rest: &w[..],
            tables: &plain[..],
        };
        let pairs = [(1u32, 0.5f32), (5, -2.0), (0, 1.0)];
        let (mut y, mut want) = ([0.0f32; 4], [0.0f32; 4]);
        view.gather::<4>(3, &pairs, &mut y);
        reference.gather::<4>(3, &pairs, &mut want);
        assert_eq!(y, want);
        for (i, &x) in w.iter().enumerate() {
            assert_eq!(view.get(i), x, "weight {i}");
        }
        // Weight 2 of row 5, stored through the view, lands in the table's row.
        let p = atomic[0].shape.at(3 + 5 * 4 + 2).unwrap();
        assert_eq!(p, 5 * 12 + 2);
        atomic[0].data[p].store(-7.0);
        atomic[0].data[p + 4].store(9.0);
        drop(atomic);
        assert_eq!(tables[0].data[p], -7.0);
        assert_eq!(tables[0].state(5, 2, 0), 9.0);
        assert_eq!(tables[0].state(5, 2, 1), 2.0);
    }
}
