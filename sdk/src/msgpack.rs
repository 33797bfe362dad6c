//! MessagePack framing for Go's `net/rpc` over ugorji's codec.
//!
//! net/rpc writes header, body, header, body ... back to back with no length prefix, and yamux
//! frames have nothing to do with message boundaries, so values are cut out of a byte stream by
//! [`scan`]ning: it walks markers and lengths without allocating, says whether a whole value is
//! buffered and refuses values that nest too deep or claim more bytes than [`MAX_MESSAGE`].
//! Only then does rmpv decode the exact bytes, so its allocations are bounded by real input.

use bytes::{Buf, BytesMut};
use rmp::Marker;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Largest single value accepted from Packer (cty JSON configs are the big ones).
pub const MAX_MESSAGE: usize = 64 << 20;
/// Deepest nesting of arrays/maps accepted.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("msgpack value larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("msgpack value nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("invalid msgpack marker 0xc1")]
    Reserved,
    #[error("malformed msgpack: {0}")]
    Malformed(String),
    #[error("stream ended inside a msgpack value")]
    Truncated,
    #[error("read error: {0}")]
    Io(String),
}

/// If `buf` starts with a complete msgpack value, its length in bytes.
pub fn scan(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    scan_with_limit(buf, MAX_MESSAGE)
}

/// [`scan`] with an explicit size limit.
pub fn scan_with_limit(buf: &[u8], limit: usize) -> Result<Option<usize>, FrameError> {
    // stack of "values still to read" per open container
    let mut stack: Vec<u64> = vec![1];
    let mut pos: usize = 0;
    loop {
        while let Some(top) = stack.last() {
            if *top == 0 {
                stack.pop();
            } else {
                break;
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(Some(pos));
        };
        *top -= 1;
        if pos > limit {
            return Err(FrameError::TooLarge);
        }
        let Some(&b) = buf.get(pos) else {
            return Ok(None);
        };
        pos += 1;
        // (length bytes to read, multiplier: payload bytes or child count)
        enum Next {
            Skip(usize),
            Len { width: usize, extra: usize },
            Children { width: usize, per: u64 },
            Fixed(u64),
        }
        let next = match Marker::from_u8(b) {
            Marker::FixPos(_) | Marker::FixNeg(_) | Marker::Null | Marker::True | Marker::False => {
                Next::Skip(0)
            }
            Marker::Reserved => return Err(FrameError::Reserved),
            Marker::U8 | Marker::I8 => Next::Skip(1),
            Marker::U16 | Marker::I16 => Next::Skip(2),
            Marker::U32 | Marker::I32 | Marker::F32 => Next::Skip(4),
            Marker::U64 | Marker::I64 | Marker::F64 => Next::Skip(8),
            Marker::FixStr(n) => Next::Skip(usize::from(n)),
            Marker::Str8 | Marker::Bin8 => Next::Len { width: 1, extra: 0 },
            Marker::Str16 | Marker::Bin16 => Next::Len { width: 2, extra: 0 },
            Marker::Str32 | Marker::Bin32 => Next::Len { width: 4, extra: 0 },
            Marker::FixExt1 => Next::Skip(2),
            Marker::FixExt2 => Next::Skip(3),
            Marker::FixExt4 => Next::Skip(5),
            Marker::FixExt8 => Next::Skip(9),
            Marker::FixExt16 => Next::Skip(17),
            Marker::Ext8 => Next::Len { width: 1, extra: 1 },
            Marker::Ext16 => Next::Len { width: 2, extra: 1 },
            Marker::Ext32 => Next::Len { width: 4, extra: 1 },
            Marker::FixArray(n) => Next::Fixed(u64::from(n)),
            Marker::FixMap(n) => Next::Fixed(2 * u64::from(n)),
            Marker::Array16 => Next::Children { width: 2, per: 1 },
            Marker::Array32 => Next::Children { width: 4, per: 1 },
            Marker::Map16 => Next::Children { width: 2, per: 2 },
            Marker::Map32 => Next::Children { width: 4, per: 2 },
        };
        let read_len = |pos: usize, width: usize| -> Option<u64> {
            let b = buf.get(pos..pos + width)?;
            Some(b.iter().fold(0u64, |acc, x| (acc << 8) | u64::from(*x)))
        };
        let children = match next {
            Next::Skip(n) => {
                pos += n;
                0
            }
            Next::Len { width, extra } => {
                let Some(n) = read_len(pos, width) else {
                    return Ok(None);
                };
                if n > limit as u64 {
                    return Err(FrameError::TooLarge);
                }
                pos += width + extra + n as usize;
                0
            }
            Next::Children { width, per } => {
                let Some(n) = read_len(pos, width) else {
                    return Ok(None);
                };
                pos += width;
                n * per
            }
            Next::Fixed(n) => n,
        };
        if children > 0 {
            // every child needs at least one byte
            if children > limit as u64 {
                return Err(FrameError::TooLarge);
            }
            if stack.len() >= MAX_DEPTH {
                return Err(FrameError::TooDeep);
            }
            stack.push(children);
        }
        if pos > buf.len() {
            if pos > limit {
                return Err(FrameError::TooLarge);
            }
            return Ok(None);
        }
    }
}

/// Reads consecutive msgpack values from an async byte stream.
pub struct ValueReader<R> {
    inner: R,
    buf: BytesMut,
    eof: bool,
}

impl<R: AsyncRead + Unpin> ValueReader<R> {
    pub fn new(inner: R) -> Self {
        ValueReader {
            inner,
            buf: BytesMut::with_capacity(8192),
            eof: false,
        }
    }

    /// The next value; `Ok(None)` on a clean end of stream between values.
    pub async fn next(&mut self) -> Result<Option<rmpv::Value>, FrameError> {
        loop {
            if !self.buf.is_empty()
                && let Some(n) = scan(&self.buf)?
            {
                let bytes = self.buf.split_to(n);
                let mut cur = &bytes[..];
                let v = rmpv::decode::read_value(&mut cur)
                    .map_err(|e| FrameError::Malformed(e.to_string()))?;
                return Ok(Some(v));
            }
            if self.eof {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated)
                };
            }
            self.buf.reserve(8192);
            let n = self
                .inner
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| FrameError::Io(e.to_string()))?;
            if n == 0 {
                self.eof = true;
            }
        }
    }

    /// Discards buffered bytes (after a fatal framing error).
    pub fn clear(&mut self) {
        self.buf.advance(self.buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &rmpv::Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, v).unwrap();
        out
    }

    #[test]
    fn complete_and_partial() {
        let v = rmpv::Value::Map(vec![
            ("ServiceMethod".into(), "Provisioner.Prepare".into()),
            ("Seq".into(), 300.into()),
            ("Data".into(), rmpv::Value::Binary(vec![7; 70000])),
        ]);
        let b = enc(&v);
        assert_eq!(scan(&b).unwrap(), Some(b.len()));
        for cut in [0, 1, 5, 20, b.len() - 1] {
            assert_eq!(scan(&b[..cut]).unwrap(), None, "cut at {cut}");
        }
        let mut two = b.clone();
        two.extend_from_slice(&b);
        assert_eq!(scan(&two).unwrap(), Some(b.len()));
    }

    #[test]
    fn hostile_lengths() {
        // str32 claiming 4 GiB
        assert_eq!(
            scan(&[0xdb, 0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::TooLarge)
        );
        // array32 with 4 billion elements
        assert_eq!(
            scan(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(FrameError::TooLarge)
        );
        // deep nesting
        let deep = vec![0x91u8; 1000];
        assert_eq!(scan(&deep), Err(FrameError::TooDeep));
        assert_eq!(scan(&[0xc1]), Err(FrameError::Reserved));
    }

    #[tokio::test]
    async fn reads_values_split_across_tiny_chunks() {
        let a = enc(&rmpv::Value::from("hello"));
        let b = enc(&rmpv::Value::Nil);
        let mut all = a.clone();
        all.extend_from_slice(&b);
        let (mut w, r) = tokio::io::duplex(1);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for byte in all {
                w.write_all(&[byte]).await.unwrap();
            }
        });
        let mut rd = ValueReader::new(r);
        assert_eq!(rd.next().await.unwrap(), Some(rmpv::Value::from("hello")));
        assert_eq!(rd.next().await.unwrap(), Some(rmpv::Value::Nil));
        assert_eq!(rd.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn truncated_stream_is_an_error() {
        let a = enc(&rmpv::Value::from("hello"));
        let (mut w, r) = tokio::io::duplex(64);
        use tokio::io::AsyncWriteExt;
        w.write_all(&a[..3]).await.unwrap();
        drop(w);
        let mut rd = ValueReader::new(r);
        assert_eq!(rd.next().await, Err(FrameError::Truncated));
    }
}
