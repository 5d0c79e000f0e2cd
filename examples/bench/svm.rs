//! A fast, allocation-light reader for LIBSVM / SVMlight text files.
//!
//! Each non-blank line has the form `<label> <id>:<value> <id>:<value> ...`
//! with 1-based feature ids. The whole file is read into memory and parsed
//! by hand from bytes into a CSR (compressed sparse row) layout.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// A LIBSVM data set stored in CSR (compressed sparse row) form.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SvmData {
    /// One label per row: `1.0` for a positive label (`> 0`), `0.0` otherwise.
    pub labels: Vec<f32>,
    /// Row start offsets into `ids` / `vals`; has `rows() + 1` entries.
    pub offsets: Vec<usize>,
    /// Feature ids, converted to 0-based.
    pub ids: Vec<u32>,
    /// Feature values, parallel to `ids`.
    pub vals: Vec<f32>,
}

impl SvmData {
    /// Number of rows (examples).
    pub fn rows(&self) -> usize {
        self.labels.len()
    }

    /// The 0-based feature ids and the values of row `i`.
    ///
    /// # Panics
    ///
    /// Panics if `i >= self.rows()`.
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let (start, end) = (self.offsets[i], self.offsets[i + 1]);
        (&self.ids[start..end], &self.vals[start..end])
    }

    /// Total number of stored non-zeros over all rows.
    pub fn nnz(&self) -> usize {
        self.ids.len()
    }

    /// Smallest feature-space size that holds every id: the largest 0-based
    /// id plus one, or 0 for a data set without features.
    pub fn min_dim(&self) -> usize {
        self.ids.iter().max().map_or(0, |&m| m as usize + 1)
    }
}

/// An error raised while reading a LIBSVM file.
#[derive(Debug)]
pub enum SvmError {
    /// The file could not be read.
    Io {
        /// The file that was being read.
        path: String,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line of the file is malformed.
    Parse {
        /// The file that was being read.
        path: String,
        /// 1-based line number of the offending line.
        line: usize,
        /// What was expected and what was found.
        message: String,
    },
}

impl fmt::Display for SvmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SvmError::Io { path, source } => write!(f, "{path}: {source}"),
            SvmError::Parse {
                path,
                line,
                message,
            } => write!(f, "{path}:{line}: {message}"),
        }
    }
}

impl std::error::Error for SvmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SvmError::Io { source, .. } => Some(source),
            SvmError::Parse { .. } => None,
        }
    }
}

/// Files smaller than this are parsed on a single thread.
const PARALLEL_MIN_BYTES: u64 = 16 << 20;

/// Upper bound on reader threads.
const MAX_THREADS: usize = 8;

/// Size of each reader thread's block buffer.
const BLOCK_BYTES: usize = 4 << 20;

/// Reads a LIBSVM text file and parses it into [`SvmData`].
///
/// Labels greater than zero become `1.0`, all others `0.0`. Feature ids must
/// be 1-based integers that fit in `u32`; they are stored 0-based. Values
/// must be finite decimal numbers (`0.5`, `-3`, `1e-05`, ...). Blank lines
/// are skipped; `\r\n` line endings and tabs are accepted.
///
/// Large files are split at line boundaries into one byte range per
/// available core; each range is streamed through a small block buffer and
/// hand-parsed from bytes, and the per-range results are concatenated.
///
/// # Errors
///
/// Returns [`SvmError::Io`] if the file cannot be read and
/// [`SvmError::Parse`] (naming the file, the 1-based line number and what
/// was expected) for the first malformed line, including a feature id of 0.
pub fn read_svm(path: &Path) -> Result<SvmData, SvmError> {
    let len = std::fs::metadata(path)
        .map_err(|source| SvmError::Io {
            path: path.display().to_string(),
            source,
        })?
        .len();
    let threads = if len < PARALLEL_MIN_BYTES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_THREADS))
    };
    read_svm_with(path, threads, BLOCK_BYTES)
}

/// [`read_svm`] with an explicit number of byte ranges (threads) and block
/// size.
fn read_svm_with(path: &Path, threads: usize, block: usize) -> Result<SvmData, SvmError> {
    let name = path.display().to_string();
    let io_error = |source| SvmError::Io {
        path: name.clone(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io_error)?.len();
    let threads = threads.max(1);
    // Range k holds the lines whose first byte lies in [bounds[k], bounds[k+1]);
    // the last range runs to end of file even if the file has grown.
    let mut bounds: Vec<u64> = (0..=threads as u64)
        .map(|k| len * k / threads as u64)
        .collect();
    bounds[threads] = u64::MAX;

    let results: Vec<Result<Chunk, ChunkError>> = if threads == 1 {
        vec![parse_range(path, 0, u64::MAX, block)]
    } else {
        std::thread::scope(|s| {
            let handles: Vec<_> = bounds
                .windows(2)
                .map(|w| {
                    let (start, end) = (w[0], w[1]);
                    s.spawn(move || parse_range(path, start, end, block))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    };

    // Report the first failing range, with line numbers made global.
    let mut chunks = Vec::with_capacity(results.len());
    let mut lines_before = 0;
    for result in results {
        match result {
            Ok(chunk) => {
                lines_before += chunk.lines;
                chunks.push(chunk.data);
            }
            Err(ChunkError::Io(e)) => return Err(io_error(e)),
            Err(ChunkError::Parse(e)) => {
                return Err(SvmError::Parse {
                    path: name,
                    line: lines_before + e.line,
                    message: e.message,
                });
            }
        }
    }
    Ok(concat(chunks))
}

/// Concatenates per-range results in order.
fn concat(chunks: Vec<SvmData>) -> SvmData {
    let mut chunks = chunks.into_iter();
    let mut out = chunks.next().unwrap_or_else(SvmData::empty);
    let rest: Vec<SvmData> = chunks.collect();
    let rows: usize = rest.iter().map(SvmData::rows).sum();
    let nnz: usize = rest.iter().map(SvmData::nnz).sum();
    out.labels.reserve_exact(rows);
    out.offsets.reserve_exact(rows);
    out.ids.reserve_exact(nnz);
    out.vals.reserve_exact(nnz);
    for c in rest {
        let base = out.ids.len();
        out.labels.extend_from_slice(&c.labels);
        out.offsets.extend(c.offsets[1..].iter().map(|&o| o + base));
        out.ids.extend_from_slice(&c.ids);
        out.vals.extend_from_slice(&c.vals);
    }
    out
}

impl SvmData {
    /// An empty data set (with the leading `0` offset).
    fn empty() -> Self {
        SvmData {
            offsets: vec![0],
            ..SvmData::default()
        }
    }

    /// An empty data set with capacity guessed from a byte count.
    fn with_capacity_for_bytes(bytes: u64) -> Self {
        // ~12 bytes per `id:value` token and several hundred per row.
        let bytes = usize::try_from(bytes).unwrap_or(usize::MAX).min(1 << 34);
        let nnz_guess = bytes / 12;
        let rows_guess = bytes / 512 + 1;
        let mut data = SvmData {
            labels: Vec::with_capacity(rows_guess),
            offsets: Vec::with_capacity(rows_guess + 1),
            ids: Vec::with_capacity(nnz_guess),
            vals: Vec::with_capacity(nnz_guess),
        };
        data.offsets.push(0);
        data
    }
}

/// The parsed lines of one byte range.
struct Chunk {
    data: SvmData,
    /// Number of lines (including blank ones) in the range.
    lines: usize,
}

/// Why parsing a byte range failed.
enum ChunkError {
    Io(std::io::Error),
    /// Line numbers are relative to the start of the range.
    Parse(LineError),
}

impl From<std::io::Error> for ChunkError {
    fn from(e: std::io::Error) -> Self {
        ChunkError::Io(e)
    }
}

impl From<LineError> for ChunkError {
    fn from(e: LineError) -> Self {
        ChunkError::Parse(e)
    }
}

/// A parse error without the file name attached.
struct LineError {
    line: usize,
    message: String,
}

/// Reads into `buf[filled..]`, retrying on `Interrupted`; returns the count.
fn read_some(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Parses the lines whose first byte lies in `[start, end)`, streaming the
/// file through a buffer of (initially) `block` bytes.
fn parse_range(path: &Path, start: u64, end: u64, block: usize) -> Result<Chunk, ChunkError> {
    let mut file = File::open(path)?;
    let mut data = if end == u64::MAX {
        SvmData::with_capacity_for_bytes(file.metadata()?.len().saturating_sub(start))
    } else {
        SvmData::with_capacity_for_bytes(end - start)
    };
    let mut buf = vec![0u8; block.max(1)];
    let mut filled = 0;
    let mut lines = 0;
    // Absolute file offset of buf[0].
    let mut offset = start;

    if start > 0 {
        // Skip the tail of the line that started in the previous range: the
        // first line of this range begins after the first `\n` at or after
        // byte `start - 1`.
        file.seek(SeekFrom::Start(start - 1))?;
        offset = start - 1;
        loop {
            let n = read_some(&mut file, &mut buf)?;
            if n == 0 {
                return Ok(Chunk { data, lines });
            }
            if let Some(i) = buf[..n].iter().position(|&b| b == b'\n') {
                buf.copy_within(i + 1..n, 0);
                filled = n - (i + 1);
                offset += (i + 1) as u64;
                break;
            }
            offset += n as u64;
        }
    }

    loop {
        if filled == buf.len() {
            // A single line longer than the buffer: grow it.
            buf.resize(buf.len() * 2, 0);
        }
        let n = read_some(&mut file, &mut buf[filled..])?;
        filled += n;
        let eof = n == 0;
        // Parse only complete lines unless the file has ended.
        let limit = if eof {
            filled
        } else {
            match buf[..filled].iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let text = &buf[..limit];
        let mut pos = 0;
        while pos < limit {
            if offset + pos as u64 >= end {
                return Ok(Chunk { data, lines });
            }
            lines += 1;
            pos = parse_line(text, pos, lines, &mut data)?;
        }
        if eof {
            return Ok(Chunk { data, lines });
        }
        buf.copy_within(limit..filled, 0);
        filled -= limit;
        offset += limit as u64;
    }
}

/// Whether `b` separates tokens within a line.
#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// Returns the index of the first byte at or after `pos` that is not blank.
#[inline]
fn skip_blanks(buf: &[u8], mut pos: usize) -> usize {
    while pos < buf.len() && is_blank(buf[pos]) {
        pos += 1;
    }
    pos
}

/// Returns the end of the whitespace-delimited token starting at `pos`.
fn token_end(buf: &[u8], mut pos: usize) -> usize {
    while pos < buf.len() && !is_blank(buf[pos]) && buf[pos] != b'\n' {
        pos += 1;
    }
    pos
}

/// Builds an error quoting the token starting at `start`.
fn token_error(buf: &[u8], start: usize, line: usize, expected: &str) -> LineError {
    let end = token_end(buf, start);
    let found = if start == end {
        "end of line".to_string()
    } else {
        let token = String::from_utf8_lossy(&buf[start..end.min(start + 64)]);
        format!("`{token}`")
    };
    LineError {
        line,
        message: format!("expected {expected}, found {found}"),
    }
}

/// Parses one line starting at `pos`; returns the position after its `\n`.
fn parse_line(buf: &[u8], pos: usize, line: usize, data: &mut SvmData) -> Result<usize, LineError> {
    let mut pos = skip_blanks(buf, pos);
    if pos >= buf.len() {
        return Ok(pos);
    }
    if buf[pos] == b'\n' {
        return Ok(pos + 1);
    }

    let label_start = pos;
    let label = match parse_f32(buf, pos) {
        Some((v, end)) if v.is_finite() && end_of_token(buf, end) => {
            pos = end;
            v
        }
        _ => return Err(token_error(buf, label_start, line, "a numeric label")),
    };
    let rollback = data.ids.len();

    loop {
        pos = skip_blanks(buf, pos);
        if pos >= buf.len() {
            break;
        }
        if buf[pos] == b'\n' {
            pos += 1;
            break;
        }
        let tok = pos;

        // Feature id: decimal digits, 1-based, fits in u32.
        let mut id: u64 = 0;
        while pos < buf.len() && buf[pos].is_ascii_digit() && id <= u64::from(u32::MAX) {
            id = id * 10 + u64::from(buf[pos] - b'0');
            pos += 1;
        }
        if pos == tok || pos >= buf.len() || buf[pos] != b':' {
            data.ids.truncate(rollback);
            data.vals.truncate(rollback);
            return Err(token_error(buf, tok, line, "`id:value`"));
        }
        if id == 0 {
            data.ids.truncate(rollback);
            data.vals.truncate(rollback);
            return Err(token_error(
                buf,
                tok,
                line,
                "a 1-based feature id (ids start at 1)",
            ));
        }
        if id > u64::from(u32::MAX) {
            data.ids.truncate(rollback);
            data.vals.truncate(rollback);
            return Err(token_error(
                buf,
                tok,
                line,
                "a feature id no larger than 4294967295",
            ));
        }
        pos += 1;

        // Feature value.
        match parse_f32(buf, pos) {
            Some((v, end)) if v.is_finite() && end_of_token(buf, end) => {
                // `id - 1` fits in u32 because 1 <= id <= u32::MAX.
                data.ids.push((id - 1) as u32);
                data.vals.push(v);
                pos = end;
            }
            _ => {
                data.ids.truncate(rollback);
                data.vals.truncate(rollback);
                return Err(token_error(
                    buf,
                    tok,
                    line,
                    "`id:value` with a finite numeric value",
                ));
            }
        }
    }

    data.labels.push(if label > 0.0 { 1.0 } else { 0.0 });
    data.offsets.push(data.ids.len());
    Ok(pos)
}

/// Whether `pos` is the end of a token (blank, newline or end of buffer).
#[inline]
fn end_of_token(buf: &[u8], pos: usize) -> bool {
    pos >= buf.len() || is_blank(buf[pos]) || buf[pos] == b'\n'
}

/// Exact powers of ten representable in `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Powers of ten `10^-k`, each the nearest `f64`.
const NEG_POW10: [f64; 23] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14,
    1e-15, 1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22,
];

/// Parses a decimal floating-point number starting at `start`.
///
/// Returns the correctly rounded `f32` value and the index just past the
/// number, or `None` if no number starts there. Common short forms such as
/// `-0.0898027` or `1e-05` take an exact fast path; anything else (very long
/// mantissas, large exponents, `inf`, `nan`) falls back to `str::parse`.
#[inline]
fn parse_f32(buf: &[u8], start: usize) -> Option<(f32, usize)> {
    let mut pos = start;
    let negative = match buf.get(pos) {
        Some(b'-') => {
            pos += 1;
            true
        }
        Some(b'+') => {
            pos += 1;
            false
        }
        _ => false,
    };

    // Accumulate every digit; more than 19 digits may have wrapped, in
    // which case the slow path takes over.
    let mut mantissa: u64 = 0;
    let int_start = pos;
    pos = scan_digits(buf, pos, &mut mantissa);
    let mut digits = pos - int_start;
    let mut exp10: i64 = 0;
    if buf.get(pos) == Some(&b'.') {
        pos += 1;
        let frac_start = pos;
        pos = scan_digits(buf, pos, &mut mantissa);
        digits += pos - frac_start;
        exp10 = -((pos - frac_start) as i64);
    }
    if digits == 0 {
        return parse_f32_slow(buf, start);
    }
    if matches!(buf.get(pos), Some(b'e' | b'E')) {
        let mut p = pos + 1;
        let exp_negative = match buf.get(p) {
            Some(b'-') => {
                p += 1;
                true
            }
            Some(b'+') => {
                p += 1;
                false
            }
            _ => false,
        };
        let exp_start = p;
        let mut e: i64 = 0;
        while let Some(&b) = buf.get(p) {
            if !b.is_ascii_digit() {
                break;
            }
            if e < 100_000 {
                e = e * 10 + i64::from(b - b'0');
            }
            p += 1;
        }
        if p == exp_start {
            // `1e` or `1e+`: not a number token.
            return None;
        }
        exp10 += if exp_negative { -e } else { e };
        pos = p;
    }

    if digits > 19 {
        return parse_f32_slow(buf, start);
    }
    let value = if mantissa == 0 {
        0.0
    } else if mantissa < (1u64 << 53) && (-22..=22).contains(&exp10) {
        let m = mantissa as f64;
        let idx = exp10.unsigned_abs() as usize;
        // For exp10 >= 0 both factors are exact, so the product is correctly
        // rounded. For exp10 < 0 the product with the rounded reciprocal is
        // within a few f64 ulps of the true value (cheaper than dividing).
        let (wide, slack) = if exp10 < 0 {
            (m * NEG_POW10[idx], 8)
        } else {
            (m * POW10[idx], 0)
        };
        // Rounding to f32 can only go wrong (double rounding, or the error
        // above) if the f64 lies within `slack` ulps of an f32 half-way
        // point; defer to std in that case.
        let low = (wide.to_bits() & 0x1FFF_FFFF) as i64;
        if (low - 0x1000_0000).abs() <= slack {
            return parse_f32_slow(buf, start);
        }
        wide as f32
    } else {
        return parse_f32_slow(buf, start);
    };
    Some((if negative { -value } else { value }, pos))
}

/// Appends the decimal digits at `buf[pos..]` to `acc` (wrapping on
/// overflow) and returns the index of the first non-digit.
#[inline]
fn scan_digits(buf: &[u8], mut pos: usize, acc: &mut u64) -> usize {
    while let Some(&b) = buf.get(pos) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        *acc = acc.wrapping_mul(10).wrapping_add(u64::from(d));
        pos += 1;
    }
    pos
}

/// Fallback number parser using `str::parse` on the token at `start`.
#[cold]
fn parse_f32_slow(buf: &[u8], start: usize) -> Option<(f32, usize)> {
    let mut end = start;
    while end < buf.len() && !end_of_token(buf, end) && buf[end] != b':' {
        end += 1;
    }
    let text = std::str::from_utf8(&buf[start..end]).ok()?;
    text.parse::<f32>().ok().map(|v| (v, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` through a temporary file with several thread counts
    /// and tiny block sizes, checking that all of them agree.
    fn parse(text: &str) -> Result<SvmData, String> {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("svm_test_{}_{n}.svm", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let mut first: Option<Result<SvmData, String>> = None;
        for threads in [1, 2, 3, 7] {
            for block in [1, 5, 64, 1 << 20] {
                let r = read_svm_with(&path, threads, block).map_err(|e| match e {
                    SvmError::Parse { line, message, .. } => format!("{line}: {message}"),
                    SvmError::Io { source, .. } => source.to_string(),
                });
                match &first {
                    None => first = Some(r),
                    Some(f) => assert_eq!(f, &r, "threads={threads} block={block}"),
                }
            }
        }
        std::fs::remove_file(&path).unwrap();
        first.unwrap()
    }

    #[test]
    fn parses_basic_file() {
        let d = parse("-1 1:0.5 3:1e-05\n+1 2:-2\r\n\n1\n").unwrap();
        assert_eq!(d.labels, vec![0.0, 1.0, 1.0]);
        assert_eq!(d.offsets, vec![0, 2, 3, 3]);
        assert_eq!(d.ids, vec![0, 2, 1]);
        assert_eq!(d.vals, vec![0.5, 1e-5, -2.0]);
        assert_eq!(d.row(1), (&[1u32][..], &[-2.0f32][..]));
        assert_eq!(d.min_dim(), 3);
        let long: String = (1..2000).map(|i| format!(" {i}:0.25")).collect();
        let d = parse(&format!("1{long}\n-1 7:1\n1{long}")).unwrap();
        assert_eq!(d.rows(), 3);
        assert_eq!(d.nnz(), 2 * 1999 + 1);
        assert_eq!(d.row(1), (&[6u32][..], &[1.0f32][..]));
        assert!(parse("").unwrap().rows() == 0);
    }

    #[test]
    fn float_parser_matches_std() {
        let cases = [
            "0",
            "1",
            "-1",
            "0.0898027",
            "0.449013",
            "1e-05",
            "1.5E+3",
            "3.40282e+38",
            "1e-45",
            "123456789012345678901234",
            "0.000001234567",
            "7.",
            ".5",
            "16777217",
            "4.5e-44",
            "1.00000005960464477539",
            "0.1",
            "2.5e10",
            "9.999999e-39",
            "1e30",
        ];
        for c in cases {
            let (v, end) = parse_f32(c.as_bytes(), 0).unwrap();
            assert_eq!(end, c.len(), "{c}");
            assert_eq!(v.to_bits(), c.parse::<f32>().unwrap().to_bits(), "{c}");
        }
        // Pseudo-random %.6g-like inputs.
        let mut x: u64 = 12345;
        for _ in 0..2_000_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let m = (x >> 40) % 10_000_000;
            let e = ((x >> 20) % 40) as i32 - 30;
            let s = format!("{m}e{e}");
            let (v, _) = parse_f32(s.as_bytes(), 0).unwrap();
            assert_eq!(v.to_bits(), s.parse::<f32>().unwrap().to_bits(), "{s}");
            let f = f32::from_bits((x >> 32) as u32 & 0x7F7F_FFFF);
            let s = format!("{f}");
            let (v, _) = parse_f32(s.as_bytes(), 0).unwrap();
            assert_eq!(v.to_bits(), f.to_bits(), "{s}");
        }
    }

    #[test]
    fn reports_errors_with_line_numbers() {
        assert_eq!(
            parse("1 1:1\n1 abc\n").unwrap_err(),
            "2: expected `id:value`, found `abc`"
        );
        assert!(parse("1 0:1\n").unwrap_err().contains("1-based"));
        assert!(parse("x 1:1\n")
            .unwrap_err()
            .starts_with("1: expected a numeric label"));
        assert!(parse("1 1:\n").is_err());
        assert!(parse("1 1:nan\n").is_err());
        assert!(parse("1 1:2x\n").is_err());
        assert!(parse("1 99999999999:1\n").is_err());
        assert!(parse("1 1:1e\n").is_err());
        assert_eq!(
            parse("1 1:1\n\n-1 2:2\n-1 3:3\n1 4:4\n1 5:x\n").unwrap_err(),
            "6: expected `id:value` with a finite numeric value, found `5:x`"
        );
        let e = read_svm(Path::new("/nonexistent/x.svm")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/x.svm: "), "{e}");
    }
}
