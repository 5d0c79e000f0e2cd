//! Tensor bytes: written from, and read into, ranges of a parameter buffer, with their
//! CRC-32s.

use super::error::{ModelError, ModelErrorKind};
use super::header::{Dtype, Tensor};
use super::sparse::Table;
use crate::fsio::read_full;
use crate::weights::Flat;
use std::io::Read;
use std::ops::Range;

/// Tensor data moves through buffers of this many bytes (a multiple of 4).
pub(super) const BUF: usize = 1 << 16;

/// Where a tensor's floats come from in a buffer.
pub(super) enum Ranges<'a> {
    /// The ranges, in order.
    Gaps(&'a [Range<usize>]),
    /// A table's listed rows.
    Rows(&'a Table),
    /// A table's fill row.
    Fill(&'a Table),
}

/// One tensor's data, for writing.
pub(super) enum Data<'a> {
    /// Floats of the weights or a state plane, in the flat order.
    Floats(&'a dyn Flat, Ranges<'a>),
    /// A table's row ids.
    Ids(&'a [u32]),
}

impl Data<'_> {
    pub(super) fn dtype(&self) -> Dtype {
        match self {
            Data::Floats(..) => Dtype::F32,
            Data::Ids(_) => Dtype::U32,
        }
    }

    pub(super) fn shape(&self) -> Vec<u64> {
        match self {
            Data::Floats(_, Ranges::Gaps(g)) => vec![g.iter().map(|r| r.len() as u64).sum()],
            Data::Floats(_, Ranges::Rows(t)) => vec![t.ids.len() as u64, t.width as u64],
            Data::Floats(_, Ranges::Fill(t)) => vec![t.width as u64],
            Data::Ids(ids) => vec![ids.len() as u64],
        }
    }

    /// Hands the data's little-endian bytes to `out`, in pieces of at most [`BUF`].
    pub(super) fn emit(
        &self,
        mut out: impl FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut buf = vec![0u8; BUF];
        let mut used = 0;
        let mut put = |bytes: [u8; 4], buf: &mut Vec<u8>| {
            buf[used..used + 4].copy_from_slice(&bytes);
            used += 4;
            if used == BUF {
                used = 0;
                return out(buf);
            }
            Ok(())
        };
        match self {
            Data::Floats(data, ranges) => {
                let mut floats =
                    |p: &[f32]| p.iter().try_for_each(|x| put(x.to_le_bytes(), &mut buf));
                match ranges {
                    Ranges::Gaps(gaps) => {
                        for g in gaps.iter() {
                            data.each(g.clone(), &mut floats)?;
                        }
                    }
                    Ranges::Rows(t) => {
                        for &i in &t.ids {
                            data.each(t.row(i as usize), &mut floats)?;
                        }
                    }
                    Ranges::Fill(t) => data.each(t.row(t.fill), &mut floats)?,
                }
            }
            Data::Ids(ids) => {
                for i in *ids {
                    put(i.to_le_bytes(), &mut buf)?;
                }
            }
        }
        out(&buf[..used])
    }
}

/// The CRC-32 of the little-endian bytes of the `n` floats of `data`.
pub(super) fn crc_of(data: &dyn Flat, n: usize) -> u32 {
    let mut h = crc32fast::Hasher::new();
    let whole = 0..n;
    let _ = Data::Floats(data, Ranges::Gaps(std::slice::from_ref(&whole))).emit(|b| {
        h.update(b);
        Ok(())
    });
    h.finalize()
}

/// A sink that writes little-endian floats, in order, into the `ranges` of `out`.
pub(super) fn scatter<'a>(
    out: &'a mut [f32],
    ranges: impl Iterator<Item = Range<usize>> + 'a,
) -> impl FnMut(&[u8]) + 'a {
    let mut ranges = ranges;
    let mut cur = 0..0;
    move |mut bytes: &[u8]| {
        while bytes.len() >= 4 {
            if cur.is_empty() {
                // The tensor's shape was checked to equal the ranges' total.
                let Some(next) = ranges.next() else { return };
                cur = next;
            }
            let k = cur.len().min(bytes.len() / 4);
            for (dst, b) in out[cur.start..cur.start + k]
                .iter_mut()
                .zip(bytes.chunks_exact(4))
            {
                *dst = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            cur.start += k;
            bytes = &bytes[4 * k..];
        }
    }
}

/// Reads a table's row ids (shape already checked), which must be strictly increasing
/// and below its `rows`.
pub(super) fn read_ids(r: &mut impl Read, t: &Tensor, rows: usize) -> Result<Vec<u32>, ModelError> {
    let mut ids = Vec::with_capacity(t.len() as usize);
    read_tensor(r, t, |b: &[u8]| {
        ids.extend(
            b.chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        )
    })?;
    for (k, &id) in ids.iter().enumerate() {
        if id as usize >= rows {
            return Err(ModelErrorKind::Corrupt(format!(
                "tensor {} lists row {id} at position {k}, but the table has {rows} rows",
                t.name
            ))
            .into());
        }
        if k > 0 && ids[k - 1] >= id {
            return Err(ModelErrorKind::Corrupt(format!(
                "tensor {} lists row {id} at position {k} after row {}: ids must be \
                 strictly increasing",
                t.name,
                ids[k - 1]
            ))
            .into());
        }
    }
    Ok(ids)
}

/// Reads tensor `t` (its shape already checked against the net), handing its bytes to
/// `sink` in pieces of whole elements and verifying its CRC.
pub(super) fn read_tensor(
    r: &mut impl Read,
    t: &Tensor,
    mut sink: impl FnMut(&[u8]),
) -> Result<(), ModelError> {
    let total = 4 * t.len();
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; BUF.min(total as usize)];
    let mut done = 0u64;
    while done < total {
        let want = (total - done).min(BUF as u64) as usize;
        let got = read_full(r, &mut buf[..want])?;
        done += got as u64;
        if got < want {
            return Err(ModelErrorKind::Truncated {
                section: format!("tensor {}", t.name),
                expected: total,
                found: done,
            }
            .into());
        }
        h.update(&buf[..got]);
        sink(&buf[..got]);
    }
    let crc = h.finalize();
    if crc != t.crc {
        return Err(ModelErrorKind::Corrupt(format!(
            "tensor {} has checksum {crc:08x}, but the header says {:08x}",
            t.name, t.crc
        ))
        .into());
    }
    Ok(())
}
