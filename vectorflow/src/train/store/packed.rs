//! The store over the net's sparse tables in the training layout ([`crate::weights`]):
//! each row's weights and optimizer state side by side.
//!
//! [`Packed`] reads the tables' rows through its [`Params`] implementation and the
//! optimizer steps them in place. Offsets stay those of the net's flat order, so the
//! layers, priors and merges need not know. Everything else (dense roots, biases, hidden
//! layers) is stepped by a [`Plain`] store over the flat rest.

use super::{all_finite, step_planes, Plain, Store};
use crate::kernels;
use crate::optim::{mean_square, Optimizer};
use crate::weights::{holding, params_through_view, starting, Shape, Table, View};

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

/// Prefetches the rows of `pairs` in a table of shape `shape` whose floats are `data`,
/// with their row states in a row-wise layout.
#[inline(always)]
pub(crate) fn prefetch_table<T>(shape: &Shape, data: &[T], pairs: &[(u32, f32)]) {
    for &(i, _) in pairs {
        kernels::prefetch_at(data, i as usize * shape.stride(), shape.stride());
        if let Some(p) = shape.row_state(i as usize) {
            kernels::prefetch_at(data, p, 1);
        }
    }
}

impl Packed<'_> {
    /// Read access to its tables and rest, in the flat order.
    #[inline(always)]
    fn as_view(&self) -> View<'_, Table> {
        View {
            rest: self.rest.w,
            tables: self.tables,
        }
    }
}

params_through_view!(Packed<'_>, as_view);

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
                let next = self.tables.iter().map(|t| t.offset()).filter(|&o| o > i);
                let n = next
                    .min()
                    .map_or(grad.len() - k, |o| (o - i).min(grad.len() - k));
                finite &= self.rest.update(&opt, i, &grad[k..k + n], scale);
                k += n;
                continue;
            };
            let t = &mut self.tables[t];
            let (r, c) = (p / t.stride(), p % t.stride());
            let out = t.out();
            let n = (out - c).min(grad.len() - k);
            let g = &grad[k..k + n];
            if O::ROW_WISE {
                let a = t.row_state(r).expect("a row-wise table has row states");
                let mut s = t.data[a];
                finite &= row_step(opt, &mut t.data[p..p + n], &mut s, g, out, scale);
                t.data[a] = s;
            } else {
                for (q, &g) in (p..p + n).zip(g) {
                    let mut s = O::State::default();
                    for (j, s) in s.as_mut().iter_mut().enumerate() {
                        *s = t.data[q + out * (j + 1)];
                    }
                    t.data[q] = opt.update(t.data[q], &mut s, g, scale);
                    for (j, s) in s.as_ref().iter().enumerate() {
                        t.data[q + out * (j + 1)] = *s;
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
        let Some(t) = self.tables.iter_mut().find(|t| t.offset() == off) else {
            return self.rest.update_rows(opt, off, pairs, dy, scale);
        };
        let stride = t.stride();
        // A local copy: its fields are then values no store can change, and what an
        // optimizer derives from them alone (Adam's log2 β) is computed once per call.
        let opt = *opt;
        if O::ROW_WISE {
            let a = t.row_state(0).expect("a row-wise table has row states");
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
            Some(t) => prefetch_table(t, &t.data, pairs),
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
    use crate::layers::Block;
    use crate::optim::{AdaGrad, Ftrl};
    use crate::params::Params;

    #[test]
    fn the_store_reads_the_tables_like_the_flat_buffer_and_steps_them_in_place() {
        // A table of 5 rows of 3 after 2 dense weights, then 4 more dense weights.
        let blocks = [Block {
            layer: 0,
            offset: 2,
            len: 15,
            row: Some(3),
        }];
        let w: Vec<f32> = (0..21).map(|i| i as f32).collect();
        let planes = vec![vec![0.5; 21], vec![0.25; 21]];
        let mut tables = crate::weights::laid_out(&Ftrl::new(0.1), &blocks, &w, &planes);
        assert_eq!(tables[0].stride(), 9);
        let (mut rest, mut s) = (w.clone(), planes.clone());
        let store = Packed {
            rest: Plain {
                w: &mut rest,
                s: &mut s,
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
        // An AdaGrad step on row 1 moves its weights and accumulators, nothing else.
        let opt = AdaGrad::new(1.0);
        let mut tables = crate::weights::laid_out(&opt, &blocks, &w, &planes[..1]);
        let mut s = planes[..1].to_vec();
        let mut store = Packed {
            rest: Plain {
                w: &mut rest,
                s: &mut s,
                stamps: &mut [],
            },
            tables: &mut tables,
        };
        assert!(store.update_rows::<AdaGrad, 3>(&opt, 2, &[(1, 1.0)], &[1.0, 0.0, 2.0], 1.0));
        let t = &tables[0];
        assert_eq!(
            t.row(1),
            [5.0 - 1.0 / 1.5f32.sqrt(), 6.0, 7.0 - 2.0 / 4.5f32.sqrt()]
        );
        assert_eq!(
            [t.state(1, 0, 0), t.state(1, 1, 0), t.state(1, 2, 0)],
            [1.5, 0.5, 4.5]
        );
        assert_eq!(t.row(0), [2.0, 3.0, 4.0]);
    }
}
