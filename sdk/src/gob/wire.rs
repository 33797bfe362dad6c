//! gob's primitive encodings: unsigned ints (one byte below 0x80, else a negated byte count and
//! big-endian bytes), zig-zag signed ints, length-prefixed strings and byte slices.

/// Appends a gob unsigned integer.
pub fn put_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
        return;
    }
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let n = bytes.len() - skip;
    out.push((256 - n) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Appends a gob signed integer (zig-zag: bit 0 is the sign, complement when negative).
pub fn put_int(out: &mut Vec<u8>, v: i64) {
    let u = if v < 0 {
        (!(v as u64) << 1) | 1
    } else {
        (v as u64) << 1
    };
    put_uint(out, u);
}

/// Appends a length-prefixed byte string (gob `string` and `[]byte` share this form).
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Appends one stream message: its byte count, then the payload.
pub fn put_message(out: &mut Vec<u8>, payload: &[u8]) {
    put_uint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// Reads a gob unsigned integer from the front of `buf`, returning it and the bytes used.
pub fn get_uint(buf: &[u8]) -> Option<(u64, usize)> {
    let first = *buf.first()?;
    if first < 0x80 {
        return Some((u64::from(first), 1));
    }
    let n = 256 - usize::from(first);
    if n > 8 || buf.len() < 1 + n {
        return None;
    }
    let mut v = 0u64;
    for b in &buf[1..=n] {
        v = (v << 8) | u64::from(*b);
    }
    Some((v, 1 + n))
}

/// Reads a zig-zag gob signed integer.
pub fn get_int(buf: &[u8]) -> Option<(i64, usize)> {
    let (u, n) = get_uint(buf)?;
    let v = if u & 1 == 1 {
        !(u >> 1) as i64
    } else {
        (u >> 1) as i64
    };
    Some((v, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_encodings() {
        let mut o = Vec::new();
        put_uint(&mut o, 300);
        assert_eq!(o, [0xfe, 0x01, 0x2c]);
        o.clear();
        put_int(&mut o, -65);
        assert_eq!(o, [0xff, 0x81]);
        o.clear();
        put_int(&mut o, 65);
        assert_eq!(o, [0xff, 0x82]);
        o.clear();
        put_int(&mut o, 3);
        assert_eq!(o, [0x06]);
        o.clear();
        put_int(&mut o, i64::MIN);
        assert_eq!(get_int(&o), Some((i64::MIN, o.len())));
    }

    proptest::proptest! {
        #[test]
        fn uint_roundtrip(v: u64) {
            let mut o = Vec::new();
            put_uint(&mut o, v);
            proptest::prop_assert_eq!(get_uint(&o), Some((v, o.len())));
        }
        #[test]
        fn int_roundtrip(v: i64) {
            let mut o = Vec::new();
            put_int(&mut o, v);
            proptest::prop_assert_eq!(get_int(&o), Some((v, o.len())));
        }
    }
}
