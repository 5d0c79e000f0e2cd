//! Model files: save a net with its training state, load it back, or refuse clearly.
//!
//! A model file is a [safetensors](https://github.com/huggingface/safetensors) file: an
//! 8-byte little-endian header length, a JSON header, then little-endian tensor bytes.
//! Its tensors (all documented in `docs/model_files.md`) are, weights first:
//!
//! - `params`: the flat parameter buffer ([`Net::params`]), less any sparse table
//!   stored as listed rows;
//! - for each such table `t`: `table.t.ids` (U32 `[k]`, the rows that differ from their
//!   initial draws, ascending) and `table.t.rows` (F32 `[k, width]`, those rows);
//! - with a [`TrainState`], for each optimizer plane `j`: `state.j` (laid out like
//!   `params`), and for each table `table.t.state.j.fill` (F32 `[width]`, the state row
//!   of every unlisted row) and `table.t.state.j` (F32 `[k, width]`).
//!
//! A row is listed when its weights differ, bit for bit, from the draws of the net's
//! seeded [`crate::Init`] (or from zeros, when the initialisation is unknown), or its
//! state from the fill row; loading draws them again and writes the listed rows over
//! them. A table is stored so only when that is smaller than dense: a net trained on
//! two rows of a 2^20 × 16 table saves 2 KB instead of 134 MB. [`Net::save_for_predict`]
//! writes the weights alone. The header's `__metadata__` map holds:
//!
//! - `format` = `vectorflow` (the magic) and `format_version` (1, or 2 with sparse
//!   tables, so older builds refuse those by name);
//! - `topology` ([`Net::topology`]), `inputs` (each input's kind and DIM), `hashing`
//!   ([`crate::hash::SCHEME`]) and `params` (the count);
//! - with a training state: `optimizer`, `passes` and `rows`; or `saved_for` =
//!   `predict` in a file saved for prediction, which [`Net::load`] refuses;
//! - `init`, the initialisation the weights were drawn with, when known and
//!   reproducible; `table.t` = `offset,rows,width` for each table stored as listed
//!   rows, and `crc32.weights`, the CRC-32 of the whole rebuilt parameter buffer;
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
//! then the hashing scheme, inputs and topology against the net's type, every table and
//! tensor shape against the net's (a table listing more rows than it has is refused
//! before anything is allocated), then each tensor's checksum while reading it, each
//! table's ids (strictly increasing, below its rows), and the rebuilt weights' checksum.
//! Every failure is a [`ModelError`].
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

mod error;
mod header;
mod sparse;
mod tensor;

pub use error::{ModelError, ModelErrorKind};
pub use header::{FORMAT, FORMAT_VERSION};

use crate::fsio::write_atomic;
use crate::layers::InputLayer;
use crate::network::{Net, Stack};
use crate::optim::TrainState;
use crate::rng::Rng;
use crate::trainable::Typed;
use crate::weights::{Flat, Weights};
pub(crate) use header::Header;
use header::{TableMeta, Tensor};
use sparse::Table;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use tensor::{crc_of, read_ids, read_tensor, scatter, Data, Ranges, BUF};

impl<I: InputLayer, S: Stack<In = I::Out>> Net<I, S> {
    /// Saves the net, with its training state if it has one, to `path`, atomically: the
    /// file is written under a temporary name in the same directory, fsynced, then
    /// renamed, so `path` holds either the old file or the whole new one.
    ///
    /// A sparse table is stored as the rows that differ from their initial draws when
    /// that is smaller (see the [module docs](crate::file)); finding them draws the
    /// input layer's initial weights once more, into a temporary of its size.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        self.save_as(path.as_ref(), true)
    }

    /// Saves the weights alone to `path`, atomically, for prediction: no training state,
    /// so the file is a fraction of [`Net::save`]'s. [`Net::load_weights`] reads it and
    /// predicts exactly as this net does; [`Net::load`], which resumes training, refuses
    /// it ([`ModelErrorKind::PredictOnly`]), since its optimizer state is gone.
    pub fn save_for_predict(&self, path: impl AsRef<Path>) -> Result<(), ModelError> {
        self.save_as(path.as_ref(), false)
    }

    /// Writes the net (and its training state, if any) as a model file to `w`.
    pub fn to_writer(&self, w: impl Write) -> Result<(), ModelError> {
        Ok(self.write_to(w, true)?)
    }

    /// Writes the weights alone as a model file to `w` (see [`Net::save_for_predict`]).
    pub fn to_writer_for_predict(&self, w: impl Write) -> Result<(), ModelError> {
        Ok(self.write_to(w, false)?)
    }

    fn save_as(&self, path: &Path, with_state: bool) -> Result<(), ModelError> {
        let parts = (self.params(), self.train_state(), self.init());
        save_model(&Typed::<I, S>::new(), parts, &[], path, with_state)
    }

    /// Loads a net and its training state (if the file has one) from `path`, to predict
    /// with or to train on exactly where it left off.
    ///
    /// Fails with a [`ModelError`] naming what differs if the file holds another
    /// topology, input DIM or hashing scheme, and on a truncated, damaged, newer or
    /// foreign file, or one saved for prediction only ([`Net::save_for_predict`]); it
    /// never allocates more than the net's own size.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        Self::load_path(path.as_ref(), true)
    }

    /// Loads only the weights from `path`, for prediction: the training state, if the
    /// file has one, is neither read nor kept, and training the net starts a fresh
    /// optimizer state. It reads files of [`Net::save`] and [`Net::save_for_predict`].
    pub fn load_weights(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        Self::load_path(path.as_ref(), false)
    }

    /// Reads a net and its training state (if any) from a model file's bytes (see
    /// [`Net::load`]).
    pub fn from_reader(r: impl Read) -> Result<Self, ModelError> {
        Self::read(&mut { r }, true).map(|(net, _)| net)
    }

    /// Reads only the weights from a model file's bytes (see [`Net::load_weights`]); the
    /// reader is left after the weights.
    pub fn weights_from_reader(r: impl Read) -> Result<Self, ModelError> {
        Self::read(&mut { r }, false).map(|(net, _)| net)
    }
    fn write_to(&self, w: impl Write, with_state: bool) -> std::io::Result<()> {
        let parts = (self.params(), self.train_state(), self.init());
        write_model(&Typed::<I, S>::new(), parts, &[], w, with_state)
    }

    fn load_path(path: &Path, state: bool) -> Result<Self, ModelError> {
        let (w, s, i) = load_model(path, state, |_| Ok(Typed::<I, S>::new()))?;
        Ok(Net::from_weights(w, s, i))
    }

    fn read(r: &mut impl Read, with_state: bool) -> Result<(Self, u64), ModelError> {
        let ((w, s, i), len) = read_model(r, with_state, |_| Ok(Typed::<I, S>::new()))?;
        Ok((Net::from_weights(w, s, i), len))
    }
}

/// What a model file needs of a net's shape: a typed net's ([`Typed`]) or one built at
/// run time.
pub(crate) trait Layout {
    /// The topology line ([`Net::topology`]).
    fn topology(&self) -> String;
    /// The number of parameters.
    fn param_count(&self) -> usize;
    /// The weight blocks ([`Net::blocks`]).
    fn blocks(&self) -> Vec<crate::layers::Block>;
    /// The number of parameters of the input layer.
    fn input_params(&self) -> usize;
    /// Writes the input layer's weights as `init` draws them into `w` (of
    /// `input_params` floats): the base of sparse tables, the same on save and on load.
    fn initial_input(&self, init: &crate::init::Init, w: &mut [f32]);
}

impl<I: InputLayer, S: Stack<In = I::Out>> Layout for Typed<I, S> {
    fn topology(&self) -> String {
        Net::<I, S>::topology()
    }
    fn param_count(&self) -> usize {
        Net::<I, S>::PARAMS
    }
    fn blocks(&self) -> Vec<crate::layers::Block> {
        Net::<I, S>::blocks()
    }
    fn input_params(&self) -> usize {
        I::PARAMS
    }
    fn initial_input(&self, init: &crate::init::Init, w: &mut [f32]) {
        I::init(w, init, &mut Rng::new(init.seed));
    }
}

/// Saves a net of shape `layout` with its `(weights, state, init)` to `path`,
/// atomically: written under a temporary name in the same directory, fsynced, renamed.
pub(crate) fn save_model(
    layout: &impl Layout,
    parts: (&Weights, Option<&TrainState>, Option<&crate::init::Init>),
    recipe: &[(String, String)],
    path: &Path,
    with_state: bool,
) -> Result<(), ModelError> {
    write_atomic(path, |w| write_model(layout, parts, recipe, w, with_state))
        .map_err(|e| ModelError::from(e).at(path))
}

/// A net's weights, training state and initialisation, as a file holds them.
pub(crate) type Parts = (Weights, Option<TrainState>, Option<crate::init::Init>);

/// The net's sparse blocks, in order: the tables a file may store as listed rows.
fn sparse_blocks(layout: &impl Layout) -> Vec<sparse::Block> {
    layout
        .blocks()
        .into_iter()
        .filter_map(|b| {
            let width = b.row?;
            Some(sparse::Block {
                offset: b.offset,
                rows: b.len.checked_div(width)?,
                width,
            })
        })
        .collect()
}

/// Writes a net of shape `layout` with its `(weights, state, init)` and the read
/// recipe, if any, as a model file.
pub(crate) fn write_model(
    layout: &impl Layout,
    (weights, state, init): (&Weights, Option<&TrainState>, Option<&crate::init::Init>),
    recipe: &[(String, String)],
    mut w: impl Write,
    with_state: bool,
) -> std::io::Result<()> {
    // Read in the flat order where they are: no flat copy of the weights or planes.
    let params = &weights.flat();
    let state = state.filter(|_| with_state);
    let planes: Vec<_> = state
        .into_iter()
        .flat_map(|s| s.rest_planes())
        .enumerate()
        .map(|(j, rest)| weights.flat_state(j, rest))
        .collect();
    let planes: Vec<&dyn Flat> = planes.iter().map(|p| p as &dyn Flat).collect();
    let init = init.and_then(|i| Some((*i, sparse::init_text(i)?)));
    let blocks = sparse_blocks(layout);
    let base = match &init {
        Some((i, _)) if !blocks.is_empty() => {
            let mut w = vec![0.0f32; layout.input_params()];
            layout.initial_input(i, &mut w);
            Some(w)
        }
        _ => None,
    };
    let tables = sparse::plan(params, &planes, &blocks, base.as_deref());
    drop(base);
    let gaps = sparse::gaps(layout.param_count(), &tables);
    let indices: Vec<usize> = tables.iter().map(|t| t.index).collect();
    let names = header::tensor_names(&indices, planes.len());
    // The tensors' data, in the order of `names`.
    let mut data = vec![Data::Floats(params, Ranges::Gaps(&gaps))];
    for t in &tables {
        data.push(Data::Ids(&t.ids));
        data.push(Data::Floats(params, Ranges::Rows(t)));
    }
    for &p in &planes {
        data.push(Data::Floats(p, Ranges::Gaps(&gaps)));
        for t in &tables {
            data.push(Data::Floats(p, Ranges::Fill(t)));
            data.push(Data::Floats(p, Ranges::Rows(t)));
        }
    }
    let tensors = names
        .into_iter()
        .zip(&data)
        .map(|(name, d)| {
            let mut h = crc32fast::Hasher::new();
            d.emit(|b| {
                h.update(b);
                Ok(())
            })?;
            Ok(Tensor {
                name,
                dtype: d.dtype(),
                shape: d.shape(),
                crc: h.finalize(),
            })
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let head = Header {
        topology: layout.topology(),
        inputs: inputs(&layout.topology()),
        hashing: crate::hash::SCHEME.to_string(),
        params: layout.param_count() as u64,
        state: state.map(|s| (s.optimizer().to_string(), s.passes(), s.rows())),
        predict_only: !with_state,
        init: init.map(|(_, text)| text),
        tables: tables
            .iter()
            .map(|t| TableMeta {
                index: t.index,
                offset: t.offset as u64,
                rows: t.rows as u64,
                width: t.width as u64,
            })
            .collect(),
        weights_crc: (!tables.is_empty()).then(|| crc_of(params, layout.param_count())),
        tensors,
        recipe: recipe.to_vec(),
    };
    w.write_all(&header::encode(&head))?;
    for d in &data {
        d.emit(|b| w.write_all(b))?;
    }
    w.flush()?;
    Ok(())
}

/// Loads the model file at `path` into a net whose shape `layout_of` gives from the
/// file's header.
pub(crate) fn load_model<L: Layout>(
    path: &Path,
    state: bool,
    layout_of: impl FnOnce(&Header) -> Result<L, ModelError>,
) -> Result<Parts, ModelError> {
    let at = |e: ModelError| e.at(path);
    let file = File::open(path).map_err(|e| at(e.into()))?;
    let size = file.metadata().map_err(|e| at(e.into()))?.len();
    let mut r = BufReader::with_capacity(BUF, file);
    let (net, expected) = read_model(&mut r, state, layout_of).map_err(at)?;
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

/// Reads a net whose shape `layout_of` gives from the file's header, and the file
/// length its header implies.
pub(crate) fn read_model<L: Layout>(
    r: &mut impl Read,
    with_state: bool,
    layout_of: impl FnOnce(&Header) -> Result<L, ModelError>,
) -> Result<(Parts, u64), ModelError> {
    let (head, header_len) = header::decode(r)?;
    let layout = layout_of(&head)?;
    let mismatch = |what, file: &str, net: String| {
        Err(ModelErrorKind::Mismatch {
            what,
            file: file.to_string(),
            net,
        }
        .into())
    };
    if head.hashing != crate::hash::SCHEME {
        return mismatch("hashing scheme", &head.hashing, crate::hash::SCHEME.into());
    }
    let topology = layout.topology();
    if head.inputs != inputs(&topology) {
        return mismatch("input (kind or DIM)", &head.inputs, inputs(&topology));
    }
    if head.topology != topology {
        return mismatch("topology", &head.topology, topology);
    }
    if head.predict_only && with_state {
        return Err(ModelErrorKind::PredictOnly.into());
    }
    let corrupt = |m: String| ModelError::from(ModelErrorKind::Corrupt(m));
    let init = match &head.init {
        Some(text) => Some(sparse::parse_init(text).ok_or_else(|| {
            corrupt(format!(
                "its metadata's init {text:?} is not an initialisation"
            ))
        })?),
        None => None,
    };
    let n = layout.param_count();
    if head.params != n as u64 {
        return Err(corrupt(format!(
            "its topology has {n} parameters, but its metadata says {}",
            head.params
        )));
    }
    let tables = tables_of(&layout, &head)?;
    let gaps = sparse::gaps(n, &tables);
    let rest: usize = gaps.iter().map(|g| g.len()).sum();
    // Every tensor's shape, checked before anything is allocated.
    let mut tensors = head.tensors.iter();
    let mut expect = |shape: &[usize]| -> Result<&Tensor, ModelError> {
        let t = tensors
            .next()
            .ok_or_else(|| corrupt("the header lists too few tensors".into()))?;
        if t.shape.iter().copied().ne(shape.iter().map(|&d| d as u64)) {
            return Err(corrupt(format!(
                "tensor {} has shape {:?}, but this net needs {shape:?}",
                t.name, t.shape
            )));
        }
        Ok(t)
    };
    let t_params = expect(&[rest])?;
    let mut t_tables = Vec::new();
    for t in &tables {
        // The header put this table's ids tensor, of rank 1, next.
        let ids = head.tensors[1 + 2 * t_tables.len()].shape[0];
        let ids = usize::try_from(ids).unwrap_or(usize::MAX);
        if ids > t.rows {
            return Err(corrupt(format!(
                "table {} lists {ids} rows, but it has {}",
                t.index, t.rows
            )));
        }
        t_tables.push((expect(&[ids])?, expect(&[ids, t.width])?));
    }
    let mut t_planes = Vec::new();
    let planes = head.tensors.len() - 1 - 2 * tables.len();
    for _ in 0..planes / (1 + 2 * tables.len()) {
        let dense = expect(&[rest])?;
        let mut per_table = Vec::new();
        for (t, (ids, _)) in tables.iter().zip(&t_tables) {
            per_table.push((expect(&[t.width])?, expect(&[ids.len() as usize, t.width])?));
        }
        t_planes.push((dense, per_table));
    }
    // The weights: the base, the listed rows over it, the rest between the tables.
    let mut params = vec![0.0f32; n];
    if let (false, Some(init)) = (tables.is_empty(), &init) {
        layout.initial_input(init, &mut params[..layout.input_params()]);
    }
    read_tensor(r, t_params, scatter(&mut params, gaps.iter().cloned()))?;
    let mut tables = tables;
    for (t, (ids, rows)) in tables.iter_mut().zip(&t_tables) {
        t.ids = read_ids(r, ids, t.rows)?;
        read_tensor(
            r,
            rows,
            scatter(&mut params, t.ids.iter().map(|&i| t.row(i as usize))),
        )?;
    }
    if let Some(stored) = head.weights_crc {
        let crc = crc_of(&params, n);
        if crc != stored {
            let base = head.init.as_deref().unwrap_or("zeros");
            return Err(corrupt(format!(
                "its weights rebuilt over the initial draws ({base}) have checksum \
                 {crc:08x}, but the header says {stored:08x}"
            )));
        }
    }
    // The sparse tables take their rows now, so that the flat weights are freed
    // before the planes are read, and each plane as soon as it is read.
    let mut weights = Weights::new(params, &layout.blocks());
    let state = match (&head.state, with_state) {
        (Some((opt, passes, rows)), true) => {
            let mut planes = Vec::new();
            for (dense, per_table) in &t_planes {
                let mut plane = vec![0.0f32; n];
                read_tensor(r, dense, scatter(&mut plane, gaps.iter().cloned()))?;
                for (t, (fill, listed)) in tables.iter().zip(per_table) {
                    let mut row = vec![0.0f32; t.width];
                    read_tensor(r, fill, scatter(&mut row, std::iter::once(0..t.width)))?;
                    for dst in plane[t.range()].chunks_exact_mut(t.width) {
                        dst.copy_from_slice(&row);
                    }
                    let rows = t.ids.iter().map(|&i| t.row(i as usize));
                    read_tensor(r, listed, scatter(&mut plane, rows))?;
                }
                planes.push(weights.take_plane(plane));
            }
            Some(TrainState::from_parts(opt.clone(), planes, *passes, *rows))
        }
        _ => None,
    };
    Ok(((weights, state, init), header_len + head.data_len()))
}

/// The sparse tables a file lists, checked against the net's sparse blocks (their
/// row ids are read later).
fn tables_of(layout: &impl Layout, head: &Header) -> Result<Vec<Table>, ModelError> {
    let blocks = sparse_blocks(layout);
    let mut out: Vec<Table> = Vec::new();
    for m in &head.tables {
        let b = blocks.get(m.index).filter(|b| {
            (b.offset as u64, b.rows as u64, b.width as u64) == (m.offset, m.rows, m.width)
        });
        let Some(b) = b else {
            return Err(ModelErrorKind::Corrupt(format!(
                "its metadata lists table {} at {},{},{}, which is not a sparse table \
                 of this net",
                m.index, m.offset, m.rows, m.width
            ))
            .into());
        };
        if out.last().is_some_and(|t| t.index >= m.index) {
            return Err(ModelErrorKind::Corrupt("its tables are listed twice".into()).into());
        }
        out.push(Table {
            index: m.index,
            offset: b.offset,
            rows: b.rows,
            width: b.width,
            ids: Vec::new(),
            fill: 0,
        });
    }
    Ok(out)
}

/// The inputs part of a topology (before the first layer).
fn inputs(topology: &str) -> String {
    topology
        .split(" => ")
        .next()
        .unwrap_or_default()
        .to_string()
}
