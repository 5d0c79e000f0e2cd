//! Feature hashing: MurmurHash3 (x86, 32-bit), the function Vowpal Wabbit and most
//! hashing-trick learners use.
//!
//! Ids are stable across platforms and releases: the same bytes in the same namespace
//! always map to the same `u32`, so other readers (LIBSVM converters, online services)
//! can reproduce them with [`murmur3_32`] and [`namespace_seed`].

/// The hashing scheme's name and version, recorded in model files: a model trained on
/// ids from another scheme would read the wrong weights, so loading refuses it.
pub const SCHEME: &str = "murmur3_x86_32/namespace-seeded/1";

/// MurmurHash3, x86 32-bit variant, of `bytes` with `seed`.
///
/// A `const fn`, so namespace seeds are computed at compile time.
///
/// ```
/// use vectorflow::hash::murmur3_32;
/// assert_eq!(murmur3_32(b"", 0), 0);
/// assert_eq!(murmur3_32(b"Hello, world!", 1234), 0xfaf6_cdb3);
/// ```
pub const fn murmur3_32(bytes: &[u8], seed: u32) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let len = bytes.len();
    let mut h = seed;
    let mut i = 0;
    while i + 4 <= len {
        let mut k = u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
        i += 4;
    }
    let mut k = 0u32;
    let tail = len - i;
    if tail == 3 {
        k ^= (bytes[i + 2] as u32) << 16;
    }
    if tail >= 2 {
        k ^= (bytes[i + 1] as u32) << 8;
    }
    if tail >= 1 {
        k ^= bytes[i] as u32;
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
    }
    h ^= len as u32;
    fmix32(h)
}

/// The finalisation mix of MurmurHash3: a bijection on `u32` that avalanches all bits.
pub const fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// The seed of a namespace: the hash of its name with seed 0.
///
/// Each hashed field hashes its values with its namespace's seed, so the same value in
/// two namespaces gets two unrelated ids.
///
/// ```
/// use vectorflow::hash::{murmur3_32, namespace_seed};
/// const CARRIER: u32 = namespace_seed("carrier");
/// let id = murmur3_32(b"UA", CARRIER);
/// assert_ne!(id, murmur3_32(b"UA", namespace_seed("origin")));
/// ```
pub const fn namespace_seed(name: &str) -> u32 {
    murmur3_32(name.as_bytes(), 0)
}

/// The id of the single slot of a numeric (`#[value]`) field in `namespace`.
pub const fn slot_id(namespace: &str) -> u32 {
    murmur3_32(b"", namespace_seed(namespace))
}

/// Hashes the decimal text of an integer, without allocating.
///
/// Integers hash like their text so that `hour: u8 = 7` and `hour: &str = "7"` give the
/// same id: a row read as numbers and a row read as strings agree.
pub fn hash_i128(v: i128, seed: u32) -> u32 {
    let mut buf = [0u8; 40];
    let mut pos = buf.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        pos -= 1;
        buf[pos] = b'-';
    }
    murmur3_32(&buf[pos..], seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Published test vectors of MurmurHash3_x86_32 (from the reference implementation's
    /// verification set and widely used cross-implementation tables).
    #[test]
    fn published_vectors() {
        let cases: &[(&[u8], u32, u32)] = &[
            (b"", 0, 0),
            (b"", 1, 0x514e_28b7),
            (b"", 0xffff_ffff, 0x81f1_6f39),
            (b"\xff\xff\xff\xff", 0, 0x7629_3b50),
            (b"\x21\x43\x65\x87", 0, 0xf55b_516b),
            (b"\x21\x43\x65\x87", 0x5082_edee, 0x2362_f9de),
            (b"\x21\x43\x65", 0, 0x7e4a_8634),
            (b"\x21\x43", 0, 0xa0f7_b07a),
            (b"\x21", 0, 0x7266_1cf4),
            (b"\x00\x00\x00\x00", 0, 0x2362_f9de),
            (b"\x00\x00\x00", 0, 0x85f0_b427),
            (b"\x00\x00", 0, 0x30f4_c306),
            (b"\x00", 0, 0x514e_28b7),
            (b"Hello, world!", 1234, 0xfaf6_cdb3),
            (b"Hello, world!", 4321, 0xbf50_5788),
            (b"xxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1234, 0x8905_ac28),
            (b"", 1234, 0x0f2c_c00b),
            (b"aaaa", 0x9747_b28c, 0x5a97_808a),
            (b"abcd", 0x9747_b28c, 0xf047_8627),
            (b"Hello, world!", 0x9747_b28c, 0x2488_4cba),
            (
                b"The quick brown fox jumps over the lazy dog",
                0x9747_b28c,
                0x2fa8_26cd,
            ),
        ];
        for &(bytes, seed, want) in cases {
            assert_eq!(murmur3_32(bytes, seed), want, "{bytes:?} seed {seed:#x}");
        }
    }

    #[test]
    fn integers_hash_like_their_text() {
        let seed = namespace_seed("hour");
        for v in [
            0i128,
            7,
            23,
            -5,
            1_000_000,
            i64::MIN as i128,
            u64::MAX as i128,
        ] {
            assert_eq!(
                hash_i128(v, seed),
                murmur3_32(v.to_string().as_bytes(), seed)
            );
        }
    }

    #[test]
    fn seeds_are_compile_time_constants() {
        const S: u32 = namespace_seed("carrier");
        assert_eq!(S, murmur3_32(b"carrier", 0));
        const SLOT: u32 = slot_id("distance");
        assert_eq!(SLOT, murmur3_32(b"", namespace_seed("distance")));
    }
}
