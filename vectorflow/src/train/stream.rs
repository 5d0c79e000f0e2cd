//! Training from a stream of rows in bounded memory.
//!
//! A [`Stream`] hands out rows a chunk at a time; the rows may borrow from a buffer the
//! stream owns (a chunk of a file's text, say). While the training threads work through
//! one chunk, a reader thread reads the next and hashes its rows into the form of
//! [`RowInputs`](crate::layers::RowInputs), so reading, parsing and hashing overlap training, and only two chunks of
//! hashed rows exist at a time (three in a pass that writes the binary cache, whose
//! writer thread encodes and writes one): memory is bounded by the chunk size, not the
//! data.

use super::chunk::{Hashed, StreamRow};
use super::feed::{shuffle_seed, Feed};
use super::row_cache::{CacheKey, CacheReader, CacheWriter};
use super::TrainError;
use crate::features::{AuxFields, AuxValue, Features, Labeled};
use crate::layers::RowInputs;
use crate::rng::Rng;
use crate::trainable::LoadRow;
use std::path::PathBuf;
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
    /// A row, which may borrow from the buffer the stream reads into.
    type Row<'a>: Labeled;

    /// Reads the next rows, about `max` of them (a reader with chunks of its own may hand
    /// out one of those instead), handing each to `f`; returns how many it read, 0 at
    /// the end of the data. Each call's rows become one chunk of training.
    fn read<F: FnMut(&Self::Row<'_>)>(&mut self, max: usize, f: F) -> Result<usize, StreamError>;

    /// Starts again at the first row, for another pass; a stream that can be read only
    /// once says so with an error.
    fn rewind(&mut self) -> Result<(), StreamError>;

    /// What it reads, identified well enough that a cache built from it can be reused
    /// by a later `fit`: everything that decides its rows (for the crate's file
    /// streams, the file's path, size, times and a hash of its ends, and the reader's
    /// options). Training also reads it before and after each pass that reads the
    /// stream, and stops with an error when it changed. Empty (the default) when
    /// unknown: a cache is then built anew by every `fit`, and serves only that fit's
    /// later passes, and changes go unnoticed.
    fn source(&self) -> String {
        String::new()
    }

    /// What it reads, for messages: a file's path, say (an error about an empty stream
    /// names it). Empty (the default) when it has no name.
    fn name(&self) -> String {
        String::new()
    }

    /// The plan of the job whose rank's part of the data this stream reads, when opened
    /// with a [`Shard`](crate::io::Shard) (`stream_shard`, `csv_shard`, ...), for the
    /// ranks to compare at start ([`ShardPlan::fingerprint`](crate::io::ShardPlan::fingerprint)).
    /// `None` (the default) for a stream opened without one.
    fn shard(&self) -> Option<&crate::shard::ShardPlan> {
        None
    }
}

/// A stream read by a reader thread into chunks of hashed rows, each with its row's
/// `#[aux]` values `A`.
pub(crate) struct StreamFeed<'s, St, A> {
    pub stream: &'s mut St,
    pub chunk_rows: usize,
    pub shuffle: bool,
    pub seed: u64,
    /// Whether a pass has read it (the next pass rewinds it first).
    pub started: bool,
    /// Its [`Stream::source`] when training started: a pass that reads the stream
    /// checks it is unchanged before and after (unless empty, unknown).
    pub source: String,
    /// The binary cache: where, what it must have been built for, and whether it is
    /// complete (then passes read it instead of the stream).
    pub cache: Option<(PathBuf, CacheKey, bool)>,
    pub aux: std::marker::PhantomData<fn() -> A>,
}

/// Where the reader thread takes a pass's rows from.
enum Input<'a, St> {
    Stream(&'a mut St),
    Cache(CacheReader),
}

impl<M, St, A> Feed<M> for StreamFeed<'_, St, A>
where
    M: for<'a> LoadRow<St::Row<'a>>,
    St: Stream,
    for<'a> St::Row<'a>: AuxFields<Aux = A>,
    A: AuxValue,
{
    type Chunk = Hashed<A>;

    fn rows(&self) -> Option<u64> {
        None
    }

    fn name(&self) -> String {
        self.stream.name()
    }

    fn pass(
        &mut self,
        net: &M,
        pass: u64,
        f: &mut dyn FnMut(&Hashed<A>) -> Result<(), TrainError>,
    ) -> Result<(), TrainError> {
        let (mut input, writer) = match &self.cache {
            Some((path, key, true)) => match CacheReader::open(path, key)? {
                Some(r) => (Input::Cache(r), None),
                None => {
                    return Err(TrainError::Read(format!(
                        "cache {}: it changed during training",
                        path.display()
                    )))
                }
            },
            cache => {
                if self.started {
                    unchanged(&self.source, &*self.stream, pass)?;
                }
                // A cache is keyed on its source, so it must hold every row of the
                // source as it is now: a first pass that writes one starts from the
                // beginning, not from wherever the stream stood, nor from a file the
                // stream opened before it was replaced.
                let writes = matches!(cache, Some((_, _, false))) && !self.source.is_empty();
                if self.started || writes {
                    self.stream
                        .rewind()
                        .map_err(|e| TrainError::Read(e.to_string()))?;
                }
                let writer = match cache {
                    Some((path, key, false)) => Some(CacheWriter::create(path, key)?),
                    _ => None,
                };
                (Input::Stream(&mut *self.stream), writer)
            }
        };
        self.started = true;
        let reads_stream = matches!(input, Input::Stream(_));
        let (chunk_rows, shuffle, seed) = (self.chunk_rows, self.shuffle, self.seed);
        // The reader fills one buffer while training reads another (and, when a cache is
        // being written, the writer a third).
        let (full_tx, full_rx) = sync_channel::<Result<Hashed<A>, TrainError>>(1);
        let (free_tx, free_rx) = channel::<Hashed<A>>();
        for _ in 0..2 + writer.is_some() as usize {
            free_tx
                .send(Hashed::default())
                .expect("the receiver is here");
        }
        let (complete, writer) = std::thread::scope(|s| {
            // With a cache to write, chunks go through the writer on their way to
            // training, so that encoding and writing overlap the next chunk's parsing.
            let (hop_tx, writing) = match writer {
                Some(mut w) => {
                    let (hop_tx, hop_rx) = sync_channel::<Result<Hashed<A>, TrainError>>(1);
                    let full_tx = full_tx.clone();
                    let writing = s.spawn(move || -> Option<CacheWriter> {
                        for msg in hop_rx {
                            let msg = msg.and_then(|chunk| w.write(&chunk).map(|()| chunk));
                            let stop = msg.is_err();
                            if full_tx.send(msg).is_err() || stop {
                                return None;
                            }
                        }
                        Some(w)
                    });
                    (hop_tx, Some(writing))
                }
                None => (full_tx.clone(), None),
            };
            drop(full_tx);
            let reader = s.spawn(move || -> bool {
                let mut inputs = RowInputs::default();
                let (mut first, mut n) = (0usize, 0u64);
                // Ends when training stops taking chunks (it drops its channel ends).
                while let Ok(mut chunk) = free_rx.recv() {
                    let read = match &mut input {
                        Input::Cache(r) => r.next(&mut chunk, first),
                        Input::Stream(stream) => read_chunk(
                            net,
                            stream,
                            chunk_rows,
                            &mut inputs,
                            &mut chunk,
                            first,
                            pass,
                        )
                        .map(|n| n > 0),
                    };
                    let msg = match read {
                        // The pass read every row.
                        Ok(false) => return true,
                        Ok(true) => {
                            if shuffle {
                                Rng::new(shuffle_seed(seed, pass, n)).shuffle(&mut chunk.perm);
                            }
                            first += chunk.rows();
                            n += 1;
                            Ok(chunk)
                        }
                        Err(e) => Err(e),
                    };
                    let stop = msg.is_err();
                    if hop_tx.send(msg).is_err() || stop {
                        return false;
                    }
                }
                false
            });
            // Owning its channel ends, training that stops early drops them on return,
            // which stops the reader and the writer.
            let trained = (move || {
                for msg in full_rx {
                    let chunk = msg?;
                    f(&chunk)?;
                    let _ = free_tx.send(chunk);
                }
                Ok(())
            })();
            // A thread that panicked closed its channel as the end of the rows would:
            // the pass would seem whole.
            let complete = reader.join();
            let writer = writing.map(|w| w.join()).transpose();
            trained?;
            match (complete, writer) {
                (Ok(complete), Ok(writer)) => Ok((complete, writer.flatten())),
                _ => Err(TrainError::Read(
                    "the thread reading the rows or writing the cache panicked".into(),
                )),
            }
        })?;
        if reads_stream {
            // Rows read from a file rewritten meanwhile may be torn: an error, and
            // never a cache of them.
            unchanged(&self.source, &*self.stream, pass)?;
        }
        if let (true, Some(w)) = (complete, writer.filter(|w| w.rows() > 0)) {
            // Only a cache of every row, and of some rows, is put under its name.
            w.finish()?;
            if let Some((_, _, ready)) = &mut self.cache {
                *ready = true;
            }
        }
        Ok(())
    }
}

/// An error naming the stream's source if it differs from `before` (its source when
/// training started); nothing for a stream that does not know its source.
fn unchanged<St: Stream>(before: &str, stream: &St, pass: u64) -> Result<(), TrainError> {
    if before.is_empty() {
        return Ok(());
    }
    let now = stream.source();
    if now == before {
        return Ok(());
    }
    Err(TrainError::Read(format!(
        "{now}: the input changed while pass {pass} read it (it was {before}); \
         its rows may mix two versions, so training stopped and no cache was written; \
         train on a copy that nothing writes to"
    )))
}

/// Reads up to `max` rows of `stream` into `chunk`, hashing each for `net`;
/// the number read (0 at the end). A row whose features are not finite is an error
/// naming its index from the stream's start.
fn read_chunk<M, St, A>(
    net: &M,
    stream: &mut St,
    max: usize,
    inputs: &mut RowInputs,
    chunk: &mut Hashed<A>,
    first: usize,
    pass: u64,
) -> Result<usize, TrainError>
where
    M: for<'a> LoadRow<St::Row<'a>>,
    St: Stream,
    for<'a> St::Row<'a>: AuxFields<Aux = A>,
{
    chunk.clear(first);
    let mut bad = None;
    let read = stream.read(max, |row| {
        if bad.is_some() {
            return;
        }
        match net.load(row, inputs) {
            Ok(()) => chunk.push(
                inputs,
                StreamRow {
                    label: row.label(),
                    weight: row.weight(),
                    aux: row.aux(),
                },
            ),
            Err(e) => {
                let at = first + chunk.rows();
                bad = Some(super::validate::feature(net, pass as usize, at, row, e));
            }
        }
    });
    match (read, bad) {
        (Err(e), _) => Err(TrainError::Read(e.to_string())),
        (Ok(_), Some(e)) => Err(e),
        (Ok(n), None) => Ok(n),
    }
}
