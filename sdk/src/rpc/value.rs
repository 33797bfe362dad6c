//! Liberal readers of msgpack values coming from Go: strings may be `str` or `bin`, integers any
//! width or signedness, and `nil` stands for empty slices and maps.

use rmpv::Value;

/// A string from `str` or UTF-8 `bin`.
pub fn as_str(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => s.as_str().map(str::to_string),
        Value::Binary(b) => String::from_utf8(b.clone()).ok(),
        Value::Nil => Some(String::new()),
        _ => None,
    }
}

/// A non-negative integer of any encoding.
pub fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => i.as_u64(),
        Value::F64(f) if *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19 => Some(*f as u64),
        _ => None,
    }
}

/// A signed integer of any encoding.
pub fn as_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Integer(i) => i.as_i64(),
        Value::F64(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Some(*f as i64),
        _ => None,
    }
}

/// Looks up `key` in a msgpack map with `str` or `bin` keys.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match v {
        Value::Map(entries) => entries
            .iter()
            .find(|(k, _)| as_str(k).as_deref() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Elements of an array (`nil` is empty).
pub fn as_array(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(a) => Some(a),
        Value::Nil => Some(&[]),
        _ => None,
    }
}

/// Short name of the value's kind, for error messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "bool",
        Value::Integer(_) => "integer",
        Value::F32(_) | Value::F64(_) => "float",
        Value::String(_) => "string",
        Value::Binary(_) => "binary",
        Value::Array(_) => "array",
        Value::Map(_) => "map",
        Value::Ext(..) => "extension",
    }
}

/// Converts a msgpack value to JSON: map keys become strings, `bin` becomes a string when it is
/// UTF-8 (Go `[]byte`), extension values become `null`.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Boolean(b) => J::Bool(*b),
        Value::Integer(i) => {
            if let Some(u) = i.as_u64() {
                J::from(u)
            } else if let Some(s) = i.as_i64() {
                J::from(s)
            } else {
                J::Null
            }
        }
        Value::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(J::Null, J::Number),
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::String(s) => J::String(s.as_str().map_or_else(
            || String::from_utf8_lossy(s.as_bytes()).into_owned(),
            str::to_string,
        )),
        Value::Binary(b) => J::String(String::from_utf8_lossy(b).into_owned()),
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => J::Object(m.iter().map(|(k, v)| (key_string(k), to_json(v))).collect()),
        Value::Ext(..) => J::Null,
    }
}

/// A map key as a string. Go's maps here have string keys; anything else gets a short stand-in
/// (rendering composite keys in full would let nested keys blow up exponentially).
fn key_string(k: &Value) -> String {
    if let Some(s) = as_str(k) {
        return s;
    }
    match k {
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::F32(f) => f.to_string(),
        Value::F64(f) => f.to_string(),
        other => format!("<{}>", kind(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liberal_reads() {
        assert_eq!(as_str(&Value::Binary(b"x".to_vec())), Some("x".into()));
        assert_eq!(as_u64(&Value::from(-1)), None);
        assert_eq!(as_u64(&Value::from(300u32)), Some(300));
        assert_eq!(as_u64(&Value::F64(3.0)), Some(3));
        let m = Value::Map(vec![(Value::Binary(b"k".to_vec()), Value::from(1))]);
        assert_eq!(get(&m, "k"), Some(&Value::from(1)));
        assert_eq!(to_json(&m), serde_json::json!({"k": 1}));
        // nested composite keys stay small (was exponential)
        let mut deep = Value::from(1);
        for _ in 0..64 {
            deep = Value::Map(vec![(deep.clone(), Value::Nil)]);
        }
        assert!(to_json(&deep).to_string().len() < 100);
    }
}
