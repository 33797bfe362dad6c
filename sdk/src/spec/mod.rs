//! The HCL schema of a component's configuration ("ConfigSpec").
//!
//! Packer asks every HCL2 component for an `hcldec` spec, decodes the user's block with it and
//! sends the result back as cty JSON. This module holds one model of that spec ([`ObjectSpec`],
//! [`Spec`], [`CtyType`]) and the [`HclSpec`]/[`HclValue`] traits the `#[derive(HclSpec)]` macro
//! builds it from; [`gob`] and [`proto`] turn it into the two wire forms Packer understands.

pub mod gob;
pub mod proto;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// The cty types an attribute can have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CtyType {
    String,
    Number,
    Bool,
    List(Box<CtyType>),
    Map(Box<CtyType>),
    Set(Box<CtyType>),
    /// Object types exist in gob only (protobuf cannot express them).
    Object(BTreeMap<String, CtyType>),
}

impl CtyType {
    pub fn list(t: CtyType) -> Self {
        CtyType::List(Box::new(t))
    }
    pub fn map(t: CtyType) -> Self {
        CtyType::Map(Box::new(t))
    }

    /// The type as HCL writes it (`list(string)`), for docs and messages.
    pub fn hcl_name(&self) -> String {
        match self {
            CtyType::String => "string".into(),
            CtyType::Number => "number".into(),
            CtyType::Bool => "bool".into(),
            CtyType::List(t) => format!("list({})", t.hcl_name()),
            CtyType::Map(t) => format!("map({})", t.hcl_name()),
            CtyType::Set(t) => format!("set({})", t.hcl_name()),
            CtyType::Object(m) => {
                let inner: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k} = {}", v.hcl_name()))
                    .collect();
                format!("object({{{}}})", inner.join(", "))
            }
        }
    }
}

/// `name = value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrSpec {
    pub name: String,
    pub ty: CtyType,
    pub required: bool,
}

/// A single nested block `type_name { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSpec {
    pub type_name: String,
    pub nested: ObjectSpec,
    pub required: bool,
}

/// Repeated nested blocks `type_name { ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockListSpec {
    pub type_name: String,
    pub nested: ObjectSpec,
    pub min_items: i64,
    pub max_items: i64,
}

/// One entry of an object spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Attr(AttrSpec),
    Block(BlockSpec),
    BlockList(BlockListSpec),
}

impl Spec {
    /// The HCL name the entry is written as.
    pub fn name(&self) -> &str {
        match self {
            Spec::Attr(a) => &a.name,
            Spec::Block(b) => &b.type_name,
            Spec::BlockList(b) => &b.type_name,
        }
    }
}

/// An object: HCL name -> entry. This is what a component's ConfigSpec is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectSpec(pub BTreeMap<String, Spec>);

impl ObjectSpec {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry under its own name.
    pub fn insert(&mut self, spec: Spec) {
        self.0.insert(spec.name().to_string(), spec);
    }

    pub fn get(&self, name: &str) -> Option<&Spec> {
        self.0.get(name)
    }

    /// Whether any entry (at any depth) is a nested block; such specs depend on the Packer
    /// build's registered name for `hcldec.ObjectSpec` in gob form.
    pub fn has_blocks(&self) -> bool {
        self.0
            .values()
            .any(|s| matches!(s, Spec::Block(_) | Spec::BlockList(_)))
    }
}

/// Documentation of one configuration field, as written in the config struct's doc comments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDoc {
    pub name: &'static str,
    pub doc: &'static str,
    /// For nested blocks: the block's own fields.
    pub nested: Vec<FieldDoc>,
}

/// A configuration struct with an HCL schema. Derive it with `#[derive(HclSpec)]`.
pub trait HclSpec {
    /// The spec Packer decodes the component's HCL block with.
    fn object_spec() -> ObjectSpec;
    /// Field documentation, in declaration order.
    fn field_docs() -> Vec<FieldDoc> {
        Vec::new()
    }
    /// The first error serde finds in the flattened parts of this struct, with its attribute
    /// (serde reports errors inside `#[serde(flatten)]` fields without a path). Derived.
    fn locate_error(
        _map: &serde_json::Map<String, serde_json::Value>,
    ) -> Option<crate::config::FieldError> {
        None
    }
}

/// A Rust type usable as an HCL attribute value. (`Duration` is written as a string such as `15m`;
/// the config struct's serde decides how it is parsed, e.g. with `humantime_serde`.)
pub trait HclValue {
    /// The cty type the attribute is declared with.
    fn cty_type() -> CtyType;
    /// Whether the attribute may be left out (true for `Option<T>`).
    const OPTIONAL: bool = false;
}

/// A Rust type usable as a nested block field (`#[hcl(block)]`).
pub trait HclBlock {
    fn block_spec(name: &str, required: bool) -> Spec;
    /// Documentation of the block's fields.
    fn block_docs() -> Vec<FieldDoc>;
    const OPTIONAL: bool = false;
}

macro_rules! hcl_value {
    ($cty:expr => $($t:ty),*) => {
        $(impl HclValue for $t {
            fn cty_type() -> CtyType { $cty }
        })*
    };
}
hcl_value!(CtyType::String => String, PathBuf, std::time::Duration);
hcl_value!(CtyType::Bool => bool);
hcl_value!(CtyType::Number => i8, i16, i32, i64, u8, u16, u32, u64, usize, isize, f32, f64);

impl<T: HclValue> HclValue for Option<T> {
    fn cty_type() -> CtyType {
        T::cty_type()
    }
    const OPTIONAL: bool = true;
}

impl<T: HclValue> HclValue for Vec<T> {
    fn cty_type() -> CtyType {
        CtyType::list(T::cty_type())
    }
}

impl<T: HclValue> HclValue for BTreeMap<String, T> {
    fn cty_type() -> CtyType {
        CtyType::map(T::cty_type())
    }
}

impl<T: HclValue, S> HclValue for HashMap<String, T, S> {
    fn cty_type() -> CtyType {
        CtyType::map(T::cty_type())
    }
}

impl<T: HclSpec> HclBlock for Vec<T> {
    fn block_spec(name: &str, _required: bool) -> Spec {
        Spec::BlockList(BlockListSpec {
            type_name: name.to_string(),
            nested: T::object_spec(),
            min_items: 0,
            max_items: 0,
        })
    }
    fn block_docs() -> Vec<FieldDoc> {
        T::field_docs()
    }
    const OPTIONAL: bool = true;
}

impl<T: HclSpec> HclBlock for Option<T> {
    fn block_spec(name: &str, _required: bool) -> Spec {
        Spec::Block(BlockSpec {
            type_name: name.to_string(),
            nested: T::object_spec(),
            required: false,
        })
    }
    fn block_docs() -> Vec<FieldDoc> {
        T::field_docs()
    }
    const OPTIONAL: bool = true;
}

/// Builds an attribute entry for field type `T` (used by the derive macro).
pub fn attr<T: HclValue>(name: &str, has_default: bool) -> Spec {
    Spec::Attr(AttrSpec {
        name: name.to_string(),
        ty: T::cty_type(),
        required: !T::OPTIONAL && !has_default,
    })
}

/// Builds a block entry for field type `T` (used by the derive macro).
pub fn block<T: HclBlock>(name: &str, has_default: bool) -> Spec {
    T::block_spec(name, !T::OPTIONAL && !has_default)
}

/// A struct used directly as a required single block.
pub fn required_block<T: HclSpec>(name: &str, has_default: bool) -> Spec {
    Spec::Block(BlockSpec {
        type_name: name.to_string(),
        nested: T::object_spec(),
        required: !has_default,
    })
}
