//! A fast decimal parser for `f32`, exact (correctly rounded, as `str::parse`).

/// Whether `b` separates tokens within a line.
#[inline]
pub(crate) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

/// Whether `pos` ends a token: a blank or the end of the line.
#[inline]
fn end_of_token(buf: &[u8], pos: usize) -> bool {
    pos >= buf.len() || is_blank(buf[pos])
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
pub(crate) fn parse_f32(buf: &[u8], start: usize) -> Option<(f32, usize)> {
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
///
/// Eight bytes at a time where the buffer has them: most numbers in sparse
/// text (ids, `0.0944911`) are a single step, not a loop over their digits.
#[inline]
pub(crate) fn scan_digits(buf: &[u8], mut pos: usize, acc: &mut u64) -> usize {
    while let Some(bytes) = buf.get(pos..pos + 8) {
        let word = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        let n = leading_digits(word);
        if n == 0 {
            return pos;
        }
        // Wrapping arithmetic is exact modulo 2^64, as the digit-by-digit loop.
        *acc = acc
            .wrapping_mul(POW10_U64[n])
            .wrapping_add(digits_value(word, n));
        pos += n;
        if n < 8 {
            return pos;
        }
    }
    scan_digits_bytewise(buf, pos, acc)
}

/// [`scan_digits`] one byte at a time: the tail of a buffer shorter than eight bytes,
/// and the reference the eight-byte steps are tested against.
#[inline]
fn scan_digits_bytewise(buf: &[u8], mut pos: usize, acc: &mut u64) -> usize {
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

/// `10^n` for `n` in `0..=8`.
const POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

const ZEROS: u64 = 0x3030_3030_3030_3030;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// How many of the eight bytes of `word` (the first in its lowest byte) are
/// ASCII digits before the first that is not.
#[inline(always)]
fn leading_digits(word: u64) -> usize {
    // A byte below `0` wraps to 0x80 or above; one above `9` reaches 0x80 when
    // 0x76 is added. Borrows and carries only run from a non-digit upwards, so
    // the lowest flagged byte is the first non-digit.
    let d = word.wrapping_sub(ZEROS);
    let flags = (d | d.wrapping_add(0x7676_7676_7676_7676)) & HIGH_BITS;
    (flags.trailing_zeros() / 8) as usize
}

/// The value of the first `n` (1 to 8) bytes of `word`, all ASCII digits.
#[inline(always)]
fn digits_value(word: u64, n: usize) -> u64 {
    // The digits moved to the top, with zero digits below them: eight digits
    // with leading zeros, combined in pairs, then fours, then the whole.
    let d = word.wrapping_sub(ZEROS) << (8 * (8 - n));
    let pairs = d.wrapping_mul(10).wrapping_add(d >> 8);
    let fours = (pairs & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let rest = ((pairs >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    fours.wrapping_add(rest) >> 32
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

    #[test]
    fn digit_steps_match_the_bytewise_loop() {
        // Every position of strings mixing digits with the bytes either side of
        // `0`..`9` and bytes that would carry or borrow, of lengths around 8 and 16.
        let alphabet = b"0123456789/:. \x00\xff\x7f\x80e";
        let mut rng = crate::rng::Rng::new(7);
        for _ in 0..100_000 {
            let x = rng.next_u64();
            let len = (x >> 59) as usize + 1;
            let mut y = x;
            let buf: Vec<u8> = (0..len)
                .map(|i| {
                    y = y.rotate_left(7) ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    // Mostly digits, as in real numbers.
                    if !y.is_multiple_of(4) {
                        b'0' + (y >> 8) as u8 % 10
                    } else {
                        alphabet[(y >> 16) as usize % alphabet.len()]
                    }
                })
                .collect();
            for pos in 0..=len {
                let (mut a, mut b) = (x >> 32, x >> 32);
                let end_a = scan_digits(&buf, pos, &mut a);
                let end_b = scan_digits_bytewise(&buf, pos, &mut b);
                assert_eq!((end_a, a), (end_b, b), "{buf:?} at {pos}");
            }
        }
        let mut acc = 0;
        assert_eq!(scan_digits(b"123456789012345678901234 ", 0, &mut acc), 24);
        let mut expect = 0;
        scan_digits_bytewise(b"123456789012345678901234", 0, &mut expect);
        assert_eq!(acc, expect);
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
        let mut rng = crate::rng::Rng::new(12345);
        for _ in 0..200_000 {
            let x = rng.next_u64();
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
}
