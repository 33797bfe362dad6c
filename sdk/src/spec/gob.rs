//! ConfigSpec in gob form: what Packer 1.6.6 (and modern Packer without `--protobuf`) decodes with
//! `gob.NewDecoder(..).Decode(&hcldec.ObjectSpec{})`.
//!
//! Concrete types travel inside interfaces under their registered names: `*hcldec.AttrSpec`,
//! `*hcldec.BlockSpec`, `*hcldec.BlockListSpec` (pointer names are path-free), go-cty's
//! `github.com/zclconf/go-cty/cty.*` names, and — only for nested blocks — the non-pointer
//! `hcldec.ObjectSpec` whose registered name includes the import path Packer was built with
//! (see [`ObjectSpecName`]).

use std::collections::BTreeMap;

use super::{AttrSpec, BlockListSpec, BlockSpec, CtyType, ObjectSpec, Spec};
use crate::gob::encode::{StreamWriter, StructValue, interface, string_map};
use crate::gob::{GobError, Value, decode_stream, ids};

const CTY: &str = "github.com/zclconf/go-cty/cty.";

/// Registered gob name of `hcldec.ObjectSpec` in upstream / module-mode Packer builds.
pub const OBJECT_SPEC_UPSTREAM: &str = "github.com/hashicorp/hcl/v2/hcldec.ObjectSpec";
/// Registered name in Debian's GOPATH-mode Packer 1.6.6 build (hcl vendored under packer).
pub const OBJECT_SPEC_DEBIAN: &str =
    "github.com/hashicorp/packer/vendor/github.com/hashicorp/hcl/v2/hcldec.ObjectSpec";

/// Which registered name to use for nested `hcldec.ObjectSpec` values (only blocks need it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectSpecName(pub String);

impl Default for ObjectSpecName {
    fn default() -> Self {
        ObjectSpecName(OBJECT_SPEC_UPSTREAM.to_string())
    }
}

impl ObjectSpecName {
    /// Picks the name for the Packer that started this process: `PACKER_SDK_GOB_OBJECTSPEC`
    /// when set, else the name found in the parent executable (Packer) if it contains the
    /// vendored path, else the upstream name.
    pub fn detect() -> Self {
        if let Ok(v) = std::env::var("PACKER_SDK_GOB_OBJECTSPEC")
            && !v.is_empty()
        {
            return ObjectSpecName(v);
        }
        let parent = std::os::unix::process::parent_id();
        let exe = format!("/proc/{parent}/exe");
        if file_contains(std::path::Path::new(&exe), OBJECT_SPEC_DEBIAN.as_bytes()) {
            ObjectSpecName(OBJECT_SPEC_DEBIAN.to_string())
        } else {
            ObjectSpecName::default()
        }
    }
}

/// Whether the file at `path` contains `needle`; reads in chunks (Packer is ~100 MB).
fn file_contains(path: &std::path::Path, needle: &[u8]) -> bool {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let finder = memchr::memmem::Finder::new(needle);
    let keep = needle.len().saturating_sub(1);
    let mut buf = vec![0u8; 4 << 20];
    let mut filled = 0;
    loop {
        let n = match f.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        filled += n;
        if finder.find(&buf[..filled]).is_some() {
            return true;
        }
        // keep the tail: the needle may straddle two reads
        let tail = filled.saturating_sub(keep);
        buf.copy_within(tail..filled, 0);
        filled -= tail;
    }
}

/// Type ids of the spec stream, assigned in order of definition.
struct SpecIds {
    object: i64,
    attr: i64,
    block: i64,
    block_list: i64,
}

/// Encodes `spec` as the gob stream of an `hcldec.ObjectSpec`.
pub fn encode(spec: &ObjectSpec, object_spec_name: &ObjectSpecName) -> Vec<u8> {
    let (mut has_attr, mut has_block, mut has_list) = (false, false, false);
    scan(spec, &mut has_attr, &mut has_block, &mut has_list);

    let mut w = StreamWriter::new();
    let mut next = ids::FIRST_ASSIGNED;
    let mut take = || {
        let id = next;
        next += 1;
        id
    };
    let object = take();
    w.def_map(object, "ObjectSpec", ids::STRING, ids::INTERFACE);
    let mut attr = 0;
    if has_attr {
        attr = take();
        let ty = take();
        w.def_struct(
            attr,
            "AttrSpec",
            &[("Name", ids::STRING), ("Type", ty), ("Required", ids::BOOL)],
        );
        w.def_gob_encoder(ty, "Type");
    }
    let mut block = 0;
    if has_block {
        block = take();
        w.def_struct(
            block,
            "BlockSpec",
            &[
                ("TypeName", ids::STRING),
                ("Nested", ids::INTERFACE),
                ("Required", ids::BOOL),
            ],
        );
    }
    let mut block_list = 0;
    if has_list {
        block_list = take();
        w.def_struct(
            block_list,
            "BlockListSpec",
            &[
                ("TypeName", ids::STRING),
                ("Nested", ids::INTERFACE),
                ("MinItems", ids::INT),
                ("MaxItems", ids::INT),
            ],
        );
    }
    let ids = SpecIds {
        object,
        attr,
        block,
        block_list,
    };
    let body = object_body(spec, &ids, object_spec_name);
    w.value(ids.object, true, &body)
}

fn scan(spec: &ObjectSpec, attr: &mut bool, block: &mut bool, list: &mut bool) {
    for s in spec.0.values() {
        match s {
            Spec::Attr(_) => *attr = true,
            Spec::Block(b) => {
                *block = true;
                scan(&b.nested, attr, block, list);
            }
            Spec::BlockList(b) => {
                *list = true;
                scan(&b.nested, attr, block, list);
            }
        }
    }
}

fn object_body(spec: &ObjectSpec, ids: &SpecIds, osn: &ObjectSpecName) -> Vec<u8> {
    string_map(
        spec.0
            .iter()
            .map(|(k, v)| (k.as_str(), spec_iface(v, ids, osn))),
    )
}

fn nested_object(spec: &ObjectSpec, ids: &SpecIds, osn: &ObjectSpecName) -> Vec<u8> {
    interface(&osn.0, ids.object, false, &object_body(spec, ids, osn))
}

fn spec_iface(spec: &Spec, ids: &SpecIds, osn: &ObjectSpecName) -> Vec<u8> {
    match spec {
        Spec::Attr(a) => {
            let body = StructValue::new()
                .string(0, &a.name)
                .bytes(1, &encode_cty(&a.ty))
                .bool(2, a.required)
                .finish();
            interface("*hcldec.AttrSpec", ids.attr, true, &body)
        }
        Spec::Block(b) => {
            let body = StructValue::new()
                .string(0, &b.type_name)
                .raw(1, &nested_object(&b.nested, ids, osn))
                .bool(2, b.required)
                .finish();
            interface("*hcldec.BlockSpec", ids.block, true, &body)
        }
        Spec::BlockList(b) => {
            let body = StructValue::new()
                .string(0, &b.type_name)
                .raw(1, &nested_object(&b.nested, ids, osn))
                .int(2, b.min_items)
                .int(3, b.max_items)
                .finish();
            interface("*hcldec.BlockListSpec", ids.block_list, true, &body)
        }
    }
}

/// Encodes a cty type the way `cty.Type.GobEncode` does: a self-contained stream of
/// `gobType{Version int; Impl typeImpl}`.
pub fn encode_cty(t: &CtyType) -> Vec<u8> {
    let mut w = StreamWriter::new();
    let gob_type = ids::FIRST_ASSIGNED;
    w.def_struct(
        gob_type,
        "gobType",
        &[("Version", ids::INT), ("Impl", ids::INTERFACE)],
    );
    let impl_iface = match t {
        CtyType::String | CtyType::Number | CtyType::Bool => {
            let kind = match t {
                CtyType::String => b'S',
                CtyType::Number => b'N',
                _ => b'B',
            };
            w.def_struct(66, "primitiveType", &[("Kind", ids::UINT)]);
            let mut body = vec![0x01];
            crate::gob::wire::put_uint(&mut body, u64::from(kind));
            body.push(0x00);
            interface(&format!("{CTY}primitiveType"), 66, true, &body)
        }
        CtyType::List(e) | CtyType::Map(e) | CtyType::Set(e) => {
            let name = match t {
                CtyType::List(_) => "typeList",
                CtyType::Map(_) => "typeMap",
                _ => "typeSet",
            };
            w.def_gob_encoder(67, "Type");
            w.def_struct(66, name, &[("ElementTypeT", 67)]);
            let body = StructValue::new().bytes(0, &encode_cty(e)).finish();
            interface(&format!("{CTY}{name}"), 66, true, &body)
        }
        CtyType::Object(attrs) => {
            w.def_gob_encoder(67, "Type");
            w.def_map(68, "", ids::STRING, 67);
            w.def_struct(66, "typeObject", &[("AttrTypes", 68)]);
            let map = string_map(attrs.iter().map(|(k, v)| {
                let mut b = Vec::new();
                crate::gob::wire::put_bytes(&mut b, &encode_cty(v));
                (k.as_str(), b)
            }));
            let body = StructValue::new().raw(0, &map).finish();
            interface(&format!("{CTY}typeObject"), 66, true, &body)
        }
    };
    // gobType value: Version is zero (omitted); Impl is field 1.
    let body = StructValue::new().raw(1, &impl_iface).finish();
    w.value(gob_type, false, &body)
}

/// Decodes a gob `hcldec.ObjectSpec` stream (ours or Go's) back into the model.
pub fn decode(bytes: &[u8]) -> Result<ObjectSpec, GobError> {
    let values = decode_stream(bytes)?;
    let top = values
        .into_iter()
        .next()
        .ok_or_else(|| GobError::new("empty spec stream"))?;
    object_from(&top)
}

fn object_from(v: &Value) -> Result<ObjectSpec, GobError> {
    let Value::Map(entries) = v else {
        return Err(GobError::new("ObjectSpec is not a map"));
    };
    let mut out = ObjectSpec::new();
    for (k, v) in entries {
        let Value::String(key) = k else {
            return Err(GobError::new("ObjectSpec key is not a string"));
        };
        let Value::Interface(Some((name, inner))) = v else {
            return Err(GobError::new(format!("{key}: nil spec")));
        };
        let s = match name.as_str() {
            "*hcldec.AttrSpec" => Spec::Attr(AttrSpec {
                name: str_field(inner, "Name"),
                ty: cty_from_bytes(bytes_field(inner, "Type")?)?,
                required: bool_field(inner, "Required"),
            }),
            "*hcldec.BlockSpec" => Spec::Block(BlockSpec {
                type_name: str_field(inner, "TypeName"),
                nested: nested_from(inner)?,
                required: bool_field(inner, "Required"),
            }),
            "*hcldec.BlockListSpec" => Spec::BlockList(BlockListSpec {
                type_name: str_field(inner, "TypeName"),
                nested: nested_from(inner)?,
                min_items: int_field(inner, "MinItems"),
                max_items: int_field(inner, "MaxItems"),
            }),
            other => {
                return Err(GobError::new(format!(
                    "{key}: unsupported spec type {other}"
                )));
            }
        };
        out.0.insert(key.clone(), s);
    }
    Ok(out)
}

fn nested_from(v: &Value) -> Result<ObjectSpec, GobError> {
    match v.field("Nested") {
        Some(Value::Interface(Some((name, inner)))) if name.ends_with("hcldec.ObjectSpec") => {
            object_from(inner)
        }
        _ => Err(GobError::new("block without a nested ObjectSpec")),
    }
}

fn str_field(v: &Value, f: &str) -> String {
    match v.field(f) {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

fn bool_field(v: &Value, f: &str) -> bool {
    matches!(v.field(f), Some(Value::Bool(true)))
}

fn int_field(v: &Value, f: &str) -> i64 {
    match v.field(f) {
        Some(Value::Int(i)) => *i,
        _ => 0,
    }
}

fn bytes_field<'a>(v: &'a Value, f: &str) -> Result<&'a [u8], GobError> {
    match v.field(f) {
        Some(Value::Encoded { bytes, .. }) | Some(Value::Bytes(bytes)) => Ok(bytes),
        _ => Err(GobError::new(format!("missing {f}"))),
    }
}

/// Decodes a `cty.Type` gob stream.
pub fn cty_from_bytes(bytes: &[u8]) -> Result<CtyType, GobError> {
    let top = decode_stream(bytes)?
        .into_iter()
        .next()
        .ok_or_else(|| GobError::new("empty cty.Type stream"))?;
    let Some(Value::Interface(Some((name, imp)))) = top.field("Impl") else {
        return Err(GobError::new("cty.Type without Impl"));
    };
    let short = name.strip_prefix(CTY).unwrap_or(name);
    match short {
        "primitiveType" => match imp.field("Kind") {
            Some(Value::Uint(k)) if *k == u64::from(b'S') => Ok(CtyType::String),
            Some(Value::Uint(k)) if *k == u64::from(b'N') => Ok(CtyType::Number),
            Some(Value::Uint(k)) if *k == u64::from(b'B') => Ok(CtyType::Bool),
            _ => Err(GobError::new("unknown primitive kind")),
        },
        "typeList" | "typeMap" | "typeSet" => {
            let e = match imp.field("ElementTypeT") {
                Some(Value::Encoded { bytes, .. }) | Some(Value::Bytes(bytes)) => {
                    cty_from_bytes(bytes)?
                }
                _ => return Err(GobError::new("collection without element type")),
            };
            Ok(match short {
                "typeList" => CtyType::list(e),
                "typeMap" => CtyType::map(e),
                _ => CtyType::Set(Box::new(e)),
            })
        }
        "typeObject" => {
            let mut attrs = BTreeMap::new();
            if let Some(Value::Map(m)) = imp.field("AttrTypes") {
                for (k, v) in m {
                    match (k, v) {
                        (Value::String(k), Value::Encoded { bytes, .. } | Value::Bytes(bytes)) => {
                            attrs.insert(k.clone(), cty_from_bytes(bytes)?);
                        }
                        _ => return Err(GobError::new("bad object attribute")),
                    }
                }
            }
            Ok(CtyType::Object(attrs))
        }
        other => Err(GobError::new(format!("unsupported cty type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_search_finds_a_needle_across_read_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bin");
        let needle = OBJECT_SPEC_DEBIAN.as_bytes();
        for at in [0usize, (4 << 20) - 10, (4 << 20) - needle.len(), 9 << 20] {
            let mut data = vec![0u8; 10 << 20];
            data[at..at + needle.len()].copy_from_slice(needle);
            std::fs::write(&p, &data).unwrap();
            assert!(file_contains(&p, needle), "needle at {at}");
        }
        std::fs::write(&p, vec![b'x'; 5 << 20]).unwrap();
        assert!(!file_contains(&p, needle));
        assert!(!file_contains(&dir.path().join("missing"), needle));
    }
}
