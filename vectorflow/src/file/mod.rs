//! Model files: save a net with its training state, load it back, or refuse clearly.
//!
//! A model file is a [safetensors](https://github.com/huggingface/safetensors) file: an
//! 8-byte little-endian header length, a JSON header, then little-endian tensor bytes.
//! Its tensors are `params` (the flat parameter buffer, [`Net::params`]) and, when the
//! net carries a [`TrainState`], its optimizer planes `state.0`, `state.1`, ... The
//! header's `__metadata__` map holds:
//!
//! - `format` = `vectorflow` (the magic) and `format_version`;
//! - `topology` ([`Net::topology`]), `inputs` (each input's kind and DIM), `hashing`
//!   ([`crate::hash::SCHEME`]) and `params` (the count);
//! - with a training state: `optimizer`, `passes` and `rows`;
//! - `crc32.<tensor>` for each tensor's bytes, and `checksum`, the CRC-32 of the header
//!   itself (length prefix included) computed with that value written as `00000000`.
//!   Together they cover every byte of the file.
//!
//! **Why safetensors and not a format of our own.** A model is worth more when other
//! tools can read it: `safetensors.numpy.load_file("flights.vf")["params"]` gives the
//! weights in Python with no vectorflow code, and the metadata map is exactly the
//! string-to-string map safetensors defines. Its layout is as small as a bespoke one
//! (one JSON header, then raw data, 8-byte aligned for mapping), so the only thing a
//! format of our own would add is a magic number and a checksum, and the metadata
//! carries both. The header is written and checked here (with `serde_json`) rather than
//! through the `safetensors` crate, because loading must check our metadata, bound every
//! allocation by the net's own size rather than by the file, and stream from any
//! [`Read`].
//!
//! Loading checks, in order: the header length (at most 1 MiB, so a foreign file never
//! causes a large allocation), the JSON, `format`, `format_version`, the header checksum,
//! then the hashing scheme, inputs and topology against the net's type, then each
//! tensor's length and checksum while reading it. Every failure is a [`ModelError`].
//!
//! ```
//! use vectorflow::prelude::*;
//!
//! type Lr = network![Sparse<{ 1 << 12 }> => Linear<1>];
//! let net = Lr::new(Init::uniform(0.1).seed(3));
//! let mut file = Vec::new();
//! net.to_writer(&mut file).unwrap();
//! let back = Lr::from_reader(&file[..]).unwrap();
//! assert_eq!(back.params(), net.params());
//!
//! type Other = network![Sparse<{ 1 << 12 }> => Linear<2>];
//! let err = Other::from_reader(&file[..]).err().unwrap();
//! assert!(err.to_string().contains("another topology"));
//! ```

pub(crate) mod atomic;
mod error;
mod header;

pub use error::{ModelError, ModelErrorKind};
pub use header::{FORMAT, FORMAT_VERSION};

use crate::layers::InputLayer;
use crate::network::{Net, Stack};
use crate::train::TrainState;
pub(crate) use header::read_full;
use header::{Meta, Tensor};
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

/// Tensor data moves through buffers of this many bytes (a multiple of 4).
const BUF: usize = 1 << 16;

impl<I: InputLayer, S: Stack<In = I::Out>> Net<I, S> {
    /// Saves the net, with its training state if it has one, to `path`, atomically: the
    /// file is written under a temporary name in the same directory, fsynced, then
    /// renamed, so `path` holds either the old file or the whole new one.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        let path = path.as_ref();
        atomic::write_atomic(path, |w| self.write_to(w)).map_err(|e| ModelError::from(e).at(path))
    }

    /// Writes the net (and its training state, if any) as a model file to `w`.
    pub fn to_writer(&self, w: impl Write) -> Result<(), ModelError> {
        Ok(self.write_to(w)?)
    }

    fn write_to(&self, mut w: impl Write) -> std::io::Result<()> {
        let mut data: Vec<&[f32]> = vec![self.params()];
        data.extend(self.train_state().into_iter().flat_map(|s| s.planes()));
        let names = header::tensor_names(data.len());
        let tensors = names
            .zip(&data)
            .map(|(name, d)| Tensor {
                name,
                len: d.len() as u64,
                crc: crc_of(d),
            })
            .collect();
        let meta = Meta {
            topology: Self::topology(),
            inputs: inputs(&Self::topology()),
            hashing: crate::hash::SCHEME.to_string(),
            params: Self::PARAMS as u64,
            state: self
                .train_state()
                .map(|s| (s.optimizer().to_string(), s.passes(), s.rows())),
            tensors,
        };
        w.write_all(&header::encode(&meta))?;
        let mut buf = vec![0u8; BUF];
        for d in data {
            for chunk in d.chunks(BUF / 4) {
                let bytes = le_bytes(chunk, &mut buf);
                w.write_all(bytes)?;
            }
        }
        w.flush()?;
        Ok(())
    }

    /// Loads a net and its training state (if the file has one) from `path`.
    ///
    /// Fails with a [`ModelError`] naming what differs if the file holds another
    /// topology, input DIM or hashing scheme, and on a truncated, damaged, newer or
    /// foreign file; it never allocates more than the net's own size.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        Self::load_path(path.as_ref(), true)
    }

    /// Loads only the weights from `path`, for prediction: the training state, if the
    /// file has one, is neither read nor kept. The parameters are read once, straight
    /// into the net's buffer.
    pub fn load_weights(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        Self::load_path(path.as_ref(), false)
    }

    /// Reads a net and its training state (if any) from a model file's bytes.
    pub fn from_reader(r: impl Read) -> Result<Self, ModelError> {
        Self::read(&mut { r }, true).map(|(net, _)| net)
    }

    /// Reads only the weights from a model file's bytes (see [`Net::load_weights`]); the
    /// reader is left after the parameters.
    pub fn weights_from_reader(r: impl Read) -> Result<Self, ModelError> {
        Self::read(&mut { r }, false).map(|(net, _)| net)
    }

    fn load_path(path: &Path, state: bool) -> Result<Self, ModelError> {
        let at = |e: ModelError| e.at(path);
        let file = File::open(path).map_err(|e| at(e.into()))?;
        let size = file.metadata().map_err(|e| at(e.into()))?.len();
        let mut r = BufReader::with_capacity(BUF, file);
        let (net, expected) = Self::read(&mut r, state).map_err(at)?;
        if size < expected {
            return Err(at(ModelErrorKind::Truncated {
                section: "the file".into(),
                expected,
                found: size,
            }
            .into()));
        }
        if size > expected {
            return Err(at(ModelErrorKind::Corrupt(format!(
                "it has {} bytes after the end of its data",
                size - expected
            ))
            .into()));
        }
        Ok(net)
    }

    /// Reads a net, and the file length its header implies.
    fn read(r: &mut impl Read, with_state: bool) -> Result<(Self, u64), ModelError> {
        let (meta, header_len) = header::decode(r)?;
        let mismatch = |what, file: &str, net: String| {
            Err(ModelErrorKind::Mismatch {
                what,
                file: file.to_string(),
                net,
            }
            .into())
        };
        if meta.hashing != crate::hash::SCHEME {
            return mismatch("hashing scheme", &meta.hashing, crate::hash::SCHEME.into());
        }
        let topology = Self::topology();
        if meta.inputs != inputs(&topology) {
            return mismatch("input (kind or DIM)", &meta.inputs, inputs(&topology));
        }
        if meta.topology != topology {
            return mismatch("topology", &meta.topology, topology);
        }
        let n = Self::PARAMS as u64;
        if meta.params != n || meta.tensors.iter().any(|t| t.len != n) {
            return Err(ModelErrorKind::Corrupt(format!(
                "its topology has {n} parameters, but its tensors do not"
            ))
            .into());
        }
        let params = read_f32s(r, &meta.tensors[0])?;
        let state = match (&meta.state, with_state) {
            (Some((opt, passes, rows)), true) => {
                let planes = meta.tensors[1..]
                    .iter()
                    .map(|t| read_f32s(r, t))
                    .collect::<Result<Vec<_>, _>>()?;
                Some(TrainState::from_parts(opt.clone(), planes, *passes, *rows))
            }
            _ => None,
        };
        Ok((Net::from_parts(params, state), header_len + meta.data_len()))
    }
}

/// The inputs part of a topology (before the first layer).
fn inputs(topology: &str) -> String {
    topology
        .split(" => ")
        .next()
        .unwrap_or_default()
        .to_string()
}

/// `data` as little-endian bytes in `buf` (at least `4 · data.len()` long).
fn le_bytes<'b>(data: &[f32], buf: &'b mut [u8]) -> &'b [u8] {
    for (b, x) in buf.chunks_exact_mut(4).zip(data) {
        b.copy_from_slice(&x.to_le_bytes());
    }
    &buf[..4 * data.len()]
}

fn crc_of(data: &[f32]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; BUF];
    for chunk in data.chunks(BUF / 4) {
        h.update(le_bytes(chunk, &mut buf));
    }
    h.finalize()
}

/// Reads tensor `t` (its length already checked against the net), verifying its CRC.
fn read_f32s(r: &mut impl Read, t: &Tensor) -> Result<Vec<f32>, ModelError> {
    let total = 4 * t.len;
    let mut out = Vec::with_capacity(t.len as usize);
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; BUF];
    let mut done = 0u64;
    while done < total {
        let want = (total - done).min(BUF as u64) as usize;
        let got = read_full(r, &mut buf[..want])?;
        h.update(&buf[..got]);
        out.extend(
            buf[..got]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        done += got as u64;
        if got < want {
            return Err(ModelErrorKind::Truncated {
                section: format!("tensor {}", t.name),
                expected: total,
                found: done,
            }
            .into());
        }
    }
    let crc = h.finalize();
    if crc != t.crc {
        return Err(ModelErrorKind::Corrupt(format!(
            "tensor {} has checksum {crc:08x}, but the header says {:08x}",
            t.name, t.crc
        ))
        .into());
    }
    Ok(out)
}
