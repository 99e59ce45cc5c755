//! A compact binary encoding of the index's own structures (little-endian numbers,
//! length-prefixed lists and strings), for the persistent index ([`super::persist`]).
//!
//! Decoding never panics: a short or malformed buffer is an error that says where it broke.

/// Writes values one after the other.
#[derive(Default)]
pub(super) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// The bytes written.
    pub(super) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub(super) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub(super) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(super) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub(super) fn f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// A length; lists longer than `u32::MAX` do not occur in an index.
    pub(super) fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    pub(super) fn str(&mut self, s: &str) {
        self.len(s.len());
        self.buf.extend_from_slice(s.as_bytes());
    }

    pub(super) fn u32s(&mut self, v: &[u32]) {
        self.len(v.len());
        self.buf.reserve(v.len() * 4);
        for &x in v {
            self.u32(x);
        }
    }

    pub(super) fn f32s(&mut self, v: &[f32]) {
        self.len(v.len());
        self.buf.reserve(v.len() * 4);
        for &x in v {
            self.f32(x);
        }
    }
}

/// Why a buffer could not be decoded.
#[derive(Debug)]
pub(super) struct DecodeError {
    pub(super) at: usize,
    pub(super) what: &'static str,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// Reads values in the order they were written.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// An error at the current position.
    pub(super) fn error(&self, what: &'static str) -> DecodeError {
        DecodeError { at: self.pos, what }
    }

    /// True when every byte was read.
    pub(super) fn is_done(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.error("unexpected end of data"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub(super) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub(super) fn f32(&mut self) -> Result<f32, DecodeError> {
        Ok(f32::from_le_bytes(self.array()?))
    }

    /// A length of items of `item` bytes each, checked against the bytes left.
    pub(super) fn len(&mut self, item: usize) -> Result<usize, DecodeError> {
        let n = self.u64()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(item.max(1) as u64) > left {
            return Err(self.error("length beyond the end of data"));
        }
        Ok(n as usize)
    }

    pub(super) fn str(&mut self) -> Result<String, DecodeError> {
        let n = self.len(1)?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| self.error("invalid UTF-8"))
    }

    pub(super) fn u32s(&mut self) -> Result<Vec<u32>, DecodeError> {
        let n = self.len(4)?;
        let bytes = self.take(n * 4)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    pub(super) fn f32s(&mut self) -> Result<Vec<f32>, DecodeError> {
        let n = self.len(4)?;
        let bytes = self.take(n * 4)?;
        Ok(bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_short_data_is_an_error() {
        let mut w = Writer::default();
        w.u8(7);
        w.u32(42);
        w.f32(0.5);
        w.str("δέμα");
        w.u32s(&[1, 2, 3]);
        w.f32s(&[1.5]);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.u32().unwrap(), 42);
        assert_eq!(r.f32().unwrap(), 0.5);
        assert_eq!(r.str().unwrap(), "δέμα");
        assert_eq!(r.u32s().unwrap(), [1, 2, 3]);
        assert_eq!(r.f32s().unwrap(), [1.5]);
        assert!(r.is_done());
        let mut short = Reader::new(&bytes[..bytes.len() - 2]);
        short.u8().unwrap();
        short.u32().unwrap();
        short.f32().unwrap();
        short.str().unwrap();
        short.u32s().unwrap();
        assert!(short.f32s().is_err());
        let mut huge = Reader::new(&[0xff; 16]);
        assert!(huge.u32s().is_err());
    }
}
