//! Turning the `Configs` Packer sends to `Prepare`/`Configure` into a component's typed config.
//!
//! Packer sends a list: JSON templates give plain maps (numbers as float64) followed by Packer's
//! `packer_*` map and a map of build placeholders; HCL2 templates give a small `packer_*` map and
//! the block as cty JSON in a msgpack `bin` (every spec attribute present, unset ones `null`).
//! [`decode`] merges them left to right, pulls out [`PackerConfig`], rejects unknown keys, checks
//! and converts every value against the component's [`ObjectSpec`](crate::spec::ObjectSpec)
//! ([`coerce`]), and only then hands the result to serde. Every problem names its field.

pub mod coerce;
mod errors;
mod packer;

pub use errors::{ConfigErrors, FieldError};
pub use packer::PackerConfig;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use crate::rpc::value::to_json;
use crate::spec::HclSpec;

/// A decoded configuration and Packer's own settings for this build.
#[derive(Debug, Clone)]
pub struct Decoded<T> {
    pub config: T,
    pub packer: PackerConfig,
}

/// Decodes `configs` (the `Configs` argument of Prepare/Configure) into `T`.
pub fn decode<T: HclSpec + DeserializeOwned>(
    configs: &[rmpv::Value],
) -> Result<Decoded<T>, ConfigErrors> {
    let merged = merge(configs)?;
    let (packer_keys, mut user): (Map<String, Json>, Map<String, Json>) = merged
        .into_iter()
        .partition(|(k, _)| k.starts_with("packer_"));
    let packer = PackerConfig::from_map(&packer_keys);
    let spec = T::object_spec();
    let mut errs = ConfigErrors::default();
    coerce::object(&spec, &mut user, "", &mut errs);
    errs.into_result()?;
    let config = deserialize::<T>(Json::Object(user))?;
    Ok(Decoded { config, packer })
}

/// Merges the items of `configs` into one map (later wins, `null` means unset).
pub fn merge(configs: &[rmpv::Value]) -> Result<Map<String, Json>, ConfigErrors> {
    let mut out = Map::new();
    for (i, item) in configs.iter().enumerate() {
        let obj = match item {
            rmpv::Value::Nil => continue,
            rmpv::Value::Binary(b) => cty_value(b).map_err(|e| {
                ConfigErrors::single(
                    "",
                    format!("Configs[{i}]: cannot read Packer's HCL value: {e}"),
                )
            })?,
            rmpv::Value::Map(_) => match to_json(item) {
                Json::Object(m) if is_placeholder_map(&m) => continue,
                Json::Object(m) => m,
                _ => continue,
            },
            other => {
                return Err(ConfigErrors::single(
                    "",
                    format!(
                        "Configs[{i}]: expected a map, got {}",
                        crate::rpc::value::kind(other)
                    ),
                ));
            }
        };
        for (k, v) in obj {
            if !v.is_null() {
                out.insert(k, v);
            }
        }
    }
    Ok(out)
}

/// Reads cty JSON (`{"value": …, "type": …}`) and returns the value's attributes.
fn cty_value(bytes: &[u8]) -> Result<Map<String, Json>, String> {
    let v: Json = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    match v.get("value") {
        Some(Json::Object(m)) => Ok(m.clone()),
        Some(Json::Null) => Ok(Map::new()),
        Some(_) => Err("value is not an object".into()),
        None => Err("no \"value\" key".into()),
    }
}

/// JSON templates end with a map of build placeholders (`ID`, `Host`, …, `PackerRunUUID` =
/// "Build_PackerRunUUID. …"); it is interpolation data, not configuration.
fn is_placeholder_map(m: &Map<String, Json>) -> bool {
    matches!(m.get("PackerRunUUID"), Some(Json::String(s)) if s.starts_with("Build_PackerRunUUID"))
}

fn deserialize<T: DeserializeOwned + HclSpec>(v: Json) -> Result<T, ConfigErrors> {
    let map = match &v {
        Json::Object(m) => Some(m.clone()),
        _ => None,
    };
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        if path == "."
            && let Some(found) = map.as_ref().and_then(T::locate_error)
        {
            // serde's flatten hides the path: the flattened part names it
            return ConfigErrors(vec![found]);
        }
        let field = if path == "." { String::new() } else { path };
        ConfigErrors::single(&field, e.into_inner().to_string())
    })
}

/// The error a flattened part `T` of a configuration has on its own attributes in `map` (used by
/// `#[derive(HclSpec)]` for `#[serde(flatten)]` fields, whose errors serde reports without a path).
pub fn locate_in<T: DeserializeOwned + HclSpec>(map: &Map<String, Json>) -> Option<FieldError> {
    let spec = T::object_spec();
    let own: Map<String, Json> = map
        .iter()
        .filter(|(k, _)| spec.get(k).is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let e = serde_path_to_error::deserialize::<_, T>(Json::Object(own.clone())).err()?;
    let path = e.path().to_string();
    if path == "." {
        return T::locate_error(&own).or_else(|| {
            Some(FieldError {
                field: String::new(),
                message: e.into_inner().to_string(),
            })
        });
    }
    Some(FieldError {
        field: path,
        message: e.into_inner().to_string(),
    })
}

#[cfg(test)]
mod tests;
