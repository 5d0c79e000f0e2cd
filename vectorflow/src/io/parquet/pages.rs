//! The page headers of a column chunk, checked before the decoder reads them.
//!
//! The parquet crate trusts a page header's sizes: it reserves the page's claimed
//! uncompressed size before decompressing it (`decode_page`), and a dictionary page's
//! claimed number of values before decoding it (`DictDecoder::set_dict`), so one corrupt
//! header can ask for gigabytes. Walking the headers first (a Thrift compact-protocol
//! reader that skips what it does not need, allocating nothing) bounds both by what the
//! file can hold:
//!
//! - a page lies within its column chunk (the chunk within the file, checked earlier);
//! - a compressed page decompresses to at most its chunk's total uncompressed size
//!   (from the footer), at most [`MAX_PAGE_BYTES`], and for snappy at most 32 times its
//!   compressed size (snappy cannot expand more);
//! - a dictionary page holds no more values than its bytes can encode.

use parquet::basic::{Compression, Type as Physical};
use parquet::file::metadata::ColumnChunkMetaData;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

/// The most a page may claim to decompress to. Writers cut pages at about 1 MiB (Spark,
/// pyarrow, DuckDB and arrow-rs by default), so a larger claim is corruption.
pub const MAX_PAGE_BYTES: u64 = 256 << 20;

/// Snappy's largest expansion: a 3-byte copy writes at most 64 bytes.
const SNAPPY_RATIO: u64 = 32;

/// Nesting deeper than this in a header is corruption (the real ones nest 3 deep).
const MAX_DEPTH: u32 = 16;

/// Checks every page header of the column chunk `col` of `file`; the error says what was
/// expected, and where.
pub fn check_chunk<F: Read + Seek>(file: F, col: &ColumnChunkMetaData) -> Result<(), String> {
    let (start, len) = col.byte_range();
    let codec = col.compression();
    let total = u64::try_from(col.uncompressed_size()).unwrap_or(0);
    let value_bits = min_value_bits(col);
    let mut reader = BufReader::with_capacity(4096, file);
    let (mut offset, mut remaining) = (start, len);
    let mut page = 0u64;
    while remaining > 0 {
        let at = |what: String| format!("{what} (page {page}, at byte {offset})");
        reader
            .seek(SeekFrom::Start(offset))
            .map_err(|e| at(format!("a readable page header, found {e}")))?;
        let mut input = Counted {
            inner: (&mut reader).take(remaining),
            read: 0,
        };
        let header =
            PageHeader::read(&mut input).map_err(|e| at(format!("a page header, found {e}")))?;
        let header_len = input.read;
        let size = |v: i32| u64::try_from(v).ok();
        let (Some(compressed), Some(uncompressed)) =
            (size(header.compressed), size(header.uncompressed))
        else {
            return Err(at(format!(
                "page sizes of at least 0, found {} bytes compressed and {} uncompressed",
                header.compressed, header.uncompressed
            )));
        };
        if compressed > remaining - header_len {
            return Err(at(format!(
                "a page within its column chunk's {} remaining bytes, found a page of {compressed} bytes",
                remaining - header_len
            )));
        }
        // Index pages are skipped unread; an uncompressed chunk's pages are used as read.
        let decoded = header.kind != INDEX_PAGE && codec != Compression::UNCOMPRESSED;
        if decoded {
            let mut limit = total.min(MAX_PAGE_BYTES);
            if codec == Compression::SNAPPY {
                limit = limit.min(compressed.saturating_mul(SNAPPY_RATIO));
            }
            if uncompressed > limit {
                return Err(at(format!(
                    "a page that decompresses to at most {limit} bytes, found one claiming {uncompressed}"
                )));
            }
        }
        if let Some(values) = header.dictionary_values {
            let bytes = if decoded { uncompressed } else { compressed };
            let fits = u64::try_from(values)
                .is_ok_and(|v| v.saturating_mul(value_bits) <= bytes.saturating_mul(8));
            if !fits {
                return Err(at(format!(
                    "a dictionary page with at most as many values as its {bytes} bytes hold, found one claiming {values}"
                )));
            }
        }
        offset += header_len + compressed;
        remaining -= header_len + compressed;
        page += 1;
    }
    Ok(())
}

/// The fewest bits a PLAIN-encoded value of the column takes (a dictionary is PLAIN).
fn min_value_bits(col: &ColumnChunkMetaData) -> u64 {
    match col.column_type() {
        Physical::BOOLEAN => 1,
        Physical::INT32 | Physical::FLOAT | Physical::BYTE_ARRAY => 32,
        Physical::INT64 | Physical::DOUBLE => 64,
        Physical::INT96 => 96,
        Physical::FIXED_LEN_BYTE_ARRAY => {
            8 * u64::try_from(col.column_descr().type_length()).map_or(1, |l| l.max(1))
        }
    }
}

/// A reader that counts the bytes taken from it.
struct Counted<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

const INDEX_PAGE: i32 = 1;

/// What the checks need of a Thrift `PageHeader`.
struct PageHeader {
    kind: i32,
    uncompressed: i32,
    compressed: i32,
    /// `dictionary_page_header.num_values`, on a dictionary page.
    dictionary_values: Option<i32>,
}

// Thrift compact protocol type codes.
const STOP: u8 = 0;
const TRUE: u8 = 1;
const FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

impl PageHeader {
    fn read(r: &mut impl Read) -> io::Result<PageHeader> {
        let (mut kind, mut uncompressed, mut compressed) = (None, None, None);
        let mut dictionary_values = None;
        let mut id = 0i16;
        while let Some((field, ty)) = field_header(r, &mut id)? {
            match (field, ty) {
                (1, I32) => kind = Some(read_i32(r)?),
                (2, I32) => uncompressed = Some(read_i32(r)?),
                (3, I32) => compressed = Some(read_i32(r)?),
                (7, STRUCT) => {
                    // DictionaryPageHeader: num_values is field 1.
                    let mut inner = 0i16;
                    while let Some((f, t)) = field_header(r, &mut inner)? {
                        if (f, t) == (1, I32) {
                            dictionary_values = Some(read_i32(r)?);
                        } else {
                            skip(r, t, 1)?;
                        }
                    }
                    dictionary_values.get_or_insert(0);
                }
                _ => skip(r, ty, 0)?,
            }
        }
        match (kind, uncompressed, compressed) {
            (Some(kind), Some(uncompressed), Some(compressed)) => Ok(PageHeader {
                kind,
                uncompressed,
                compressed,
                dictionary_values,
            }),
            _ => Err(bad("a header without its type or sizes")),
        }
    }
}

fn byte(r: &mut impl Read) -> io::Result<u8> {
    let mut b = [0u8];
    r.read_exact(&mut b)
        .map_err(|_| bad("the end of the column chunk inside a page header"))?;
    Ok(b[0])
}

fn varint(r: &mut impl Read) -> io::Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = byte(r)?;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(bad("a varint longer than 10 bytes"))
}

fn zigzag(v: u64) -> i64 {
    (v >> 1) as i64 ^ -((v & 1) as i64)
}

fn read_i32(r: &mut impl Read) -> io::Result<i32> {
    i32::try_from(zigzag(varint(r)?)).map_err(|_| bad("an i32 out of range"))
}

/// The next field's id and type, or `None` at the struct's end.
fn field_header(r: &mut impl Read, last: &mut i16) -> io::Result<Option<(i16, u8)>> {
    let b = byte(r)?;
    let ty = b & 0x0f;
    if ty == STOP {
        return Ok(None);
    }
    let delta = (b >> 4) as i16;
    *last = if delta == 0 {
        i16::try_from(zigzag(varint(r)?)).map_err(|_| bad("a field id out of range"))?
    } else {
        last.wrapping_add(delta)
    };
    Ok(Some((*last, ty)))
}

/// Skips a value of type `ty`, reading (never storing) its bytes.
fn skip(r: &mut impl Read, ty: u8, depth: u32) -> io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad("structures nested too deep"));
    }
    match ty {
        TRUE | FALSE => Ok(()),
        BYTE => byte(r).map(drop),
        I16 | I32 | I64 => varint(r).map(drop),
        DOUBLE => (0..8).try_for_each(|_| byte(r).map(drop)),
        BINARY => {
            let len = varint(r)?;
            let copied = io::copy(&mut r.take(len), &mut io::sink())?;
            if copied == len {
                Ok(())
            } else {
                Err(bad("the end of the column chunk inside a page header"))
            }
        }
        LIST | SET => {
            let b = byte(r)?;
            let n = match b >> 4 {
                15 => varint(r)?,
                n => u64::from(n),
            };
            // Each element takes at least a byte, so a bogus count ends at the chunk's end.
            let elem = b & 0x0f;
            (0..n).try_for_each(|_| match elem {
                TRUE | FALSE => byte(r).map(drop),
                t => skip(r, t, depth + 1),
            })
        }
        MAP => {
            let n = varint(r)?;
            if n == 0 {
                return Ok(());
            }
            let kv = byte(r)?;
            (0..n).try_for_each(|_| {
                skip(r, kv >> 4, depth + 1)?;
                skip(r, kv & 0x0f, depth + 1)
            })
        }
        STRUCT => {
            let mut id = 0i16;
            while let Some((_, t)) = field_header(r, &mut id)? {
                skip(r, t, depth + 1)?;
            }
            Ok(())
        }
        t => Err(bad(format!("an unknown Thrift type {t}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(bytes: &[u8]) -> io::Result<PageHeader> {
        PageHeader::read(&mut &bytes[..])
    }

    #[test]
    fn reads_sizes_and_dictionary_count_skipping_the_rest() {
        // type 2 (dictionary), uncompressed 300, compressed 150, crc, a binary in an
        // unknown field 9 (long form id), dictionary header { num_values 40, encoding,
        // is_sorted true }.
        let bytes = [
            0x15, 0x04, // 1: i32 2
            0x15, 0xd8, 0x04, // 2: i32 300
            0x15, 0xac, 0x02, // 3: i32 150
            0x15, 0x02, // 4: crc 1
            0x08, 0x12, 0x03, b'a', b'b', b'c', // 9 (long form), binary "abc"
            0x0c, 0x0e, // 7 (long form): struct
            0x15, 0x50, // 1: i32 40
            0x15, 0x00, // 2: encoding 0
            0x11, // 3: true
            0x00, // end of dictionary header
            0x00, // end of page header
        ];
        let h = header(&bytes).unwrap();
        assert_eq!((h.kind, h.uncompressed, h.compressed), (2, 300, 150));
        assert_eq!(h.dictionary_values, Some(40));
    }

    #[test]
    fn truncated_or_deep_or_incomplete_headers_are_errors() {
        assert!(header(&[0x15, 0x04, 0x15]).is_err());
        assert!(header(&[0x15, 0x04, 0x00]).is_err(), "no sizes");
        let mut deep = vec![0x1c; 40];
        deep.push(0);
        assert!(header(&deep).is_err(), "too deep");
        // A list claiming 2^32 elements ends at the end of the bytes, not in a loop.
        assert!(header(&[0x19, 0xf5, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x02]).is_err());
        assert!(header(&[0x1d]).is_err(), "unknown type 13");
    }
}
