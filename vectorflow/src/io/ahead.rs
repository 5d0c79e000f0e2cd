//! A sparse reader on a thread of its own: the next chunk is read and parsed while the
//! caller works on this one.

use super::error::ReadError;
use super::reader::{SparseFormat, SparseReader};
use super::rows::SparseRows;
use std::io::Read;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// What the reading thread sends: a chunk of rows, the end, or the error that ended it.
type Msg = Result<Option<SparseRows>, ReadError>;

/// A [`SparseReader`] run on a thread of its own ([`SparseReader::ahead`]), one chunk
/// ahead of the caller: while the caller trains on or scores one chunk, the next is read
/// and parsed (on the reader's threads), so that the parsing threads do not wait for the
/// caller between chunks. Holds two chunks of rows more than the reader alone: the
/// one waiting for the caller and the one being parsed.
///
/// ```
/// use vectorflow::io::{LibSvm, SparseFormat, SparseRows};
/// let text = "1 1:0.5 3:2\n-1 2:1\n".repeat(100);
/// let reader = LibSvm::new().reader(std::io::Cursor::new(text), "<text>").chunk_bytes(64);
/// let mut ahead = reader.ahead()?;
/// let mut rows = SparseRows::new();
/// let mut total = 0;
/// while ahead.read_into(&mut rows)? {
///     total += rows.len(); // score rows.to_rows() here
/// }
/// assert_eq!(total, 200);
/// # Ok::<(), vectorflow::io::ReadError>(())
/// ```
#[derive(Debug)]
pub struct ReadAhead {
    full: Option<Receiver<Msg>>,
    /// Buffers handed back for reuse.
    free: Option<Sender<SparseRows>>,
    thread: Option<JoinHandle<()>>,
    name: Arc<str>,
}

impl<R, F> SparseReader<R, F>
where
    R: Read + Send + 'static,
    F: SparseFormat + Send + 'static,
{
    /// Runs this reader on a thread of its own, one chunk ahead of the caller.
    ///
    /// # Errors
    ///
    /// If the thread cannot be started.
    pub fn ahead(self) -> Result<ReadAhead, ReadError> {
        let name = self.file_name().clone();
        // One chunk waits in the channel while the thread parses the next: the caller's,
        // the waiting one and the one being parsed are all the buffers there are, and the
        // thread waits for one to come back rather than grow a new one.
        let (full_tx, full) = sync_channel::<Msg>(1);
        let (free, free_rx) = channel::<SparseRows>();
        for _ in 0..2 {
            let _ = free.send(SparseRows::default());
        }
        let mut reader = self;
        let thread = std::thread::Builder::new()
            .name("vectorflow-read".into())
            .spawn(move || loop {
                // A closed channel: the caller dropped the reader.
                let Ok(mut rows) = free_rx.recv() else {
                    return;
                };
                let msg = match reader.read_into(&mut rows) {
                    Ok(true) => Ok(Some(rows)),
                    Ok(false) => Ok(None),
                    Err(e) => Err(e),
                };
                let last = !matches!(msg, Ok(Some(_)));
                // A closed channel: the caller dropped the reader.
                if full_tx.send(msg).is_err() || last {
                    return;
                }
            })
            .map_err(|e| ReadError::io(&name, e))?;
        Ok(ReadAhead {
            full: Some(full),
            free: Some(free),
            thread: Some(thread),
            name,
        })
    }
}

impl ReadAhead {
    /// Replaces `out`'s rows with the next chunk's; `false` at the end of the input.
    /// `out`'s buffers go back to the reading thread for reuse.
    ///
    /// # Errors
    ///
    /// As [`SparseReader::read_into`]; after an error (or the end) every call gives
    /// `false`.
    pub fn read_into(&mut self, out: &mut SparseRows) -> Result<bool, ReadError> {
        let Some(full) = self.full.as_ref() else {
            out.clear();
            return Ok(false);
        };
        // A thread that ended without a last message panicked.
        let msg = full.recv().unwrap_or_else(|_| {
            let e = std::io::Error::other("the reading thread panicked");
            Err(ReadError::io(&self.name, e))
        });
        match msg {
            Ok(Some(rows)) => {
                let old = std::mem::replace(out, rows);
                if let Some(free) = &self.free {
                    let _ = free.send(old);
                }
                Ok(true)
            }
            // The thread has ended: every later call gives `false`.
            Ok(None) => {
                self.full = None;
                out.clear();
                Ok(false)
            }
            Err(e) => {
                self.full = None;
                out.clear();
                Err(e)
            }
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channels ends the thread after the chunk it is on.
        self.free = None;
        self.full = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
