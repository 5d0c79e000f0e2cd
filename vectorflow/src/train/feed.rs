//! Feeds: where the pass driver gets each pass's chunks of rows.

use super::chunk::{Chunk, SliceChunk};
use super::TrainError;
use crate::features::Features;
use crate::rng::Rng;
use crate::trainable::{LoadRow, Trainable};

/// A source of chunks, pass after pass.
pub(crate) trait Feed<M: Trainable> {
    /// The chunks it hands out.
    type Chunk: Chunk<M>;
    /// The number of rows of a pass, when known before reading it.
    fn rows(&self) -> Option<u64>;
    /// What it reads, for messages (a stream's [`name`](crate::train::Stream::name)); empty for a
    /// slice.
    fn name(&self) -> String;
    /// Hands each chunk of pass number `pass` (counted over the net's whole training,
    /// from 1), its rows read for `net`, to `f`, in order, stopping at the first error.
    fn pass(
        &mut self,
        net: &M,
        pass: u64,
        f: &mut dyn FnMut(&Self::Chunk) -> Result<(), TrainError>,
    ) -> Result<(), TrainError>;
}

/// The seed of pass `pass`'s shuffle (and of chunk `chunk`'s, for streams).
pub(crate) fn shuffle_seed(seed: u64, pass: u64, chunk: u64) -> u64 {
    seed ^ pass.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ chunk.wrapping_mul(0xd1b5_4a32_d192_ed03)
}

/// A slice in memory: each pass visits its training rows, in a new seeded order when
/// shuffled, then its holdout rows (so they are scored with the pass's final weights).
pub(crate) struct SliceFeed<'r, R> {
    pub train: Vec<u32>,
    pub holdout: Vec<u32>,
    pub shuffle: bool,
    pub seed: u64,
    pub chunk_rows: usize,
    order: Vec<u32>,
    buf: SliceChunk<'r, R>,
}

impl<'r, R> SliceFeed<'r, R> {
    /// A feed of `rows`, whose indices `train` are trained on and `holdout` held out.
    pub fn new(
        rows: &'r [R],
        (train, holdout): (Vec<u32>, Vec<u32>),
        shuffle: bool,
        seed: u64,
        chunk_rows: usize,
    ) -> Self {
        SliceFeed {
            train,
            holdout,
            shuffle,
            seed,
            chunk_rows,
            order: Vec::new(),
            buf: SliceChunk {
                rows,
                order: Vec::new(),
            },
        }
    }
}

impl<'r, M: LoadRow<R>, R: Features + Sync> Feed<M> for SliceFeed<'r, R> {
    type Chunk = SliceChunk<'r, R>;

    fn rows(&self) -> Option<u64> {
        Some(self.train.len() as u64)
    }

    fn name(&self) -> String {
        String::new()
    }

    fn pass(
        &mut self,
        _: &M,
        pass: u64,
        f: &mut dyn FnMut(&Self::Chunk) -> Result<(), TrainError>,
    ) -> Result<(), TrainError> {
        self.order.clear();
        self.order.extend_from_slice(&self.train);
        if self.shuffle {
            Rng::new(shuffle_seed(self.seed, pass, 0)).shuffle(&mut self.order);
        }
        self.order.extend_from_slice(&self.holdout);
        for part in self.order.chunks(self.chunk_rows) {
            self.buf.order.clear();
            self.buf.order.extend_from_slice(part);
            f(&self.buf)?;
        }
        Ok(())
    }
}
