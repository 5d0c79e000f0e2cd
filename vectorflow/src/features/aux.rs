//! Values a row carries to a streamed loss beside its hashed features: its `#[aux]`
//! fields.
//!
//! Training from a [`Stream`](crate::train::Stream) hashes each row as it is read and
//! keeps only its inputs, label and weight, so a closure loss cannot read the row. A
//! field marked `#[aux]` is kept too: `#[derive(Features)]` gathers a row's `#[aux]`
//! fields into a small `Copy` struct named after the row (`PromoAux` for `Promo`), kept
//! beside each hashed row (and in the binary cache), and the loss reads it as
//! [`StreamRow::aux`](crate::train::StreamRow::aux):
//!
//! ```
//! use vectorflow::prelude::*;
//! use vectorflow::train::StreamRow;
//!
//! #[derive(Features)]
//! struct Promo<'a> {
//!     #[weight]
//!     w: f32,
//!     #[hash]
//!     country: &'a str,
//!     #[aux]
//!     duration: f32,
//!     #[aux]
//!     observed: bool,
//! }
//!
//! // The weighted exponential-survival likelihood of a streamed row.
//! let survival = |out: &[f32; 1], r: &StreamRow<PromoAux>, grad: &mut [f32; 1]| -> f32 {
//!     let (rate, seen) = (out[0].exp(), r.aux.observed as u8 as f32);
//!     grad[0] = r.weight * (rate * r.aux.duration - seen);
//!     r.weight * (rate * r.aux.duration - seen * out[0])
//! };
//! let row = StreamRow { label: 0.0, weight: 2.0, aux: PromoAux { duration: 0.5, observed: true } };
//! let mut grad = [0.0];
//! assert_eq!(survival(&[0.0], &row, &mut grad), 1.0);
//! assert_eq!(grad, [-1.0]);
//! ```

use std::fmt;

/// A value an `#[aux]` field may hold: a number or a bool (or an array of them, or a
/// struct of them, as the derive generates), copied beside each streamed row and stored
/// in the binary cache as `BYTES` little-endian bytes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be an #[aux] field",
    label = "#[aux] takes numbers and bools (and arrays of them): `Copy` values with no borrowed data",
    note = "a streamed row keeps its #[aux] fields beside its hashed features and in the binary cache, so they must be plain values; hash text with #[hash] instead"
)]
pub trait AuxValue: Copy + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// Its size in the binary cache, in bytes.
    const BYTES: usize;
    /// Its layout as the cache key records it (`f32`, `PromoAux { duration: f32 }`): a
    /// cache written for another layout is rebuilt, never misread.
    fn layout() -> String;
    /// Appends its `BYTES` bytes to `out`.
    fn put(&self, out: &mut Vec<u8>);
    /// Reads it back from the start of `bytes` (those `put` wrote); missing bytes read
    /// as zeros.
    fn get(bytes: &[u8]) -> Self;
}

/// A row type that hands its `#[aux]` fields to a streamed loss.
///
/// `#[derive(Features)]` implements it for every row: `Aux` is the struct of its `#[aux]`
/// fields, or `()` when it has none. A row implemented by hand that is trained from a
/// stream implements it too, with `type Aux = ()` and `fn aux(&self) {}` when it carries
/// nothing.
#[diagnostic::on_unimplemented(
    message = "the row type `{Self}` does not say what it carries to a streamed loss",
    label = "training from a stream needs `AuxFields` on its rows",
    note = "#[derive(Features)] implements it; by hand, `impl AuxFields for {Self} {{ type Aux = (); fn aux(&self) {{}} }}`"
)]
pub trait AuxFields {
    /// What the loss receives beside label and weight.
    type Aux: AuxValue;
    /// The row's `#[aux]` values.
    fn aux(&self) -> Self::Aux;
}

/// The first `N` bytes of `bytes`, zeros past its end.
#[inline]
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let n = bytes.len().min(N);
    a[..n].copy_from_slice(&bytes[..n]);
    a
}

/// Reads the `T` at `*at` in `bytes` and moves `at` past it.
#[inline]
fn take<T: AuxValue>(bytes: &[u8], at: &mut usize) -> T {
    let v = T::get(bytes.get(*at..).unwrap_or(&[]));
    *at += T::BYTES;
    v
}

impl AuxValue for () {
    const BYTES: usize = 0;
    fn layout() -> String {
        "()".into()
    }
    #[inline]
    fn put(&self, _: &mut Vec<u8>) {}
    #[inline]
    fn get(_: &[u8]) -> Self {}
}

macro_rules! number_aux {
    ($($t:ty),*) => {$(
        impl AuxValue for $t {
            const BYTES: usize = std::mem::size_of::<$t>();
            fn layout() -> String {
                stringify!($t).into()
            }
            #[inline]
            fn put(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            #[inline]
            fn get(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(array(bytes))
            }
        }
    )*};
}
number_aux!(f32, f64, u8, u16, u32, u64, i8, i16, i32, i64);

impl AuxValue for bool {
    const BYTES: usize = 1;
    fn layout() -> String {
        "bool".into()
    }
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    #[inline]
    fn get(bytes: &[u8]) -> Self {
        bytes.first().is_some_and(|&b| b != 0)
    }
}

impl<T: AuxValue, const N: usize> AuxValue for [T; N] {
    const BYTES: usize = N * T::BYTES;
    fn layout() -> String {
        format!("[{}; {N}]", T::layout())
    }
    #[inline]
    fn put(&self, out: &mut Vec<u8>) {
        self.iter().for_each(|v| v.put(out));
    }
    #[inline]
    fn get(bytes: &[u8]) -> Self {
        let mut at = 0;
        std::array::from_fn(|_| take(bytes, &mut at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: AuxValue>(v: T) {
        let mut out = Vec::new();
        v.put(&mut out);
        assert_eq!(out.len(), T::BYTES);
        assert_eq!(T::get(&out), v);
    }

    #[test]
    fn values_round_trip_in_their_size() {
        round_trip(1.5f32);
        round_trip(-2.25f64);
        round_trip(u64::MAX);
        round_trip(-7i16);
        round_trip(true);
        round_trip(false);
        round_trip([3u8, 4, 5]);
        round_trip([[1.0f32, 2.0], [3.0, 4.0]]);
        round_trip(());
        assert_eq!(<[f32; 3]>::layout(), "[f32; 3]");
    }

    #[test]
    fn short_bytes_read_as_zeros_without_panicking() {
        assert_eq!(u32::get(&[1]), 1);
        assert_eq!(f32::get(&[]), 0.0);
        assert!(!bool::get(&[]));
        let mut at = 8;
        assert_eq!(take::<u16>(&[1, 2], &mut at), 0);
        assert_eq!(at, 10);
    }
}
