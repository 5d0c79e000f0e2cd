//! Chunks of rows: what the pass driver hands the training threads, one at a time.
//!
//! A chunk is either a run of a slice's rows (read and hashed by the thread that trains
//! on them) or rows a reader thread has already read and hashed into the row inputs'
//! form ([`Hashed`]), so that the training threads only copy them.

use super::TrainError;
use crate::features::{AuxValue, FeatureError, Features, Labeled};
use crate::layers::RowInputs;
use crate::trainable::{LoadRow, Trainable};

/// Rows the training threads read by position `0..len()`.
pub(crate) trait Chunk<M: Trainable>: Sync {
    /// The row a loss sees.
    type Row: Features + Sync;
    /// The number of rows.
    fn len(&self) -> usize;
    /// The row's index in its source: it decides holdout membership and is the row
    /// number errors name.
    fn index(&self, i: usize) -> usize;
    /// Row `i`, for the loss.
    fn row(&self, i: usize) -> &Self::Row;
    /// Reads row `i`'s inputs for `net` into `cache`.
    fn load(&self, net: &M, i: usize, cache: &mut RowInputs) -> Result<(), FeatureError>;
    /// The training error for row `i`, which `load` refused with `source`, in pass `pass`.
    #[cold]
    fn load_error(&self, net: &M, i: usize, pass: usize, source: FeatureError) -> TrainError {
        let _ = net;
        TrainError::Feature {
            pass,
            row: self.index(i),
            source,
        }
    }
    /// Hints that row `i`'s inputs will be loaded soon (`far`: its index data only).
    #[inline(always)]
    fn prefetch(&self, i: usize, far: bool) {
        let _ = (i, far);
    }
}

/// A run of a slice's rows, in the pass's order.
pub(crate) struct SliceChunk<'r, R> {
    pub rows: &'r [R],
    pub order: Vec<u32>,
}

impl<M: LoadRow<R>, R: Features + Sync> Chunk<M> for SliceChunk<'_, R> {
    type Row = R;
    #[inline]
    fn len(&self) -> usize {
        self.order.len()
    }
    #[inline]
    fn index(&self, i: usize) -> usize {
        self.order[i] as usize
    }
    #[inline]
    fn row(&self, i: usize) -> &R {
        &self.rows[self.order[i] as usize]
    }
    #[inline]
    fn load(&self, net: &M, i: usize, cache: &mut RowInputs) -> Result<(), FeatureError> {
        net.load(&self.rows[self.order[i] as usize], cache)
    }
    #[cold]
    fn load_error(&self, net: &M, i: usize, pass: usize, source: FeatureError) -> TrainError {
        let r = self.order[i] as usize;
        super::validate::feature(net, pass, r, &self.rows[r], source)
    }
}

/// What a loss sees of a streamed row: its label, its weight and its `#[aux]` fields
/// (its features were read and hashed when the row was read). `A` is the struct
/// `#[derive(Features)]` makes of the row's `#[aux]` fields, `()` when it has none; see
/// [`crate::features::aux`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StreamRow<A = ()> {
    /// The label.
    pub label: f32,
    /// The row's weight.
    pub weight: f32,
    /// The row's `#[aux]` fields.
    pub aux: A,
}

impl<A> Features for StreamRow<A> {
    #[inline]
    fn weight(&self) -> f32 {
        self.weight
    }
}

impl<A> Labeled for StreamRow<A> {
    const LABEL_FIELD: &'static str = "label";
    #[inline]
    fn label(&self) -> f32 {
        self.label
    }
}

/// Rows already read into the form of [`RowInputs`]: every row's sparse pairs, dense
/// values and per-root pair counts, back to back, visited in the order `perm`.
pub(crate) struct Hashed<A = ()> {
    /// The source index of the first row.
    pub first: usize,
    pub rows: Vec<StreamRow<A>>,
    /// Where each row's pairs, dense values and counts end.
    pub ends: Vec<[usize; 3]>,
    pub sparse: Vec<(u32, f32)>,
    pub dense: Vec<f32>,
    pub counts: Vec<usize>,
    /// The order rows are trained in (a shuffle within the chunk).
    pub perm: Vec<u32>,
}

impl<A> Default for Hashed<A> {
    fn default() -> Self {
        Hashed {
            first: 0,
            rows: Vec::new(),
            ends: Vec::new(),
            sparse: Vec::new(),
            dense: Vec::new(),
            counts: Vec::new(),
            perm: Vec::new(),
        }
    }
}

impl<A> Hashed<A> {
    /// Empties it for the rows from source index `first` on, keeping its buffers.
    pub fn clear(&mut self, first: usize) {
        self.first = first;
        self.rows.clear();
        self.ends.clear();
        self.sparse.clear();
        self.dense.clear();
        self.counts.clear();
        self.perm.clear();
    }

    /// Appends a row whose inputs `inputs` holds.
    pub fn push(&mut self, inputs: &RowInputs, row: StreamRow<A>) {
        self.sparse.extend_from_slice(&inputs.sparse);
        self.dense.extend_from_slice(&inputs.dense);
        self.counts.extend_from_slice(&inputs.counts);
        self.push_decoded(row);
    }

    /// Appends a row whose inputs were appended to the arrays directly (a row cache).
    pub fn push_decoded(&mut self, row: StreamRow<A>) {
        self.perm.push(self.rows.len() as u32);
        self.rows.push(row);
        self.ends
            .push([self.sparse.len(), self.dense.len(), self.counts.len()]);
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    #[inline]
    fn start(&self, r: usize) -> [usize; 3] {
        if r == 0 {
            [0; 3]
        } else {
            self.ends[r - 1]
        }
    }
}

impl<M: Trainable, A: AuxValue> Chunk<M> for Hashed<A> {
    type Row = StreamRow<A>;
    #[inline]
    fn len(&self) -> usize {
        self.perm.len()
    }
    #[inline]
    fn index(&self, i: usize) -> usize {
        self.first + self.perm[i] as usize
    }
    #[inline]
    fn row(&self, i: usize) -> &StreamRow<A> {
        &self.rows[self.perm[i] as usize]
    }
    /// A shuffled chunk is read in random order: without hints every row's pairs would
    /// be a cache miss on the training thread. The row's ends come first (`far`), then
    /// its data, which needs them.
    #[inline(always)]
    fn prefetch(&self, i: usize, far: bool) {
        let Some(&r) = self.perm.get(i) else { return };
        let r = r as usize;
        if far {
            crate::kernels::prefetch_at(&self.ends, r.saturating_sub(1), 2);
            crate::kernels::prefetch_at(&self.rows, r, 1);
        } else if let Some(end) = self.ends.get(r) {
            let start = self.start(r);
            crate::kernels::prefetch_at(&self.sparse, start[0], end[0] - start[0]);
            crate::kernels::prefetch_at(&self.counts, start[2], end[2] - start[2]);
        }
    }

    #[inline]
    fn load(&self, _: &M, i: usize, inputs: &mut RowInputs) -> Result<(), FeatureError> {
        let r = self.perm[i] as usize;
        let ([s0, d0, c0], [s1, d1, c1]) = (self.start(r), self.ends[r]);
        inputs.clear();
        inputs.sparse.extend_from_slice(&self.sparse[s0..s1]);
        inputs.dense.extend_from_slice(&self.dense[d0..d1]);
        inputs.counts.extend_from_slice(&self.counts[c0..c1]);
        Ok(())
    }
}
