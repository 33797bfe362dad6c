//! A bounded decoder of gob streams into dynamic [`Value`]s.
//!
//! It follows the reading rules of Go's `encoding/gob` decoder: a stream is a sequence of
//! length-prefixed messages; a negative leading id is a type definition (`wireType`), a positive
//! one a value; an interface's concrete type id may be preceded by type definitions in messages of
//! their own. Every length is checked against the bytes actually present and nesting is limited,
//! so hostile input yields an error, never a panic or a large allocation.

use std::collections::HashMap;

use super::ids;
use super::wire::{get_int, get_uint};

/// Maximum nesting of composite values and embedded streams.
const MAX_DEPTH: usize = 64;

/// A decoding error with a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("gob: {0}")]
pub struct GobError(String);

impl GobError {
    pub fn new(msg: impl Into<String>) -> Self {
        GobError(msg.into())
    }
}

type Result<T> = std::result::Result<T, GobError>;

/// A decoded gob value. Struct fields that were omitted on the wire (zero values) are absent.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Complex(f64, f64),
    Bytes(Vec<u8>),
    String(String),
    Struct {
        name: String,
        fields: Vec<(String, Value)>,
    },
    Map(Vec<(Value, Value)>),
    Slice(Vec<Value>),
    /// An interface: `None` for nil, else the registered concrete name and the value.
    Interface(Option<(String, Box<Value>)>),
    /// A `GobEncoder` / `BinaryMarshaler` / `TextMarshaler` type: its name and opaque bytes.
    Encoded {
        name: String,
        bytes: Vec<u8>,
    },
}

impl Value {
    /// Short name of the value's kind, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint",
            Value::Float(_) => "float",
            Value::Complex(..) => "complex",
            Value::Bytes(_) => "bytes",
            Value::String(_) => "string",
            Value::Struct { .. } => "struct",
            Value::Map(_) => "map",
            Value::Slice(_) => "slice",
            Value::Interface(_) => "interface",
            Value::Encoded { .. } => "encoded",
        }
    }

    /// The named field of a struct value, if present.
    pub fn field(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct { fields, .. } => fields.iter().find(|(n, _)| n == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
enum WireType {
    Struct {
        name: String,
        fields: Vec<(String, i64)>,
    },
    Map {
        key: i64,
        elem: i64,
    },
    Slice {
        elem: i64,
    },
    Array {
        elem: i64,
        len: u64,
    },
    Encoder {
        name: String,
    },
}

/// Decoder state over one complete gob stream held in memory.
pub struct Decoder<'a> {
    data: &'a [u8],
    pos: usize,
    /// End of the message currently being read.
    end: usize,
    types: HashMap<i64, WireType>,
}

/// Decodes every value message of a complete stream.
pub fn decode_stream(data: &[u8]) -> Result<Vec<Value>> {
    let mut d = Decoder::new(data);
    let mut out = Vec::new();
    while let Some(v) = d.next_value(0)? {
        out.push(v);
    }
    Ok(out)
}

impl<'a> Decoder<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Decoder {
            data,
            pos: 0,
            end: 0,
            types: HashMap::new(),
        }
    }

    /// Reads the next value message (after any type definitions); `None` at a clean end.
    pub fn next_value(&mut self, depth: usize) -> Result<Option<Value>> {
        loop {
            if self.pos >= self.data.len() {
                return Ok(None);
            }
            self.start_message()?;
            let id = self.int()?;
            if id < 0 {
                self.read_type_def(negate(id)?)?;
                if self.pos != self.end {
                    return Err(GobError::new("extra bytes after a type definition"));
                }
                continue;
            }
            let v = self.top_value(id, depth)?;
            // Go's decoder tolerates nothing after a top-level value in its message.
            if self.pos != self.end {
                return Err(GobError::new("extra bytes after a value"));
            }
            return Ok(Some(v));
        }
    }

    fn start_message(&mut self) -> Result<()> {
        let (len, n) = get_uint(&self.data[self.pos..])
            .ok_or_else(|| GobError::new("truncated message length"))?;
        let start = self.pos + n;
        let len = usize::try_from(len).map_err(|_| GobError::new("message too long"))?;
        if len == 0 || len > self.data.len() - start {
            return Err(GobError::new(format!(
                "message length {len} exceeds the {} bytes left",
                self.data.len() - start
            )));
        }
        self.pos = start;
        self.end = start + len;
        Ok(())
    }

    /// Bytes left in the whole input (a value may continue in the next message).
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Go's decoder refills its buffer from the next message when it runs dry in the middle of
    /// a value (its encoder splits values around type definitions); do the same.
    fn refill(&mut self) -> Result<()> {
        if self.pos == self.end && self.pos < self.data.len() {
            self.start_message()?;
        }
        Ok(())
    }

    fn uint(&mut self) -> Result<u64> {
        self.refill()?;
        let (v, n) = get_uint(&self.data[self.pos..self.end])
            .ok_or_else(|| GobError::new("truncated unsigned integer"))?;
        self.pos += n;
        Ok(v)
    }

    fn int(&mut self) -> Result<i64> {
        self.refill()?;
        let (v, n) = get_int(&self.data[self.pos..self.end])
            .ok_or_else(|| GobError::new("truncated integer"))?;
        self.pos += n;
        Ok(v)
    }

    fn count(&mut self) -> Result<usize> {
        let c = self.uint()?;
        // every element takes at least one byte, so a count beyond the bytes left is a lie
        if c > self.remaining() as u64 {
            return Err(GobError::new(format!(
                "count {c} exceeds the {} bytes left",
                self.remaining()
            )));
        }
        Ok(c as usize)
    }

    fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = self.uint()?;
        if n > (self.end - self.pos) as u64 {
            return Err(GobError::new(format!(
                "byte string of {n} exceeds the {} bytes left in its message",
                self.end - self.pos
            )));
        }
        let n = n as usize;
        let b = self.data[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(b)
    }

    fn string(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?).map_err(|_| GobError::new("string is not UTF-8"))
    }

    /// Reads a struct's fields: `f(self, field_index)` decodes each present field.
    fn read_struct(
        &mut self,
        nfields: usize,
        mut f: impl FnMut(&mut Self, usize) -> Result<()>,
    ) -> Result<()> {
        let mut field: i64 = -1;
        loop {
            let delta = self.uint()?;
            if delta == 0 {
                return Ok(());
            }
            field = field
                .checked_add(i64::try_from(delta).map_err(|_| GobError::new("bad field delta"))?)
                .ok_or_else(|| GobError::new("bad field delta"))?;
            if field as u64 >= nfields as u64 {
                return Err(GobError::new(format!("field index {field} out of range")));
            }
            f(self, field as usize)?;
        }
    }

    fn common_type(&mut self) -> Result<(String, i64)> {
        let mut name = String::new();
        let mut id = 0;
        self.read_struct(2, |d, i| {
            match i {
                0 => name = d.string()?,
                _ => id = d.int()?,
            }
            Ok(())
        })?;
        Ok((name, id))
    }

    fn read_type_def(&mut self, id: i64) -> Result<()> {
        if id < ids::FIRST_USER {
            return Err(GobError::new(format!(
                "type definition for reserved id {id}"
            )));
        }
        let mut def: Option<WireType> = None;
        self.read_struct(7, |d, i| {
            def = Some(match i {
                0 => {
                    let (mut elem, mut len) = (0, 0);
                    d.read_struct(3, |d, j| {
                        match j {
                            0 => drop(d.common_type()?),
                            1 => elem = d.int()?,
                            _ => len = d.int()?,
                        }
                        Ok(())
                    })?;
                    let len =
                        u64::try_from(len).map_err(|_| GobError::new("negative array length"))?;
                    WireType::Array { elem, len }
                }
                1 => {
                    let mut elem = 0;
                    d.read_struct(2, |d, j| {
                        match j {
                            0 => drop(d.common_type()?),
                            _ => elem = d.int()?,
                        }
                        Ok(())
                    })?;
                    WireType::Slice { elem }
                }
                2 => {
                    let mut name = String::new();
                    let mut fields = Vec::new();
                    d.read_struct(2, |d, j| {
                        match j {
                            0 => name = d.common_type()?.0,
                            _ => {
                                let n = d.count()?;
                                for _ in 0..n {
                                    let (mut fname, mut fid) = (String::new(), 0);
                                    d.read_struct(2, |d, k| {
                                        match k {
                                            0 => fname = d.string()?,
                                            _ => fid = d.int()?,
                                        }
                                        Ok(())
                                    })?;
                                    fields.push((fname, fid));
                                }
                            }
                        }
                        Ok(())
                    })?;
                    WireType::Struct { name, fields }
                }
                3 => {
                    let (mut key, mut elem) = (0, 0);
                    d.read_struct(3, |d, j| {
                        match j {
                            0 => drop(d.common_type()?),
                            1 => key = d.int()?,
                            _ => elem = d.int()?,
                        }
                        Ok(())
                    })?;
                    WireType::Map { key, elem }
                }
                _ => {
                    let mut name = String::new();
                    d.read_struct(1, |d, _| {
                        name = d.common_type()?.0;
                        Ok(())
                    })?;
                    WireType::Encoder { name }
                }
            });
            Ok(())
        })?;
        let def = def.ok_or_else(|| GobError::new("empty type definition"))?;
        self.types.insert(id, def);
        Ok(())
    }

    fn top_value(&mut self, id: i64, depth: usize) -> Result<Value> {
        if !matches!(self.types.get(&id), Some(WireType::Struct { .. })) {
            // non-struct top-level values carry a zero "singleton" field delta
            if self.uint()? != 0 {
                return Err(GobError::new("missing singleton delta"));
            }
        }
        self.value(id, depth)
    }

    fn value(&mut self, id: i64, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(GobError::new("value nested too deeply"));
        }
        Ok(match id {
            ids::BOOL => Value::Bool(self.uint()? != 0),
            ids::INT => Value::Int(self.int()?),
            ids::UINT => Value::Uint(self.uint()?),
            ids::FLOAT => Value::Float(float_from_gob(self.uint()?)),
            ids::COMPLEX => {
                let re = float_from_gob(self.uint()?);
                Value::Complex(re, float_from_gob(self.uint()?))
            }
            ids::BYTES => Value::Bytes(self.bytes()?),
            ids::STRING => Value::String(self.string()?),
            ids::INTERFACE => self.interface(depth)?,
            _ => {
                let t = self
                    .types
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| GobError::new(format!("undefined type id {id}")))?;
                match t {
                    WireType::Struct { name, fields } => {
                        let mut out = Vec::new();
                        self.read_struct(fields.len(), |d, i| {
                            let (fname, fid) = &fields[i];
                            let v = d.value(*fid, depth + 1)?;
                            out.push((fname.clone(), v));
                            Ok(())
                        })?;
                        Value::Struct { name, fields: out }
                    }
                    WireType::Map { key, elem } => {
                        let n = self.count()?;
                        let mut out = Vec::with_capacity(n);
                        for _ in 0..n {
                            let k = self.value(key, depth + 1)?;
                            let v = self.value(elem, depth + 1)?;
                            out.push((k, v));
                        }
                        Value::Map(out)
                    }
                    WireType::Slice { elem } => {
                        let n = self.count()?;
                        let mut out = Vec::with_capacity(n);
                        for _ in 0..n {
                            out.push(self.value(elem, depth + 1)?);
                        }
                        Value::Slice(out)
                    }
                    WireType::Array { elem, len } => {
                        let n = self.count()?;
                        if n as u64 != len {
                            return Err(GobError::new("array length mismatch"));
                        }
                        let mut out = Vec::with_capacity(n);
                        for _ in 0..n {
                            out.push(self.value(elem, depth + 1)?);
                        }
                        Value::Slice(out)
                    }
                    WireType::Encoder { name } => Value::Encoded {
                        name,
                        bytes: self.bytes()?,
                    },
                }
            }
        })
    }

    fn interface(&mut self, depth: usize) -> Result<Value> {
        let name = self.string()?;
        if name.is_empty() {
            return Ok(Value::Interface(None));
        }
        // The concrete type id, possibly preceded by type definitions: inline in this message
        // (each followed by a delimiter count to skip) or in messages of their own
        // (Go's `decodeTypeSequence(isInterface=true)`).
        let id = loop {
            let id = self.int()?;
            if id >= 0 {
                break id;
            }
            self.read_type_def(negate(id)?)?;
            if self.pos < self.end {
                self.uint()?;
            }
        };
        // The value's byte count: Go's encoder writes type definitions of nested interfaces
        // inside it, so like Go's decoder we check it but read on sequentially.
        let len = self.uint()?;
        if len > self.remaining() as u64 {
            return Err(GobError::new("interface value longer than its message"));
        }
        let v = if matches!(self.types.get(&id), Some(WireType::Struct { .. })) {
            self.value(id, depth + 1)?
        } else {
            if self.uint()? != 0 {
                return Err(GobError::new("missing singleton delta in interface value"));
            }
            self.value(id, depth + 1)?
        };
        Ok(Value::Interface(Some((name, Box::new(v)))))
    }
}

fn negate(id: i64) -> Result<i64> {
    id.checked_neg()
        .ok_or_else(|| GobError::new("type id out of range"))
}

fn float_from_gob(u: u64) -> f64 {
    f64::from_bits(u.swap_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage_without_panicking() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x00],
            &[0xff],
            &[0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[0x03, 0xff, 0x82, 0x00], // value of an undefined type
            &[0x05, 0x0c, 0x00, 0xfc, 0x7f, 0xff, 0xff, 0xff], // string claiming 2 GiB
        ];
        for c in cases {
            let _ = decode_stream(c);
        }
        assert!(decode_stream(&[0x05, 0x0c, 0x00, 0xfc, 0x7f, 0xff, 0xff]).is_err());
    }

    #[test]
    fn top_level_string() {
        // message len 4: type 6 (string) -> int 12 = 0x0c, singleton 00, "a" (len 1)
        let v = decode_stream(&[0x04, 0x0c, 0x00, 0x01, b'a']).unwrap();
        assert_eq!(v, vec![Value::String("a".into())]);
    }
}
