//! Plain file I/O shared by model files, the row cache and explanation dumps: files
//! replaced atomically (never left half-written under their final name) and reads into
//! buffers sized beforehand. A leaf: it imports nothing from the crate, so whatever
//! writes or reads files can use it without depending on another part of the library.

mod atomic;
mod bounded;

pub(crate) use atomic::{write_atomic, AtomicFile};
pub(crate) use bounded::read_full;
