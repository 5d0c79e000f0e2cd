//! The binary cache of a stream's hashed rows: written once during the first pass,
//! read by the passes after it instead of the stream, several times faster than
//! parsing text.
//!
//! Layout (integers little-endian):
//!
//! - header: `VFCACHE\0`, the format version (u32), the length of the metadata (u32),
//!   the metadata (`key=value` lines: the hashing scheme, the net's inputs, the row
//!   type and its feature spec, the chunk size and the stream's source), and its CRC-32;
//! - blocks, one per chunk: `VFBL`, rows (u32), codec (u8: 0 raw, 1 LZ4), stored and raw
//!   lengths (u32 each), a CRC-32, then the stored bytes;
//! - an end marker: `VFEN`, the total rows (u64) and blocks (u32), and a CRC-32.
//!
//! The CRCs are chained: a block's covers the previous block's CRC (the header's for
//! the first), its index, its header fields and its bytes; the end marker's covers the
//! last block's CRC and its counts. A block dropped, duplicated or moved, even with the
//! end marker's counts fixed, is an error, never rows trained in another order.
//!
//! A row is its label (f32), a flag byte (bit 0: a weight other than 1 follows, f32;
//! bit 1: the row's values come from a palette; bit 2: its ids are sorted), the number
//! of pair counts and of dense values (varints), the counts (varints), the dense values
//! (f32), then, when it has sparse pairs, a field width in bytes (1 to 5), the palette
//! (its length, a power of two from 1 to 16, and that many f32, the last ones padding
//! when the row has fewer distinct values) and a field per pair, little-endian in that
//! many bytes: the id (its increase over the previous id when sorted) shifted left by the
//! bits of a palette index, above the index of the pair's value. A row with more than 16
//! distinct values has no palette: its f32 values follow the fields. Fixed-width fields
//! decode without a branch per byte, every index names a palette entry (nothing to check
//! per pair), and a row of normalised counts (a few distinct
//! values) stores about 3 bytes a pair. The row ends with its `#[aux]` values
//! ([`AuxValue::put`], as many bytes as the `aux` line of the metadata says; none for
//! rows without `#[aux]` fields).
//! Blocks compress with LZ4 when that saves at least a fifth (after a block that does
//! not, the next 15 are written raw without trying).
//!
//! A cache whose metadata differs from what this training expects (another net input,
//! row spec, chunk size, hashing scheme, source, `#[aux]` layout or format version) is
//! rebuilt, never misread; a damaged one is an error that names the file and the block.
//! Every length is checked before anything is allocated by it.

use super::chunk::{Hashed, StreamRow};
use super::TrainError;
use crate::features::{AuxValue, Features};
use crate::fsio::{read_full, AtomicFile};
use std::fs::File;
use std::io::{self, BufReader, Seek, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"VFCACHE\0";
/// 3: the row type's spec in the metadata, content identity in the source, chained
/// CRCs, and rows that end with their `#[aux]` bytes; 4: palettes of a power of two
/// entries (a version 3 cache is rebuilt).
const VERSION: u32 = 4;
const BLOCK: &[u8; 4] = b"VFBL";
const END: &[u8; 4] = b"VFEN";
/// No block of ours is larger: a longer length is damage, never an allocation.
const MAX_BLOCK: usize = 1 << 30;

/// What a cache was built for; any difference means it is rebuilt.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CacheKey {
    pub hashing: String,
    pub inputs: String,
    /// The row type and its feature spec ([`rows`]).
    pub rows: String,
    pub chunk_rows: usize,
    /// What the stream read ([`super::Stream::source`]); empty when unknown, and then
    /// the cache is rebuilt by every `fit`.
    pub source: String,
    /// The layout and size of the rows' `#[aux]` values ([`aux_key`]).
    pub aux: String,
}

impl CacheKey {
    fn encode(&self) -> String {
        format!(
            "hashing={}\ninputs={}\nrows={}\nchunk_rows={}\nsource={}\naux={}\n",
            self.hashing,
            self.inputs,
            self.rows.replace('\n', " "),
            self.chunk_rows,
            self.source.replace('\n', " "),
            self.aux,
        )
    }
}

/// The `#[aux]` values `A` as a cache records them: their layout and size in bytes.
pub(crate) fn aux_key<A: AuxValue>() -> String {
    format!("{} ({} bytes)", A::layout(), A::BYTES)
}

/// The inputs of a net as a cache records them: each root's kind, width and group.
pub(crate) fn inputs(roots: &[crate::layers::input::RootLayout]) -> String {
    let roots: Vec<String> = roots
        .iter()
        .map(|r| {
            let kind = if r.sparse { "Sparse" } else { "Dense" };
            format!("{kind}({}) of group {:016x}", r.width, r.group)
        })
        .collect();
    roots.join(" + ")
}

/// The row type `R` as a cache records it: its name and [`Features::SPEC`], which
/// changes with any field or cross that decides its hashed rows.
pub(crate) fn rows<R: Features>() -> String {
    format!("{} (spec {:016x})", std::any::type_name::<R>(), R::SPEC)
}

fn err(path: &Path, what: impl std::fmt::Display) -> TrainError {
    TrainError::Read(format!("cache {}: {what}", path.display()))
}

/// Writes a cache during the first pass; it appears under its name only once complete.
pub(crate) struct CacheWriter {
    file: AtomicFile,
    path: PathBuf,
    raw: Vec<u8>,
    packed: Vec<u8>,
    rows: u64,
    blocks: u32,
    /// Blocks still to write without trying to compress them.
    skip: u32,
    /// The CRC of the last block written (the header's before the first).
    chain: u32,
}

impl CacheWriter {
    pub fn create(path: &Path, key: &CacheKey) -> Result<CacheWriter, TrainError> {
        let fail = |e: io::Error| err(path, format!("cannot write it: {e}"));
        let mut file = AtomicFile::create(path).map_err(fail)?;
        let text = key.encode();
        let w = file.writer();
        w.write_all(MAGIC).map_err(fail)?;
        w.write_all(&VERSION.to_le_bytes()).map_err(fail)?;
        w.write_all(&(text.len() as u32).to_le_bytes())
            .map_err(fail)?;
        w.write_all(text.as_bytes()).map_err(fail)?;
        let chain = crc32fast::hash(text.as_bytes());
        w.write_all(&chain.to_le_bytes()).map_err(fail)?;
        Ok(CacheWriter {
            file,
            path: path.to_path_buf(),
            raw: Vec::new(),
            packed: Vec::new(),
            rows: 0,
            blocks: 0,
            skip: 0,
            chain,
        })
    }

    /// Appends a chunk as one block.
    pub fn write<A: AuxValue>(&mut self, h: &Hashed<A>) -> Result<(), TrainError> {
        encode(h, &mut self.raw);
        // The reader refuses larger blocks as damage: refuse to write one instead.
        if self.raw.len() > MAX_BLOCK {
            return Err(err(
                &self.path,
                format!(
                    "a chunk of {} rows encodes to {} bytes, more than a block's limit of \
                     {MAX_BLOCK}: lower Trainer::chunk_rows",
                    h.rows(),
                    self.raw.len()
                ),
            ));
        }
        let tried = self.skip == 0;
        let (codec, stored) = if tried {
            compress(&self.raw, &mut self.packed)
        } else {
            self.skip -= 1;
            (0, &self.raw[..])
        };
        if tried && codec == 0 {
            self.skip = SKIP_AFTER_RAW;
        }
        let w = self.file.writer();
        let mut fields = [0u8; 13];
        fields[..4].copy_from_slice(&(h.rows() as u32).to_le_bytes());
        fields[4] = codec;
        fields[5..9].copy_from_slice(&(stored.len() as u32).to_le_bytes());
        fields[9..].copy_from_slice(&(self.raw.len() as u32).to_le_bytes());
        self.chain = block_crc(self.chain, self.blocks, &fields, stored);
        let fail = |e: io::Error| err(&self.path, format!("cannot write it: {e}"));
        for part in [&BLOCK[..], &fields, &self.chain.to_le_bytes(), stored] {
            w.write_all(part).map_err(fail)?;
        }
        self.rows += h.rows() as u64;
        self.blocks += 1;
        Ok(())
    }

    /// The rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Writes the end marker and puts the cache under its name.
    pub fn finish(mut self) -> Result<(), TrainError> {
        let fail = |e: io::Error| err(&self.path, format!("cannot write it: {e}"));
        let w = self.file.writer();
        let mut counts = [0u8; 12];
        counts[..8].copy_from_slice(&self.rows.to_le_bytes());
        counts[8..].copy_from_slice(&self.blocks.to_le_bytes());
        let crc = end_crc(self.chain, &counts);
        for part in [&END[..], &counts, &crc.to_le_bytes()] {
            w.write_all(part).map_err(fail)?;
        }
        self.file.commit().map_err(fail)
    }
}

/// Block `index`'s CRC, chained to the CRC before it: over the previous CRC, the index,
/// the block header's fields and the stored bytes.
fn block_crc(prev: u32, index: u32, fields: &[u8; 13], stored: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&prev.to_le_bytes());
    h.update(&index.to_le_bytes());
    h.update(fields);
    h.update(stored);
    h.finalize()
}

/// The end marker's CRC: over the last block's CRC and the counts.
fn end_crc(prev: u32, counts: &[u8; 12]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&prev.to_le_bytes());
    h.update(counts);
    h.finalize()
}

/// LZ4 when it saves a fifth, else the raw bytes.
fn compress<'a>(raw: &'a [u8], packed: &'a mut Vec<u8>) -> (u8, &'a [u8]) {
    packed.resize(lz4_flex::block::get_maximum_output_size(raw.len()), 0);
    match lz4_flex::block::compress_into(raw, packed) {
        // Decompressing costs more than it saves unless the block shrinks by a fifth.
        Ok(n) if n < raw.len() - raw.len() / 5 => (1, &packed[..n]),
        _ => (0, raw),
    }
}

/// Blocks written raw without trying LZ4 after a block that did not compress: rows of
/// hashed ids rarely do, and trying costs as much as encoding them.
const SKIP_AFTER_RAW: u32 = 15;

/// Reads a cache's blocks back into chunks.
pub(crate) struct CacheReader {
    r: BufReader<File>,
    /// The file's length.
    len: u64,
    path: PathBuf,
    block: u32,
    rows: u64,
    /// The CRC of the last block read (the header's before the first).
    chain: u32,
    stored: Vec<u8>,
    raw: Vec<u8>,
}

impl CacheReader {
    /// Opens the cache at `path` if it exists and was built for `key`; `None` when it
    /// must be (re)built.
    pub fn open(path: &Path, key: &CacheKey) -> Result<Option<CacheReader>, TrainError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(path, format!("cannot read it: {e}"))),
        };
        let file_len = file
            .metadata()
            .map_err(|e| err(path, format!("cannot read it: {e}")))?
            .len();
        // Small: headers come through the buffer, a block's bytes straight from the file.
        let mut r = BufReader::with_capacity(1 << 12, file);
        let mut head = [0u8; 16];
        if read_full(&mut r, &mut head).map_err(|e| err(path, e))? < 16 || &head[..8] != MAGIC {
            return Err(err(
                path,
                "it is not a vectorflow cache (remove it, or name another file)",
            ));
        }
        let version = u32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(head[12..16].try_into().expect("4 bytes")) as usize;
        if version != VERSION {
            return Ok(None);
        }
        if len > 1 << 20 {
            return Err(err(path, format!("its metadata length {len} is damaged")));
        }
        let mut text = vec![0u8; len + 4];
        if read_full(&mut r, &mut text).map_err(|e| err(path, e))? < len + 4 {
            return Err(err(path, "it ends inside its header"));
        }
        let crc = u32::from_le_bytes(text[len..].try_into().expect("4 bytes"));
        if crc32fast::hash(&text[..len]) != crc {
            return Err(err(path, "its header is damaged (checksum mismatch)"));
        }
        if text[..len] != *key.encode().as_bytes() {
            return Ok(None);
        }
        Ok(Some(CacheReader {
            r,
            len: file_len,
            path: path.to_path_buf(),
            block: 0,
            rows: 0,
            chain: crc,
            stored: Vec::new(),
            raw: Vec::new(),
        }))
    }

    /// Reads the next block into `h` (its rows numbered from `first`); false at the end.
    pub fn next<A: AuxValue>(
        &mut self,
        h: &mut Hashed<A>,
        first: usize,
    ) -> Result<bool, TrainError> {
        let n = self.block;
        let at = |what: String| err(&self.path, format!("block {n}: {what}"));
        let mut tag = [0u8; 4];
        let got = read_full(&mut self.r, &mut tag).map_err(|e| at(e.to_string()))?;
        if got == 4 && &tag == END {
            let mut end = [0u8; 16];
            if read_full(&mut self.r, &mut end).map_err(|e| at(e.to_string()))? < 16 {
                return Err(at("the end marker is cut short".into()));
            }
            let counts: &[u8; 12] = end[..12].try_into().expect("12 bytes");
            let rows = u64::from_le_bytes(end[..8].try_into().expect("8 bytes"));
            let blocks = u32::from_le_bytes(end[8..12].try_into().expect("4 bytes"));
            if (rows, blocks) != (self.rows, self.block) {
                return Err(at(format!(
                    "the end marker counts {rows} rows in {blocks} blocks, but the file has {} in {}",
                    self.rows, self.block
                )));
            }
            let crc = u32::from_le_bytes(end[12..].try_into().expect("4 bytes"));
            if end_crc(self.chain, counts) != crc {
                return Err(at("the end marker does not match the blocks before it (blocks were removed or reordered; remove the cache to rebuild)".into()));
            }
            return Ok(false);
        }
        if got < 4 || &tag != BLOCK {
            return Err(at("expected a block or the end marker (the cache is damaged or cut short; remove it to rebuild)".into()));
        }
        let mut head = [0u8; 17];
        if read_full(&mut self.r, &mut head).map_err(|e| at(e.to_string()))? < 17 {
            return Err(at("the block header is cut short".into()));
        }
        let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
        let (rows, codec) = (u32_at(0) as usize, head[4]);
        let (stored_len, raw_len, crc) = (u32_at(5) as usize, u32_at(9) as usize, u32_at(13));
        // LZ4 expands at most 255-fold: a raw length beyond that is damage.
        if stored_len > MAX_BLOCK || raw_len > MAX_BLOCK || raw_len > 255 * stored_len + 64 {
            return Err(at(format!(
                "its lengths ({stored_len} stored, {raw_len} raw) are damaged"
            )));
        }
        // Read straight from the file, not through a buffer (one copy fewer), and never
        // more than the file holds.
        let left = self
            .len
            .saturating_sub(self.r.stream_position().map_err(|e| at(e.to_string()))?);
        if stored_len as u64 > left {
            return Err(at("the file ends inside the block".into()));
        }
        self.stored.resize(stored_len, 0);
        if read_full(&mut self.r, &mut self.stored).map_err(|e| at(e.to_string()))? < stored_len {
            return Err(at("the file ends inside the block".into()));
        }
        let fields: &[u8; 13] = head[..13].try_into().expect("13 bytes");
        let chained = block_crc(self.chain, n, fields, &self.stored);
        if chained != crc {
            return Err(at(
                "checksum mismatch (the cache is damaged, or its blocks are out of order; remove it to rebuild)".into(),
            ));
        }
        let raw: &[u8] = match codec {
            0 if raw_len == stored_len => &self.stored,
            1 => {
                self.raw.resize(raw_len, 0);
                match lz4_flex::block::decompress_into(&self.stored, &mut self.raw) {
                    Ok(k) if k == raw_len => &self.raw,
                    _ => return Err(at("its LZ4 data does not decompress".into())),
                }
            }
            _ => return Err(at(format!("unknown codec {codec}"))),
        };
        decode(raw, rows, first, h).map_err(|e| at(e.into()))?;
        self.block += 1;
        self.rows += rows as u64;
        self.chain = crc;
        Ok(true)
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encodes every row of `h` (in stored order) into `out`.
fn encode<A: AuxValue>(h: &Hashed<A>, out: &mut Vec<u8>) {
    out.clear();
    let mut start = [0usize; 3];
    let mut palette = Vec::with_capacity(MAX_PALETTE);
    let (mut codes, mut fields) = (Vec::new(), Vec::new());
    for (row, end) in h.rows.iter().zip(&h.ends) {
        let pairs = &h.sparse[start[0]..end[0]];
        let counts = &h.counts[start[2]..end[2]];
        let dense = &h.dense[start[1]..end[1]];
        let weighted = row.weight != 1.0;
        let paletted = palette_of(pairs, &mut palette, &mut codes);
        let sorted = pairs.windows(2).all(|p| p[0].0 <= p[1].0);
        out.extend_from_slice(&row.label.to_le_bytes());
        out.push(weighted as u8 | (paletted as u8) << 1 | (sorted as u8) << 2);
        if weighted {
            out.extend_from_slice(&row.weight.to_le_bytes());
        }
        varint(out, counts.len() as u64);
        varint(out, dense.len() as u64);
        for &c in counts {
            varint(out, c as u64);
        }
        for v in dense {
            out.extend_from_slice(&v.to_le_bytes());
        }
        start = *end;
        if pairs.is_empty() {
            row.aux.put(out);
            continue;
        }
        // A field per pair: the id (its increase over the previous id when the ids are
        // sorted) above the palette index.
        if paletted {
            // Padded to a power of two, so that every index its bits can hold names an
            // entry: the decoder checks no pair's index. The padding is never named.
            palette.resize(palette.len().next_power_of_two(), 0);
        }
        let shift = if paletted {
            index_bits(palette.len())
        } else {
            0
        };
        fields.clear();
        let mut prev = 0;
        for (i, &(id, _)) in pairs.iter().enumerate() {
            let base = if sorted { id - prev } else { id };
            prev = id;
            fields.push((base as u64) << shift | codes.get(i).map_or(0, |&c| c as u64));
        }
        let max = fields.iter().fold(0, |m, &f| m | f);
        let width = (8 - max.leading_zeros() as usize / 8).max(1);
        out.push(width as u8);
        if paletted {
            out.push(palette.len() as u8);
            for &bits in &palette {
                out.extend_from_slice(&bits.to_le_bytes());
            }
        }
        // Eight bytes written per field, each overwriting the zeros above the last one.
        let at = out.len();
        out.resize(at + pairs.len() * width + 8, 0);
        for (i, f) in fields.iter().enumerate() {
            out[at + i * width..at + i * width + 8].copy_from_slice(&f.to_le_bytes());
        }
        out.truncate(at + pairs.len() * width);
        if !paletted {
            for &(_, v) in pairs {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        row.aux.put(out);
    }
}

/// Most rows carry a few distinct values (ones, or a bag's normalised counts): each row
/// lists them once, and each pair names its value by an index of up to 4 bits.
const MAX_PALETTE: usize = 16;

/// The distinct values of `pairs` (as bits, in order of appearance) and each pair's index
/// among them; false when there are none or more than [`MAX_PALETTE`].
fn palette_of(pairs: &[(u32, f32)], palette: &mut Vec<u32>, codes: &mut Vec<u8>) -> bool {
    palette.clear();
    codes.clear();
    let mut last = 0;
    for &(_, v) in pairs {
        let bits = v.to_bits();
        // Runs of one value are common: the last index is tried first.
        if palette.get(last) != Some(&bits) {
            last = match palette.iter().position(|&p| p == bits) {
                Some(i) => i,
                None if palette.len() < MAX_PALETTE => {
                    palette.push(bits);
                    palette.len() - 1
                }
                None => {
                    codes.clear();
                    return false;
                }
            };
        }
        codes.push(last as u8);
    }
    !palette.is_empty()
}

/// The bits of a pair's palette index: none for one value, 4 for 16.
fn index_bits(palette: usize) -> u32 {
    palette.next_power_of_two().trailing_zeros()
}

/// A cursor over a block's bytes that fails, never panics, at the end.
struct Bytes<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let s = self
            .b
            .get(self.at..self.at.checked_add(n).ok_or("a length overflows")?)
            .ok_or("a row runs past the end of its block")?;
        self.at += n;
        Ok(s)
    }
    #[inline]
    fn f32(&mut self) -> Result<f32, &'static str> {
        match self.b.get(self.at..self.at + 4) {
            Some(&[a, b, c, d]) => {
                self.at += 4;
                Ok(f32::from_le_bytes([a, b, c, d]))
            }
            _ => Err("a row runs past the end of its block"),
        }
    }
    /// A varint: only counts are varints, so one or two bytes as a rule.
    #[inline]
    fn varint(&mut self) -> Result<u64, &'static str> {
        // One byte, the common case, without the loop.
        if let Some(&b) = self.b.get(self.at) {
            if b < 0x80 {
                self.at += 1;
                return Ok(b as u64);
            }
        }
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err("a varint is too long")
    }
    /// A count that cannot exceed the bytes left (each item takes at least one byte).
    #[inline]
    fn count(&mut self) -> Result<usize, &'static str> {
        let n = self.varint()?;
        if n > (self.b.len() - self.at) as u64 {
            return Err("a count exceeds its block");
        }
        Ok(n as usize)
    }
}

/// Decodes `rows` rows from `raw` into `h`, numbering them from `first`.
fn decode<A: AuxValue>(
    raw: &[u8],
    rows: usize,
    first: usize,
    h: &mut Hashed<A>,
) -> Result<(), &'static str> {
    h.clear(first);
    let mut b = Bytes { b: raw, at: 0 };
    let mut palette = [0f32; MAX_PALETTE];
    for _ in 0..rows {
        let label = b.f32()?;
        let flags = b.take(1)?[0];
        if flags > 7 {
            return Err("a row's flags are damaged");
        }
        let (weighted, paletted, sorted) = (flags & 1 == 1, flags & 2 == 2, flags & 4 == 4);
        let weight = if weighted { b.f32()? } else { 1.0 };
        let (n_counts, n_dense) = (b.count()?, b.count()?);
        let mut pairs = 0usize;
        for _ in 0..n_counts {
            let c = b.count()?;
            pairs += c;
            h.counts.push(c);
        }
        if pairs > raw.len() - b.at {
            return Err("a row's pair counts exceed its block");
        }
        for _ in 0..n_dense {
            let v = b.f32()?;
            h.dense.push(v);
        }
        if pairs > 0 {
            let width = b.take(1)?[0] as usize;
            if !(1..=5).contains(&width) {
                return Err("a row's field width is damaged");
            }
            let n = if paletted { b.take(1)?[0] as usize } else { 0 };
            // A power of two: every index of its bits names an entry.
            if paletted && !(n.is_power_of_two() && n <= MAX_PALETTE) {
                return Err("a row's palette is damaged");
            }
            for v in &mut palette[..n] {
                *v = b.f32()?;
            }
            let fields = b.take(pairs * width)?;
            let values = if paletted {
                &[][..]
            } else {
                b.take(pairs * 4)?
            };
            let kind = Kind {
                shift: if paletted { index_bits(n) } else { 0 },
                palette: &palette,
                sorted,
            };
            let fill = match width {
                1 => fill::<1>,
                2 => fill::<2>,
                3 => fill::<3>,
                4 => fill::<4>,
                _ => fill::<5>,
            };
            if !fill(fields, values, kind, &mut h.sparse) {
                return Err("an id is out of range");
            }
        }
        let aux = A::get(b.take(A::BYTES)?);
        h.push_decoded(StreamRow { label, weight, aux });
    }
    if b.at != raw.len() {
        return Err("the block has bytes after its last row");
    }
    Ok(())
}

/// How a row's fields read: the bits of their palette index (0 without a palette), the
/// palette, and whether each id is an increase over the previous one.
#[derive(Clone, Copy)]
struct Kind<'a> {
    shift: u32,
    palette: &'a [f32; MAX_PALETTE],
    sorted: bool,
}

/// Appends a row's pairs to `out`, from its fields (`W` bytes each) and its palette or,
/// without one (`values` not empty), its values; false when an id exceeds `u32`.
/// Nothing in the loop can fail: the palette's length is a power of two, so every index
/// names an entry, and ids are checked once after it. One loop per width, so that each
/// field is read with loads of known size.
fn fill<const W: usize>(
    fields: &[u8],
    values: &[u8],
    kind: Kind,
    out: &mut Vec<(u32, f32)>,
) -> bool {
    let codes = (1u64 << kind.shift) - 1;
    let (mut prev, mut seen) = (0u64, 0u64);
    // Bytes shifted into place, which the compiler merges into one or two loads; a copy
    // into an array of eight costs a store and a reload per field.
    let ids = fields.chunks_exact(W).map(|c| {
        c.iter()
            .enumerate()
            .fold(0u64, |x, (k, &b)| x | (b as u64) << (8 * k))
    });
    // Each field's id part is below 2^40: unless one reaches 2^32 (seen in `seen`), the
    // sum of a block's cannot wrap, and sorted ids only grow, so the last is the largest.
    let mut id = |x: u64| -> u32 {
        let part = x >> kind.shift;
        seen |= part;
        prev = if kind.sorted { prev + part } else { part };
        prev as u32
    };
    if values.is_empty() {
        let palette = kind.palette;
        out.extend(ids.map(|x| {
            let v = palette[(x & codes) as usize % MAX_PALETTE];
            (id(x), v)
        }));
    } else {
        let values = values
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        out.extend(ids.zip(values).map(|(x, v)| (id(x), v)));
    }
    seen >> 32 == 0 && prev >> 32 == 0
}

/// Decodes `raw` as a block of `rows` rows: an error, or rows that encode into a block
/// that decodes to the same rows. For the fuzz target (`fuzz/fuzz_targets/cache.rs`);
/// panics when the round trip fails.
#[doc(hidden)]
pub fn fuzz_block(raw: &[u8], rows: usize) {
    let mut h = Hashed::default();
    if decode(raw, rows, 0, &mut h).is_err() {
        return;
    }
    let mut again = Vec::new();
    encode(&h, &mut again);
    let mut back = Hashed::default();
    decode(&again, rows, 0, &mut back).expect("a re-encoded block decodes");
    let bits = |h: &Hashed| -> Vec<(u32, u32)> {
        h.sparse.iter().map(|&(i, v)| (i, v.to_bits())).collect()
    };
    assert_eq!(bits(&back), bits(&h));
    let dense = |h: &Hashed| -> Vec<u32> { h.dense.iter().map(|v| v.to_bits()).collect() };
    assert_eq!(dense(&back), dense(&h));
    assert_eq!((&back.counts, &back.ends), (&h.counts, &h.ends));
    let rows = |h: &Hashed| -> Vec<(u32, u32)> {
        h.rows
            .iter()
            .map(|r| (r.label.to_bits(), r.weight.to_bits()))
            .collect()
    };
    assert_eq!(rows(&back), rows(&h));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::RowInputs;

    fn row(sparse: &[(u32, f32)], counts: &[usize], dense: &[f32]) -> RowInputs {
        RowInputs {
            sparse: sparse.to_vec(),
            dense: dense.to_vec(),
            counts: counts.to_vec(),
        }
    }

    #[test]
    fn blocks_round_trip_every_kind_of_row() {
        let mut h = Hashed::default();
        h.clear(10);
        let s = 0.25f32.sqrt();
        let many: Vec<(u32, f32)> = (0..20).map(|i| (i * 1000, i as f32 / 7.0)).collect();
        let rows = [
            (row(&[(5, 1.0), (3, 1.0), (900, 1.0)], &[3], &[]), 1.0, 1.0),
            (
                row(&[(7, s), (2, s), (u32::MAX, s), (0, s)], &[4], &[]),
                0.0,
                2.5,
            ),
            (
                row(&[(1, 0.3), (1, 0.3), (4, -2.0)], &[1, 2], &[0.5, -1.0]),
                1.0,
                0.0,
            ),
            (row(&[(8, 0.7)], &[1], &[]), 0.0, 1.0),
            // More distinct values than a palette holds: stored one by one.
            (row(&many, &[20], &[]), 1.0, 1.0),
            (
                row(&[(0, 1.0), (0, 1.0), (1 << 31, 2.0)], &[3], &[]),
                0.0,
                1.0,
            ),
            (row(&[], &[0], &[3.0]), 1.0, 1.0),
        ];
        for (cache, label, weight) in &rows {
            h.push(
                cache,
                StreamRow {
                    label: *label,
                    weight: *weight,
                    aux: (),
                },
            );
        }
        let mut raw = Vec::new();
        encode(&h, &mut raw);
        let mut back = Hashed::default();
        decode(&raw, rows.len(), 10, &mut back).unwrap();
        assert_eq!(back.rows, h.rows);
        assert_eq!(back.ends, h.ends);
        assert_eq!(back.sparse, h.sparse);
        assert_eq!(back.dense, h.dense);
        assert_eq!(back.counts, h.counts);
        assert_eq!(back.first, 10);
        // Every cut of the block is an error, never a panic or a short block.
        for cut in 0..raw.len() {
            assert!(
                decode(&raw[..cut], rows.len(), 10, &mut back).is_err(),
                "{cut}"
            );
        }
    }

    /// A palette is padded to a power of two entries, so that no pair's index needs a
    /// check; a block with another length (as version 3 wrote them) is damage. Ids are
    /// checked once a row, and a sum of increases beyond `u32` is still an error.
    #[test]
    fn palettes_have_a_power_of_two_entries_and_ids_stay_checked() {
        let one = |pairs: &[(u32, f32)]| {
            let mut h = Hashed::default();
            h.clear(0);
            let (label, weight) = (1.0, 1.0);
            let cache = row(pairs, &[pairs.len()], &[]);
            h.push(
                &cache,
                StreamRow {
                    label,
                    weight,
                    aux: (),
                },
            );
            let mut raw = Vec::new();
            encode(&h, &mut raw);
            (h, raw)
        };
        let (h, raw) = one(&[(1, 0.5), (2, 0.25), (3, 2.0)]);
        // The label (4 bytes), the flags, the two numbers of counts, the count and the
        // field width come before the palette's length.
        assert_eq!(raw[9], 4, "three values, padded to four");
        let mut back: Hashed = Hashed::default();
        decode(&raw, 1, 0, &mut back).unwrap();
        assert_eq!(back.sparse, h.sparse);
        let mut three = raw.clone();
        three[9] = 3;
        three.drain(22..26);
        assert_eq!(
            decode(&three, 1, 0, &mut back),
            Err("a row's palette is damaged")
        );
        // One value: a palette of one and no index bits; the fields are the increases
        // u32::MAX − 1 and 1, four bytes each from byte 14.
        let (h, mut raw) = one(&[(u32::MAX - 1, 1.0), (u32::MAX, 1.0)]);
        assert_eq!((raw[8], raw[9], raw[18]), (4, 1, 1));
        decode(&raw, 1, 0, &mut back).unwrap();
        assert_eq!(back.sparse, h.sparse);
        raw[18] = 2;
        assert_eq!(decode(&raw, 1, 0, &mut back), Err("an id is out of range"));
    }

    /// Each row's `#[aux]` bytes follow it, with or without pairs, and come back whole;
    /// a block cut inside them is an error.
    #[test]
    fn aux_values_round_trip_beside_their_rows() {
        let mut h: Hashed<[f32; 2]> = Hashed::default();
        h.clear(0);
        let rows = [
            (row(&[(5, 1.0), (3, 1.0)], &[2], &[]), [0.25, 1.0]),
            (row(&[], &[0], &[]), [f32::MAX, -0.0]),
            (row(&[(1, 0.5)], &[1], &[2.0]), [7.0, 0.0]),
        ];
        let mut without: Hashed = Hashed::default();
        without.clear(0);
        for (cache, aux) in &rows {
            let (label, weight) = (1.0, 1.0);
            h.push(
                cache,
                StreamRow {
                    label,
                    weight,
                    aux: *aux,
                },
            );
            without.push(
                cache,
                StreamRow {
                    label,
                    weight,
                    aux: (),
                },
            );
        }
        let (mut raw, mut plain) = (Vec::new(), Vec::new());
        encode(&h, &mut raw);
        encode(&without, &mut plain);
        assert_eq!(raw.len(), plain.len() + rows.len() * 8);
        let mut back: Hashed<[f32; 2]> = Hashed::default();
        decode(&raw, rows.len(), 0, &mut back).unwrap();
        assert_eq!(back.rows, h.rows);
        assert_eq!(
            (&back.sparse, &back.dense, &back.ends),
            (&h.sparse, &h.dense, &h.ends)
        );
        for cut in 0..raw.len() {
            assert!(
                decode(&raw[..cut], rows.len(), 0, &mut back).is_err(),
                "{cut}"
            );
        }
    }

    /// Random rows of every kind round-trip exactly; random damage to their bytes is an
    /// error or rows that round-trip in turn, never a panic.
    #[test]
    fn random_rows_round_trip_and_damage_never_panics() {
        let mut rng = crate::rng::Rng::new(3);
        for case in 0..300 {
            let mut h = Hashed::default();
            h.clear(0);
            let rows = 1 + rng.below(20);
            for _ in 0..rows {
                let n = rng.below(40);
                let kinds = 1 + rng.below(24);
                let top = [2, 300, 1 << 20, u32::MAX as usize][rng.below(4)];
                let mut sparse: Vec<(u32, f32)> = (0..n)
                    .map(|_| {
                        let id = (rng.next_u64() % (top as u64 + 1)) as u32;
                        (id, rng.below(kinds) as f32 * 0.37 - 1.0)
                    })
                    .collect();
                if rng.below(2) == 0 {
                    sparse.sort_by_key(|p| p.0);
                }
                let dense: Vec<f32> = (0..rng.below(3)).map(|_| rng.normal()).collect();
                let cut = rng.below(n + 1);
                let cache = row(&sparse, &[cut, n - cut], &dense);
                let weight = [1.0, 0.5][rng.below(2)];
                h.push(
                    &cache,
                    StreamRow {
                        label: rng.below(2) as f32,
                        weight,
                        aux: (),
                    },
                );
            }
            let mut raw = Vec::new();
            encode(&h, &mut raw);
            let mut back = Hashed::default();
            decode(&raw, rows, 0, &mut back).unwrap();
            assert_eq!(
                (&back.sparse, &back.dense),
                (&h.sparse, &h.dense),
                "case {case}"
            );
            assert_eq!(
                (&back.counts, &back.ends, &back.rows),
                (&h.counts, &h.ends, &h.rows)
            );
            for _ in 0..20 {
                let mut bad = raw.clone();
                let at = rng.below(bad.len());
                bad[at] ^= 1 << rng.below(8);
                // Decoded rows, if any, re-encode to themselves (it panics if not).
                fuzz_block(&bad, rows);
            }
        }
    }
}
