//! Checks a merged configuration against the component's spec and converts values to the
//! declared types, the way Packer's Go SDK decodes (weakly typed: `"3"` is a number, `3` a
//! string, a single value a one-element list; JSON's `3.0` an integer). Anything else is an error
//! naming the field, the expected type and what was found.

use serde_json::{Map, Number, Value as Json};

use super::ConfigErrors;
use crate::spec::{CtyType, ObjectSpec, Spec};

/// Checks object `m` against `spec` in place; problems go to `errs` under `prefix`.
pub fn object(spec: &ObjectSpec, m: &mut Map<String, Json>, prefix: &str, errs: &mut ConfigErrors) {
    let mut unknown: Vec<String> = m
        .keys()
        .filter(|k| spec.get(k).is_none())
        .cloned()
        .collect();
    unknown.sort();
    for k in unknown {
        let path = join(prefix, &k);
        errs.push(
            &path,
            unknown_message(&k, spec.0.keys().map(String::as_str)),
        );
        m.remove(&k);
    }
    for (name, entry) in &spec.0 {
        let path = join(prefix, name);
        let present = m.get(name).is_some_and(|v| !v.is_null());
        if !present {
            m.remove(name);
            let required = match entry {
                Spec::Attr(a) => a.required,
                Spec::Block(b) => b.required,
                Spec::BlockList(b) => b.min_items > 0,
            };
            if required {
                errs.push(&path, missing_message(entry));
            }
            continue;
        }
        let Some(v) = m.get_mut(name) else { continue };
        match entry {
            Spec::Attr(a) => match value(&a.ty, v.take(), &path, errs) {
                Some(nv) => *v = nv,
                None => {
                    m.remove(name);
                }
            },
            Spec::Block(b) => {
                // HCL's JSON syntax may wrap a single block in a one-element list
                if let Json::Array(a) = v
                    && a.len() == 1
                {
                    *v = a.remove(0);
                }
                match v {
                    Json::Object(inner) => object(&b.nested, inner, &path, errs),
                    other => errs.push(&path, format!("expected a block, got {}", describe(other))),
                }
            }
            Spec::BlockList(b) => {
                if v.is_object() {
                    *v = Json::Array(vec![v.take()]);
                }
                match v {
                    Json::Array(items) => {
                        for (i, item) in items.iter_mut().enumerate() {
                            let p = format!("{path}[{i}]");
                            match item {
                                Json::Object(inner) => object(&b.nested, inner, &p, errs),
                                other => errs
                                    .push(&p, format!("expected a block, got {}", describe(other))),
                            }
                        }
                        let n = items.len() as i64;
                        if b.max_items > 0 && n > b.max_items {
                            errs.push(
                                &path,
                                format!("at most {} blocks allowed, got {n}", b.max_items),
                            );
                        }
                        if n < b.min_items {
                            errs.push(
                                &path,
                                format!("at least {} blocks required, got {n}", b.min_items),
                            );
                        }
                    }
                    other => errs.push(&path, format!("expected blocks, got {}", describe(other))),
                }
            }
        }
    }
}

/// Converts `v` to type `ty`; on failure records why and returns `None`.
pub fn value(ty: &CtyType, v: Json, path: &str, errs: &mut ConfigErrors) -> Option<Json> {
    let mismatch = |errs: &mut ConfigErrors, v: &Json| {
        errs.push(
            path,
            format!("expected {}, got {}", ty.hcl_name(), describe(v)),
        );
        None
    };
    match ty {
        CtyType::String => match v {
            Json::String(_) => Some(v),
            Json::Number(n) => Some(Json::String(n.to_string())),
            Json::Bool(b) => Some(Json::String(b.to_string())),
            other => mismatch(errs, &other),
        },
        CtyType::Number => match v {
            Json::Number(n) => Some(Json::Number(normalize(n))),
            Json::String(ref s) => match parse_number(s.trim()) {
                Some(n) => Some(Json::Number(n)),
                None => mismatch(errs, &v),
            },
            other => mismatch(errs, &other),
        },
        CtyType::Bool => match v {
            Json::Bool(_) => Some(v),
            Json::String(ref s) => match s.trim() {
                "true" | "1" => Some(Json::Bool(true)),
                "false" | "0" => Some(Json::Bool(false)),
                _ => mismatch(errs, &v),
            },
            other => mismatch(errs, &other),
        },
        CtyType::List(e) | CtyType::Set(e) => {
            let items = match v {
                Json::Array(a) => a,
                Json::Object(_) => return mismatch(errs, &v),
                scalar => vec![scalar],
            };
            let before = errs.0.len();
            let out: Vec<Json> = items
                .into_iter()
                .enumerate()
                .filter_map(|(i, item)| value(e, item, &format!("{path}[{i}]"), errs))
                .collect();
            (errs.0.len() == before).then_some(Json::Array(out))
        }
        CtyType::Map(e) => match v {
            Json::Object(m) => {
                let before = errs.0.len();
                let out: Map<String, Json> = m
                    .into_iter()
                    .filter_map(|(k, item)| {
                        let p = format!("{path}[\"{k}\"]");
                        value(e, item, &p, errs).map(|nv| (k, nv))
                    })
                    .collect();
                (errs.0.len() == before).then_some(Json::Object(out))
            }
            other => mismatch(errs, &other),
        },
        CtyType::Object(attrs) => match v {
            Json::Object(mut m) => {
                let before = errs.0.len();
                let mut keys: Vec<String> = m.keys().cloned().collect();
                keys.sort();
                for k in keys {
                    let p = join(path, &k);
                    let Some(item) = m.remove(&k) else { continue };
                    match attrs.get(&k) {
                        None => {
                            errs.push(&p, unknown_message(&k, attrs.keys().map(String::as_str)))
                        }
                        Some(t) if !item.is_null() => {
                            if let Some(nv) = value(t, item, &p, errs) {
                                m.insert(k, nv);
                            }
                        }
                        Some(_) => {}
                    }
                }
                (errs.0.len() == before).then_some(Json::Object(m))
            }
            other => mismatch(errs, &other),
        },
    }
}

/// Integral floats (JSON templates send every number as float64) become integers.
fn normalize(n: Number) -> Number {
    if n.is_f64()
        && let Some(f) = n.as_f64()
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        return Number::from(f as i64);
    }
    n
}

fn parse_number(s: &str) -> Option<Number> {
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = s.parse::<u64>() {
        return Some(Number::from(u));
    }
    s.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(Number::from_f64)
        .map(normalize)
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// A short description of a JSON value for messages (`string "abc"`, `a list of 2`).
pub fn describe(v: &Json) -> String {
    match v {
        Json::Null => "null".into(),
        Json::Bool(b) => format!("bool {b}"),
        Json::Number(n) => format!("number {n}"),
        Json::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if s.chars().count() > 40 { "…" } else { "" };
            format!("string {shown:?}{more}")
        }
        Json::Array(a) => format!("a list of {}", a.len()),
        Json::Object(_) => "a map/object".into(),
    }
}

fn missing_message(entry: &Spec) -> String {
    match entry {
        Spec::Attr(a) => format!(
            "required attribute is missing; add `{} = <{}>`",
            a.name,
            a.ty.hcl_name()
        ),
        Spec::Block(b) => format!("required block is missing; add `{} {{ … }}`", b.type_name),
        Spec::BlockList(b) => format!(
            "at least {} `{}` blocks are required",
            b.min_items, b.type_name
        ),
    }
}

fn unknown_message<'a>(key: &str, valid: impl Iterator<Item = &'a str>) -> String {
    let valid: Vec<&str> = valid.collect();
    let best = valid
        .iter()
        .map(|v| (strsim::levenshtein(key, v), *v))
        .filter(|(d, v)| *d <= 2.max(v.len() / 3))
        .min();
    let mut msg = String::from("unknown attribute");
    if let Some((_, s)) = best {
        msg.push_str(&format!("; did you mean `{s}`?"));
    }
    if valid.is_empty() {
        msg.push_str(" (this component takes no attributes)");
    } else {
        msg.push_str(&format!(" (valid: {})", valid.join(", ")));
    }
    msg
}
