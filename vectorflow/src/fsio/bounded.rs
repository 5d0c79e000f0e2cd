//! Reads that stop at a buffer's end: a file's length fields are checked before anything
//! is allocated by them, so reading fills buffers sized beforehand, never one sized by
//! the input.

use std::io::{self, Read};

/// Reads until `buf` is full or the input ends; the bytes read. Unlike
/// [`Read::read_exact`], a short input is not an error but a count, so the caller can
/// name what was cut short (a header, a block) in its own error.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives one byte per read, and an interruption before each.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = self.data.len().min(buf.len()).min(1);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn fills_across_short_and_interrupted_reads_and_counts_a_short_input() {
        let mut buf = [0u8; 3];
        let mut r = Trickle {
            data: b"abcd",
            interrupt: false,
        };
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 3);
        assert_eq!(&buf, b"abc");
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 1);
        assert_eq!(buf[0], b'd');
        assert_eq!(read_full(&mut r, &mut buf).unwrap(), 0);
    }
}
