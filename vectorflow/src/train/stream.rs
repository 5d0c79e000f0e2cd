//! Training from a stream of rows in bounded memory.
//!
//! A [`Stream`] hands out rows a chunk at a time; the rows may borrow from a buffer the
//! stream owns (a chunk of a file's text, say). While the training threads work through
//! one chunk, a reader thread reads the next and hashes its rows into the input cache's
//! form, so reading, parsing and hashing overlap training, and only two chunks of
//! hashed rows exist at a time: memory is bounded by the chunk size, not the data.

use super::chunk::{Hashed, StreamRow};
use super::feed::{shuffle_seed, Feed};
use super::TrainError;
use crate::features::{Features, Labeled};
use crate::layers::{InputCache, InputFeed, InputLayer};
use crate::rng::Rng;
use std::sync::mpsc::{channel, sync_channel};

/// The error a stream reports (a reader's error, with the file and line it names).
pub type StreamError = Box<dyn std::error::Error + Send + Sync>;

/// Rows read in order, a chunk at a time: the input of [`Trainer::fit_stream`].
///
/// [`Trainer::fit_stream`]: super::Trainer::fit_stream
///
/// ```
/// use vectorflow::prelude::*;
/// use vectorflow::train::{Stream, StreamError};
///
/// #[derive(Features)]
/// struct Word<'a> {
///     #[label]
///     good: bool,
///     #[hash]
///     word: &'a str,
/// }
///
/// /// Lines of `label word` text, read as rows that borrow the text.
/// struct Lines {
///     text: String,
///     at: usize,
/// }
///
/// impl Stream for Lines {
///     type Row<'a> = Word<'a>;
///     fn read<F: FnMut(&Word<'_>)>(&mut self, max: usize, mut f: F) -> Result<usize, StreamError> {
///         let mut n = 0;
///         for line in self.text.lines().skip(self.at).take(max) {
///             let (label, word) = line.split_once(' ').ok_or("a line needs a label and a word")?;
///             f(&Word { good: label == "1", word });
///             n += 1;
///         }
///         self.at += n;
///         Ok(n)
///     }
///     fn rewind(&mut self) -> Result<(), StreamError> {
///         self.at = 0;
///         Ok(())
///     }
/// }
///
/// let text = (0..1000).map(|i| if i % 2 == 0 { "1 good\n" } else { "0 bad\n" }).collect();
/// type Lr = network![Sparse<{ 1 << 10 }> => Linear<1>];
/// let mut net = Lr::new(Init::zeros());
/// Trainer::new(AdaGrad::new(0.5))
///     .passes(2)
///     .progress(Progress::Silent)
///     .fit_stream(&mut net, &mut Lines { text, at: 0 }, Logistic)
///     .unwrap();
/// assert!(net.predict(&Word { good: true, word: "good" }).unwrap()[0] > 2.0);
/// ```
pub trait Stream: Send {
    /// A row, which may borrow from the stream.
    type Row<'a>: Labeled
    where
        Self: 'a;

    /// Reads the next rows, at most `max` of them, handing each to `f`; returns how many
    /// it read, 0 at the end of the data.
    fn read<F: FnMut(&Self::Row<'_>)>(&mut self, max: usize, f: F) -> Result<usize, StreamError>;

    /// Starts again at the first row, for another pass; a stream that can be read only
    /// once says so with an error.
    fn rewind(&mut self) -> Result<(), StreamError>;
}

/// A stream read by a reader thread into chunks of hashed rows.
pub(crate) struct StreamFeed<'s, St> {
    pub stream: &'s mut St,
    pub chunk_rows: usize,
    pub shuffle: bool,
    pub seed: u64,
    /// Whether a pass has read it (the next pass rewinds it first).
    pub started: bool,
}

impl<I, St> Feed<I> for StreamFeed<'_, St>
where
    I: InputLayer + for<'a> InputFeed<St::Row<'a>>,
    St: Stream,
{
    type Chunk = Hashed;

    fn rows(&self) -> Option<u64> {
        None
    }

    fn pass(
        &mut self,
        pass: u64,
        f: &mut dyn FnMut(&Hashed) -> Result<(), TrainError>,
    ) -> Result<(), TrainError> {
        if self.started {
            self.stream
                .rewind()
                .map_err(|e| TrainError::Read(e.to_string()))?;
        }
        self.started = true;
        let (chunk_rows, shuffle, seed) = (self.chunk_rows, self.shuffle, self.seed);
        let stream = &mut *self.stream;
        // Two buffers: the reader fills one while training reads the other.
        let (full_tx, full_rx) = sync_channel::<Result<Hashed, TrainError>>(1);
        let (free_tx, free_rx) = channel::<Hashed>();
        for _ in 0..2 {
            free_tx
                .send(Hashed::default())
                .expect("the receiver is here");
        }
        std::thread::scope(|s| {
            s.spawn(move || {
                let mut cache = InputCache::default();
                let (mut first, mut n) = (0usize, 0u64);
                // Ends when training stops taking chunks (it drops its channel ends).
                while let Ok(mut chunk) = free_rx.recv() {
                    chunk.clear(first);
                    let mut bad = None;
                    let read = stream.read(chunk_rows, |row| {
                        if bad.is_some() {
                            return;
                        }
                        match I::load(row, &mut cache) {
                            Ok(()) => chunk.push(
                                &cache,
                                StreamRow {
                                    label: row.label(),
                                    weight: row.weight(),
                                },
                            ),
                            Err(e) => bad = Some((first + chunk.rows(), e)),
                        }
                    });
                    let msg = match (read, bad) {
                        (Err(e), _) => Err(TrainError::Read(e.to_string())),
                        (Ok(_), Some((row, source))) => Err(TrainError::Feature {
                            pass: pass as usize,
                            row,
                            source,
                        }),
                        (Ok(0), None) => return,
                        (Ok(_), None) => {
                            if shuffle {
                                Rng::new(shuffle_seed(seed, pass, n)).shuffle(&mut chunk.perm);
                            }
                            first += chunk.rows();
                            n += 1;
                            Ok(chunk)
                        }
                    };
                    let stop = msg.is_err();
                    if full_tx.send(msg).is_err() || stop {
                        return;
                    }
                }
            });
            let (free_tx, full_rx) = (free_tx, full_rx);
            for msg in full_rx {
                let chunk = msg?;
                f(&chunk)?;
                let _ = free_tx.send(chunk);
            }
            Ok(())
        })
    }
}
