//! The binary cache of a stream's hashed rows: written once during the first pass,
//! read by the passes after it instead of the stream, several times faster than
//! parsing text.
//!
//! Layout (integers little-endian):
//!
//! - header: `VFCACHE\0`, the format version (u32), the length of the metadata (u32),
//!   the metadata (`key=value` lines: the hashing scheme, the net's inputs, the chunk
//!   size and the stream's source), and its CRC-32;
//! - blocks, one per chunk: `VFBL`, rows (u32), codec (u8: 0 raw, 1 LZ4), stored and raw
//!   lengths (u32 each), the CRC-32 of the stored bytes, then the bytes;
//! - an end marker: `VFEN`, the total rows (u64) and blocks (u32).
//!
//! A row is its label (f32), a flag byte (bit 0: a weight other than 1 follows, f32;
//! bit 1: every pair has the one value that follows the dense values), the number of
//! pair counts and of dense values (varints), the counts (varints), the dense values
//! (f32), then each sparse pair as a varint of the zigzagged id delta: with bit 1 that is
//! all; without it the delta is shifted left once, its low bit set when the value is 1
//! (else the f32 value follows).
//! Blocks compress with LZ4 when that saves at least a fifth.
//!
//! A cache whose metadata differs from what this training expects (another net input,
//! chunk size, hashing scheme, source or format version) is rebuilt, never misread; a
//! damaged one is an error that names the file and the block. Every length is checked
//! before anything is allocated by it.

use super::chunk::{Hashed, StreamRow};
use super::TrainError;
use crate::file::atomic::AtomicFile;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"VFCACHE\0";
const VERSION: u32 = 1;
const BLOCK: &[u8; 4] = b"VFBL";
const END: &[u8; 4] = b"VFEN";
/// No block of ours is larger: a longer length is damage, never an allocation.
const MAX_BLOCK: usize = 1 << 30;

/// What a cache was built for; any difference means it is rebuilt.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Meta {
    pub hashing: String,
    pub inputs: String,
    pub chunk_rows: usize,
    /// What the stream read ([`super::Stream::source`]); empty when unknown, and then
    /// the cache is rebuilt by every `fit`.
    pub source: String,
}

impl Meta {
    fn encode(&self) -> String {
        format!(
            "hashing={}\ninputs={}\nchunk_rows={}\nsource={}\n",
            self.hashing,
            self.inputs,
            self.chunk_rows,
            self.source.replace('\n', " ")
        )
    }
}

/// The inputs of a net as a cache records them: each root's kind, width and group.
pub(crate) fn inputs<I: crate::layers::InputLayer>() -> String {
    let roots: Vec<String> = I::layout()
        .roots
        .iter()
        .map(|r| {
            let kind = if r.sparse { "Sparse" } else { "Dense" };
            format!("{kind}({}) of group {:016x}", r.width, r.group)
        })
        .collect();
    roots.join(" + ")
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
}

impl CacheWriter {
    pub fn create(path: &Path, meta: &Meta) -> Result<CacheWriter, TrainError> {
        let fail = |e: io::Error| err(path, format!("cannot write it: {e}"));
        let mut file = AtomicFile::create(path).map_err(fail)?;
        let text = meta.encode();
        let w = file.writer();
        w.write_all(MAGIC).map_err(fail)?;
        w.write_all(&VERSION.to_le_bytes()).map_err(fail)?;
        w.write_all(&(text.len() as u32).to_le_bytes())
            .map_err(fail)?;
        w.write_all(text.as_bytes()).map_err(fail)?;
        w.write_all(&crc32fast::hash(text.as_bytes()).to_le_bytes())
            .map_err(fail)?;
        Ok(CacheWriter {
            file,
            path: path.to_path_buf(),
            raw: Vec::new(),
            packed: Vec::new(),
            rows: 0,
            blocks: 0,
        })
    }

    /// Appends a chunk as one block.
    pub fn write(&mut self, h: &Hashed) -> Result<(), TrainError> {
        encode(h, &mut self.raw);
        let (codec, stored) = compress(&self.raw, &mut self.packed);
        let w = self.file.writer();
        let head = [
            &BLOCK[..],
            &(h.rows() as u32).to_le_bytes(),
            &[codec],
            &(stored.len() as u32).to_le_bytes(),
            &(self.raw.len() as u32).to_le_bytes(),
            &crc32fast::hash(stored).to_le_bytes(),
        ];
        let fail = |e: io::Error| err(&self.path, format!("cannot write it: {e}"));
        for part in head {
            w.write_all(part).map_err(fail)?;
        }
        w.write_all(stored).map_err(fail)?;
        self.rows += h.rows() as u64;
        self.blocks += 1;
        Ok(())
    }

    /// Writes the end marker and puts the cache under its name.
    pub fn finish(mut self) -> Result<(), TrainError> {
        let fail = |e: io::Error| err(&self.path, format!("cannot write it: {e}"));
        let w = self.file.writer();
        w.write_all(END).map_err(fail)?;
        w.write_all(&self.rows.to_le_bytes()).map_err(fail)?;
        w.write_all(&self.blocks.to_le_bytes()).map_err(fail)?;
        self.file.commit().map_err(fail)
    }
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

/// Reads a cache's blocks back into chunks.
pub(crate) struct CacheReader {
    r: BufReader<File>,
    path: PathBuf,
    block: u32,
    rows: u64,
    stored: Vec<u8>,
    raw: Vec<u8>,
}

impl CacheReader {
    /// Opens the cache at `path` if it exists and was built for `meta`; `None` when it
    /// must be (re)built.
    pub fn open(path: &Path, meta: &Meta) -> Result<Option<CacheReader>, TrainError> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(err(path, format!("cannot read it: {e}"))),
        };
        let mut r = BufReader::with_capacity(1 << 20, file);
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
        if text[..len] != *meta.encode().as_bytes() {
            return Ok(None);
        }
        Ok(Some(CacheReader {
            r,
            path: path.to_path_buf(),
            block: 0,
            rows: 0,
            stored: Vec::new(),
            raw: Vec::new(),
        }))
    }

    /// Reads the next block into `h` (its rows numbered from `first`); false at the end.
    pub fn next(&mut self, h: &mut Hashed, first: usize) -> Result<bool, TrainError> {
        let n = self.block;
        let at = |what: String| err(&self.path, format!("block {n}: {what}"));
        let mut tag = [0u8; 4];
        let got = read_full(&mut self.r, &mut tag).map_err(|e| at(e.to_string()))?;
        if got == 4 && &tag == END {
            let mut end = [0u8; 12];
            if read_full(&mut self.r, &mut end).map_err(|e| at(e.to_string()))? < 12 {
                return Err(at("the end marker is cut short".into()));
            }
            let rows = u64::from_le_bytes(end[..8].try_into().expect("8 bytes"));
            let blocks = u32::from_le_bytes(end[8..].try_into().expect("4 bytes"));
            if (rows, blocks) != (self.rows, self.block) {
                return Err(at(format!(
                    "the end marker counts {rows} rows in {blocks} blocks, but the file has {} in {}",
                    self.rows, self.block
                )));
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
        self.stored.clear();
        (&mut self.r)
            .take(stored_len as u64)
            .read_to_end(&mut self.stored)
            .map_err(|e| at(e.to_string()))?;
        if self.stored.len() < stored_len {
            return Err(at("the file ends inside the block".into()));
        }
        if crc32fast::hash(&self.stored) != crc {
            return Err(at(
                "checksum mismatch (the cache is damaged; remove it to rebuild)".into(),
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
        Ok(true)
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    crate::file::read_full(r, buf)
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Encodes every row of `h` (in stored order) into `out`.
fn encode(h: &Hashed, out: &mut Vec<u8>) {
    out.clear();
    let mut start = [0usize; 3];
    for (row, end) in h.rows.iter().zip(&h.ends) {
        out.extend_from_slice(&row.label.to_le_bytes());
        let weighted = row.weight != 1.0;
        let same = same_value(&h.sparse[start[0]..end[0]]).is_some();
        out.push(weighted as u8 | (same as u8) << 1);
        if weighted {
            out.extend_from_slice(&row.weight.to_le_bytes());
        }
        let counts = &h.counts[start[2]..end[2]];
        let dense = &h.dense[start[1]..end[1]];
        varint(out, counts.len() as u64);
        varint(out, dense.len() as u64);
        for &c in counts {
            varint(out, c as u64);
        }
        for v in dense {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let pairs = &h.sparse[start[0]..end[0]];
        let mut prev = 0i64;
        let mut delta = |id: u32| {
            let d = id as i64 - prev;
            prev = id as i64;
            ((d << 1) ^ (d >> 63)) as u64
        };
        match same_value(pairs) {
            // One value for the whole row (a normalised bag of words): written once.
            Some(v) => {
                out.extend_from_slice(&v.to_le_bytes());
                for &(id, _) in pairs {
                    varint(out, delta(id));
                }
            }
            None => {
                for &(id, v) in pairs {
                    let one = v.to_bits() == 1.0f32.to_bits();
                    varint(out, delta(id) << 1 | one as u64);
                    if !one {
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
        start = *end;
    }
}

/// The value every pair of a row shares, when there are at least two pairs, they all
/// share it bit for bit and it is not 1 (ones are free already).
fn same_value(pairs: &[(u32, f32)]) -> Option<f32> {
    let (&(_, v), rest) = pairs.split_first()?;
    let same = !rest.is_empty()
        && v.to_bits() != 1.0f32.to_bits()
        && rest.iter().all(|p| p.1.to_bits() == v.to_bits());
    same.then_some(v)
}

/// A cursor over a block's bytes that fails, never panics, at the end.
struct Bytes<'a> {
    b: &'a [u8],
    at: usize,
}

impl Bytes<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], &'static str> {
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
    #[inline]
    fn varint(&mut self) -> Result<u64, &'static str> {
        // Most ids deltas fit one or two bytes: those paths avoid the loop.
        match self.b.get(self.at..) {
            Some(&[b0, ..]) if b0 < 0x80 => {
                self.at += 1;
                return Ok(b0 as u64);
            }
            Some(&[b0, b1, ..]) if b1 < 0x80 => {
                self.at += 2;
                return Ok((b0 & 0x7f) as u64 | (b1 as u64) << 7);
            }
            _ => {}
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
    fn count(&mut self) -> Result<usize, &'static str> {
        let n = self.varint()?;
        if n > (self.b.len() - self.at) as u64 {
            return Err("a count exceeds its block");
        }
        Ok(n as usize)
    }
}

/// Decodes `rows` rows from `raw` into `h`, numbering them from `first`.
fn decode(raw: &[u8], rows: usize, first: usize, h: &mut Hashed) -> Result<(), &'static str> {
    h.clear(first);
    let mut b = Bytes { b: raw, at: 0 };
    for _ in 0..rows {
        let label = b.f32()?;
        let flags = b.take(1)?[0];
        if flags > 3 {
            return Err("a row's flags are damaged");
        }
        let weight = if flags & 1 == 1 { b.f32()? } else { 1.0 };
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
        let shared = if flags & 2 == 2 { Some(b.f32()?) } else { None };
        // Filled in place: no capacity check per pair.
        let base = h.sparse.len();
        h.sparse.resize(base + pairs, (0, 0.0));
        let mut prev = 0i64;
        for slot in &mut h.sparse[base..] {
            let x = b.varint()?;
            let zig = if shared.is_some() { x } else { x >> 1 };
            let d = (zig >> 1) as i64 ^ -((zig & 1) as i64);
            let id = prev.checked_add(d).ok_or("an id overflows")?;
            let id = u32::try_from(id).map_err(|_| "an id is out of range")?;
            prev = id as i64;
            let v = match shared {
                Some(v) => v,
                None if x & 1 == 1 => 1.0,
                None => b.f32()?,
            };
            *slot = (id, v);
        }
        h.push_decoded(StreamRow { label, weight });
    }
    if b.at != raw.len() {
        return Err("the block has bytes after its last row");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::InputCache;

    fn row(sparse: &[(u32, f32)], counts: &[usize], dense: &[f32]) -> InputCache {
        InputCache {
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
            (row(&[], &[0], &[3.0]), 1.0, 1.0),
        ];
        for (cache, label, weight) in &rows {
            h.push(
                cache,
                StreamRow {
                    label: *label,
                    weight: *weight,
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
}
