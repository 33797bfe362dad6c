//! ConfigSpec in protobuf form, for plugins started with `--protobuf` (Packer >= 1.12).
//!
//! The reply is one `Spec` message whose `object` case holds the root object
//! (packer-plugin-sdk `rpc/convert.go` ToProto; schema in `proto/packer/hcl_spec.proto`).
//! Only primitive, list and map types convert; object and set types are rejected here with a
//! clear error because Packer would panic on them.

use prost::Message;

use super::{AttrSpec, BlockListSpec, BlockSpec, CtyType, ObjectSpec, Spec};

/// Generated from `proto/packer/hcl_spec.proto`.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/packer.hclspec.rs"));
}

/// Why a spec cannot be expressed as protobuf.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "ConfigSpec attribute {attr:?}: type {ty} has no protobuf form (use list/map of primitives)"
)]
pub struct ProtoSpecError {
    pub attr: String,
    pub ty: String,
}

/// Encodes `spec` as the protobuf `Spec{object}` bytes Packer expects.
pub fn encode(spec: &ObjectSpec) -> Result<Vec<u8>, ProtoSpecError> {
    Ok(to_proto(spec)?.encode_to_vec())
}

fn to_proto(spec: &ObjectSpec) -> Result<pb::Spec, ProtoSpecError> {
    let mut attributes = std::collections::BTreeMap::new();
    for (name, s) in &spec.0 {
        let block = match s {
            Spec::Attr(a) => pb::spec::Block::Attr(pb::Attr {
                name: a.name.clone(),
                r#type: Some(cty(&a.ty).ok_or_else(|| ProtoSpecError {
                    attr: a.name.clone(),
                    ty: a.ty.hcl_name(),
                })?),
                required: a.required,
            }),
            Spec::Block(b) => pb::spec::Block::BlockValue(Box::new(pb::Block {
                name: b.type_name.clone(),
                required: b.required,
                nested: Some(Box::new(to_proto(&b.nested)?)),
            })),
            Spec::BlockList(b) => pb::spec::Block::BlockList(Box::new(pb::BlockList {
                name: b.type_name.clone(),
                nested: Some(Box::new(to_proto(&b.nested)?)),
            })),
        };
        attributes.insert(name.clone(), pb::Spec { block: Some(block) });
    }
    Ok(pb::Spec {
        block: Some(pb::spec::Block::Object(pb::Object { attributes })),
    })
}

fn cty(t: &CtyType) -> Option<pb::CtyType> {
    use pb::cty_type::TypeDef;
    let def = match t {
        CtyType::String => TypeDef::Primitive(prim("cty.String")),
        CtyType::Number => TypeDef::Primitive(prim("cty.Number")),
        CtyType::Bool => TypeDef::Primitive(prim("cty.Bool")),
        CtyType::List(e) => TypeDef::List(Box::new(pb::CtyList {
            element_type: Some(Box::new(cty(e)?)),
        })),
        CtyType::Map(e) => TypeDef::Map(Box::new(pb::CtyMap {
            element_type: Some(Box::new(cty(e)?)),
        })),
        CtyType::Set(_) | CtyType::Object(_) => return None,
    };
    Some(pb::CtyType {
        type_def: Some(def),
    })
}

fn prim(s: &str) -> pb::CtyPrimitive {
    pb::CtyPrimitive {
        type_string: s.to_string(),
    }
}

/// Decodes protobuf ConfigSpec bytes back into the model (the inverse of [`encode`]), applying
/// the same acceptance rules as the SDK's `FromProto`.
pub fn decode(bytes: &[u8]) -> Result<ObjectSpec, String> {
    let spec = pb::Spec::decode(bytes).map_err(|e| e.to_string())?;
    match spec.block {
        Some(pb::spec::Block::Object(o)) => object_from(o),
        _ => Err("top-level Spec is not an object".into()),
    }
}

fn object_from(o: pb::Object) -> Result<ObjectSpec, String> {
    let mut out = ObjectSpec::new();
    for (name, s) in o.attributes {
        let entry = match s.block {
            Some(pb::spec::Block::Attr(a)) => Spec::Attr(AttrSpec {
                ty: cty_from(a.r#type.ok_or(format!("{name}: attribute without type"))?)?,
                name: a.name,
                required: a.required,
            }),
            Some(pb::spec::Block::BlockValue(b)) => Spec::Block(BlockSpec {
                nested: nested_from(b.nested, &name)?,
                type_name: b.name,
                required: b.required,
            }),
            Some(pb::spec::Block::BlockList(b)) => Spec::BlockList(BlockListSpec {
                nested: nested_from(b.nested, &name)?,
                type_name: b.name,
                min_items: 0,
                max_items: 0,
            }),
            _ => return Err(format!("{name}: unsupported spec")),
        };
        out.0.insert(name, entry);
    }
    Ok(out)
}

fn nested_from(n: Option<Box<pb::Spec>>, name: &str) -> Result<ObjectSpec, String> {
    match n.and_then(|n| n.block) {
        Some(pb::spec::Block::Object(o)) => object_from(o),
        _ => Err(format!("{name}: block without nested object")),
    }
}

fn cty_from(t: pb::CtyType) -> Result<CtyType, String> {
    use pb::cty_type::TypeDef;
    match t.type_def {
        Some(TypeDef::Primitive(p)) => match p.type_string.as_str() {
            "cty.String" => Ok(CtyType::String),
            "cty.Number" => Ok(CtyType::Number),
            "cty.Bool" => Ok(CtyType::Bool),
            other => Err(format!("unknown primitive {other:?}")),
        },
        Some(TypeDef::List(l)) => Ok(CtyType::list(cty_from(
            *l.element_type.ok_or("list without element type")?,
        )?)),
        Some(TypeDef::Map(m)) => Ok(CtyType::map(cty_from(
            *m.element_type.ok_or("map without element type")?,
        )?)),
        None => Err("empty CtyType".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `{"greeting": required string}` example, byte for byte (checked upstream with the
    /// Python protobuf runtime compiled from the SDK's hcl_spec.proto).
    #[test]
    fn greeting_bytes() {
        let mut s = ObjectSpec::new();
        s.insert(Spec::Attr(AttrSpec {
            name: "greeting".into(),
            ty: CtyType::String,
            required: true,
        }));
        let mut want = vec![0x0a, 0x2c, 0x0a, 0x2a, 0x0a, 0x08];
        want.extend_from_slice(b"greeting");
        want.extend_from_slice(&[0x12, 0x1e, 0x12, 0x1c, 0x0a, 0x08]);
        want.extend_from_slice(b"greeting");
        want.extend_from_slice(&[0x12, 0x0e, 0x0a, 0x0c, 0x0a, 0x0a]);
        want.extend_from_slice(b"cty.String");
        want.extend_from_slice(&[0x18, 0x01]);
        assert_eq!(encode(&s).unwrap(), want);
        assert_eq!(decode(&want).unwrap(), s);
    }

    #[test]
    fn object_types_are_refused() {
        let mut s = ObjectSpec::new();
        s.insert(Spec::Attr(AttrSpec {
            name: "obj".into(),
            ty: CtyType::Object(Default::default()),
            required: false,
        }));
        let e = encode(&s).unwrap_err();
        assert_eq!(e.attr, "obj");
    }
}
