//! Writing gob type definitions and values.
//!
//! Layout: every type definition goes out first, one message each, then a single value message.
//! Go's decoder accepts this (it only requires a type to be defined before a value uses it), and
//! unlike Go's own encoder the output depends only on the value, which makes it easy to test.

use super::ids;
use super::wire::{put_bytes, put_int, put_message, put_uint};

/// A gob stream under construction.
#[derive(Default)]
pub struct StreamWriter {
    out: Vec<u8>,
}

impl StreamWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Defines struct type `id` named `name` with `(field name, field type id)` fields.
    pub fn def_struct(&mut self, id: i64, name: &str, fields: &[(&str, i64)]) {
        let mut p = Vec::new();
        put_int(&mut p, -id);
        // wireType field 2 (StructT) -> delta 3 from -1
        put_uint(&mut p, 3);
        // structType{CommonType (field 0), Field (field 1)}
        put_uint(&mut p, 1);
        common_type(&mut p, name, id);
        put_uint(&mut p, 1);
        put_uint(&mut p, fields.len() as u64);
        for (fname, fid) in fields {
            put_uint(&mut p, 1);
            put_bytes(&mut p, fname.as_bytes());
            put_uint(&mut p, 1);
            put_int(&mut p, *fid);
            put_uint(&mut p, 0);
        }
        put_uint(&mut p, 0); // end structType
        put_uint(&mut p, 0); // end wireType
        put_message(&mut self.out, &p);
    }

    /// Defines map type `id` (`name` may be empty for an unnamed map).
    pub fn def_map(&mut self, id: i64, name: &str, key: i64, elem: i64) {
        let mut p = Vec::new();
        put_int(&mut p, -id);
        put_uint(&mut p, 4); // wireType field 3 (MapT)
        put_uint(&mut p, 1);
        common_type(&mut p, name, id);
        put_uint(&mut p, 1);
        put_int(&mut p, key);
        put_uint(&mut p, 1);
        put_int(&mut p, elem);
        put_uint(&mut p, 0); // end mapType
        put_uint(&mut p, 0); // end wireType
        put_message(&mut self.out, &p);
    }

    /// Defines a type that encodes itself (Go `GobEncoder`), such as `cty.Type`.
    pub fn def_gob_encoder(&mut self, id: i64, name: &str) {
        let mut p = Vec::new();
        put_int(&mut p, -id);
        put_uint(&mut p, 5); // wireType field 4 (GobEncoderT)
        put_uint(&mut p, 1);
        common_type(&mut p, name, id);
        put_uint(&mut p, 0); // end gobEncoderType
        put_uint(&mut p, 0); // end wireType
        put_message(&mut self.out, &p);
    }

    /// Writes the value message: type id, then the encoded value (`singleton` adds the zero
    /// field delta that non-struct top-level values carry).
    pub fn value(mut self, id: i64, singleton: bool, body: &[u8]) -> Vec<u8> {
        let mut p = Vec::new();
        put_int(&mut p, id);
        if singleton {
            put_uint(&mut p, 0);
        }
        p.extend_from_slice(body);
        put_message(&mut self.out, &p);
        self.out
    }
}

fn common_type(p: &mut Vec<u8>, name: &str, id: i64) {
    if !name.is_empty() {
        put_uint(p, 1);
        put_bytes(p, name.as_bytes());
        put_uint(p, 1);
    } else {
        put_uint(p, 2);
    }
    put_int(p, id);
    put_uint(p, 0);
}

/// Builds a struct value: present fields with their index deltas, then the terminator.
pub struct StructValue {
    out: Vec<u8>,
    last: i64,
}

impl Default for StructValue {
    fn default() -> Self {
        StructValue {
            out: Vec::new(),
            last: -1,
        }
    }
}

impl StructValue {
    pub fn new() -> Self {
        Self::default()
    }

    fn delta(&mut self, index: i64) {
        put_uint(&mut self.out, (index - self.last) as u64);
        self.last = index;
    }

    /// A string field; empty strings are zero values and omitted.
    pub fn string(&mut self, index: i64, s: &str) -> &mut Self {
        if !s.is_empty() {
            self.delta(index);
            put_bytes(&mut self.out, s.as_bytes());
        }
        self
    }

    /// A bool field; `false` is omitted.
    pub fn bool(&mut self, index: i64, b: bool) -> &mut Self {
        if b {
            self.delta(index);
            put_uint(&mut self.out, 1);
        }
        self
    }

    /// A signed int field; 0 is omitted.
    pub fn int(&mut self, index: i64, v: i64) -> &mut Self {
        if v != 0 {
            self.delta(index);
            put_int(&mut self.out, v);
        }
        self
    }

    /// A byte-string field (also how a `GobEncoder` field's bytes are sent); empty is omitted.
    pub fn bytes(&mut self, index: i64, b: &[u8]) -> &mut Self {
        if !b.is_empty() {
            self.delta(index);
            put_bytes(&mut self.out, b);
        }
        self
    }

    /// A field whose encoded value the caller already has (an interface, a map ...).
    pub fn raw(&mut self, index: i64, encoded: &[u8]) -> &mut Self {
        self.delta(index);
        self.out.extend_from_slice(encoded);
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut self.out);
        put_uint(&mut out, 0);
        self.last = -1;
        out
    }
}

/// Encodes an interface value holding concrete type `id` registered as `name`; `value` is the
/// concrete encoding (structs as-is; other kinds get the zero singleton delta here).
pub fn interface(name: &str, id: i64, is_struct: bool, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_bytes(&mut out, name.as_bytes());
    put_int(&mut out, id);
    let extra = usize::from(!is_struct);
    put_uint(&mut out, (value.len() + extra) as u64);
    if !is_struct {
        put_uint(&mut out, 0);
    }
    out.extend_from_slice(value);
    out
}

/// Encodes a `map[string]V` body from pre-encoded values.
pub fn string_map<'a>(entries: impl ExactSizeIterator<Item = (&'a str, Vec<u8>)>) -> Vec<u8> {
    let mut out = Vec::new();
    put_uint(&mut out, entries.len() as u64);
    for (k, v) in entries {
        put_bytes(&mut out, k.as_bytes());
        out.extend_from_slice(&v);
    }
    out
}

/// The predefined id of `string`, re-exported for spec writers.
pub const STRING: i64 = ids::STRING;

#[cfg(test)]
mod tests {
    use super::super::decode::{Value, decode_stream};
    use super::*;

    #[test]
    fn struct_roundtrip_through_decoder() {
        let mut w = StreamWriter::new();
        w.def_struct(65, "CommandFinished", &[("ExitStatus", ids::INT)]);
        let body = StructValue::new().int(0, 42).finish();
        let bytes = w.value(65, false, &body);
        let v = decode_stream(&bytes).unwrap();
        assert_eq!(v[0].field("ExitStatus"), Some(&Value::Int(42)));
    }
}
