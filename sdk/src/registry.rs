//! HCP Packer registry metadata: the images an artifact answers to
//! `State("par.artifact.metadata")` ([`ARTIFACT_STATE_URI`]), which Packer core records in the
//! registry when a template has an `hcp_packer_registry` block.
//!
//! The wire contract (packer-plugin-sdk v0.6 `packer/registry/image/image.go`, `rpc/artifact.go`;
//! Packer 1.16 `internal/hcp/registry/types.bucket.go`): `Artifact.State` is a net/rpc call over
//! the ugorji msgpack codec whose reply is a Go `interface{}`; no gob and no registered type
//! names are involved. A Go plugin returns `[]*image.Image`, which msgpack writes as an array of
//! maps keyed by the struct's field names (`ImageID`, `ProviderName`, `ProviderRegion`, `Labels`,
//! `SourceImageID`). Packer reads it back as `[]interface{}` of `map[interface{}]interface{}` and
//! decodes that with mapstructure (weakly typed, keys matched case-insensitively, unknown keys
//! ignored) into `[]image.Image`; an image without `ImageID` or `ProviderName` makes the build's
//! registry update fail. [`to_state`] writes that shape; [`from_state`] reads it the way Packer
//! does (for an input artifact's images, and for tests). The SDK knows no provider: components
//! fill in [`RegistryImage`].

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

/// The `State` name Packer asks for registry metadata.
pub const ARTIFACT_STATE_URI: &str = "par.artifact.metadata";

/// One image as the registry records it (the SDK's `image.Image`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistryImage {
    /// The provider's id of the image (for AWS the AMI id).
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// The cloud or service, e.g. `aws`.
    #[serde(rename = "ProviderName")]
    pub provider_name: String,
    /// Where the image lives (for AWS the region).
    #[serde(rename = "ProviderRegion")]
    pub provider_region: String,
    /// Extra details; Packer merges every image's labels into the build's labels.
    #[serde(rename = "Labels")]
    pub labels: BTreeMap<String, String>,
    /// The image this one was built from (the registry links parent and child by it); `""`
    /// when unknown.
    #[serde(rename = "SourceImageID")]
    pub source_image_id: String,
}

/// Why a state value is not a list of registry images.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryStateError {
    #[error("registry state is {0}, not a list of images")]
    NotAList(&'static str),
    #[error("registry image {index} is {kind}, not a map")]
    NotAMap { index: usize, kind: &'static str },
    #[error("registry image {index}: {field} is {kind}, not a string")]
    NotAString {
        index: usize,
        field: String,
        kind: &'static str,
    },
    #[error("registry image {index}: Labels is {kind}, not a map")]
    LabelsNotAMap { index: usize, kind: &'static str },
    #[error("registry image {index} has no {field}")]
    Missing { index: usize, field: &'static str },
}

impl RegistryImage {
    /// An image with no labels and no source.
    pub fn new(provider: &str, region: &str, id: &str) -> RegistryImage {
        RegistryImage {
            image_id: id.to_string(),
            provider_name: provider.to_string(),
            provider_region: region.to_string(),
            ..RegistryImage::default()
        }
    }

    /// What Packer checks before it records an image (`image.Image.Validate`); `index` names it.
    pub fn check(&self, index: usize) -> Result<(), RegistryStateError> {
        if self.image_id.is_empty() {
            return Err(RegistryStateError::Missing {
                index,
                field: "ImageID",
            });
        }
        if self.provider_name.is_empty() {
            return Err(RegistryStateError::Missing {
                index,
                field: "ProviderName",
            });
        }
        Ok(())
    }
}

/// The `State` value for `images`: the list of maps a Go `[]*image.Image` encodes to.
pub fn to_state(images: &[RegistryImage]) -> Json {
    serde_json::to_value(images).unwrap_or(Json::Null)
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "nil",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

/// A scalar as mapstructure's weak decoding turns it into a string (nil: `""`).
fn weak_string(v: &Json) -> Option<String> {
    match v {
        Json::Null => Some(String::new()),
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        Json::Number(n) => Some(n.to_string()),
        Json::Array(_) | Json::Object(_) => None,
    }
}

/// The value of struct field `name` in `m`: the exact key first, else one equal ignoring case
/// (mapstructure's rule).
fn field<'a>(m: &'a serde_json::Map<String, Json>, name: &str) -> Option<&'a Json> {
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

fn image(index: usize, v: &Json) -> Result<RegistryImage, RegistryStateError> {
    let Json::Object(m) = v else {
        return Err(RegistryStateError::NotAMap {
            index,
            kind: kind(v),
        });
    };
    let text = |name: &str| match field(m, name) {
        None => Ok(String::new()),
        Some(v) => weak_string(v).ok_or_else(|| RegistryStateError::NotAString {
            index,
            field: name.to_string(),
            kind: kind(v),
        }),
    };
    let mut labels = BTreeMap::new();
    match field(m, "Labels") {
        None | Some(Json::Null) => {}
        Some(Json::Object(l)) => {
            for (k, v) in l {
                let s = weak_string(v).ok_or_else(|| RegistryStateError::NotAString {
                    index,
                    field: format!("Labels[{k:?}]"),
                    kind: kind(v),
                })?;
                labels.insert(k.clone(), s);
            }
        }
        Some(other) => {
            return Err(RegistryStateError::LabelsNotAMap {
                index,
                kind: kind(other),
            });
        }
    }
    Ok(RegistryImage {
        image_id: text("ImageID")?,
        provider_name: text("ProviderName")?,
        provider_region: text("ProviderRegion")?,
        labels,
        source_image_id: text("SourceImageID")?,
    })
}

/// Reads a `State(ARTIFACT_STATE_URI)` value as Packer core decodes it: nil is no images, a
/// single map is one image, a list holds maps; fields match case-insensitively, numbers and
/// bools become strings, unknown keys are ignored. Images are not [`check`](RegistryImage::check)ed.
pub fn from_state(v: &Json) -> Result<Vec<RegistryImage>, RegistryStateError> {
    match v {
        Json::Null => Ok(Vec::new()),
        Json::Object(_) => Ok(vec![image(0, v)?]),
        Json::Array(a) => a.iter().enumerate().map(|(i, v)| image(i, v)).collect(),
        other => Err(RegistryStateError::NotAList(kind(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labelled() -> RegistryImage {
        let mut i = RegistryImage::new("aws", "eu-west-1", "ami-1");
        i.labels.insert("family".into(), "web".into());
        i.source_image_id = "ami-base".into();
        i
    }

    #[test]
    fn the_state_is_a_list_of_maps_with_go_field_names() {
        let s = to_state(&[labelled()]);
        assert_eq!(
            s,
            json!([{"ImageID": "ami-1", "ProviderName": "aws", "ProviderRegion": "eu-west-1",
                    "Labels": {"family": "web"}, "SourceImageID": "ami-base"}])
        );
        assert_eq!(to_state(&[]), json!([]));
    }

    #[test]
    fn the_msgpack_reply_has_str_keys_and_values() {
        // what Go's ugorji codec reads: an array of maps with str keys (fixstr 0xa7 "ImageID")
        let bytes = crate::rpc::encode_body(&to_state(&[labelled()])).unwrap();
        assert_eq!(bytes[0], 0x91, "an array of one");
        assert_eq!(bytes[1], 0x85, "a map of five");
        let v: rmpv::Value = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        let m = v.as_array().unwrap()[0].as_map().unwrap();
        assert!(
            m.iter()
                .all(|(k, v)| k.is_str() && (v.is_str() || v.is_map()))
        );
        assert_eq!(
            from_state(&crate::rpc::value::to_json(&v)),
            Ok(vec![labelled()])
        );
    }

    #[test]
    fn reading_is_as_weak_as_packers_mapstructure() {
        let v = json!([{"imageid": "ami-2", "PROVIDERNAME": "aws", "ProviderRegion": null,
                        "Labels": {"n": 3, "b": true}, "Extra": [1]}]);
        let got = from_state(&v).unwrap();
        assert_eq!(got[0].image_id, "ami-2");
        assert_eq!(got[0].provider_name, "aws");
        assert_eq!(got[0].provider_region, "");
        assert_eq!(got[0].labels["n"], "3");
        assert_eq!(got[0].labels["b"], "1");
        // the exact key wins over one equal ignoring case
        let both = json!({"imageid": "lower", "ImageID": "exact"});
        assert_eq!(from_state(&both).unwrap()[0].image_id, "exact");
        assert_eq!(from_state(&Json::Null), Ok(Vec::new()));
    }

    #[test]
    fn bad_shapes_are_named() {
        assert_eq!(
            from_state(&json!("x")),
            Err(RegistryStateError::NotAList("a string"))
        );
        assert_eq!(
            from_state(&json!([{}, 1])),
            Err(RegistryStateError::NotAMap {
                index: 1,
                kind: "a number"
            })
        );
        let e = from_state(&json!([{"ImageID": ["a"]}])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "registry image 0: ImageID is a list, not a string"
        );
        let e = from_state(&json!([{"Labels": {"k": {}}}])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "registry image 0: Labels[\"k\"] is a map, not a string"
        );
        let e = from_state(&json!([{"Labels": "x"}])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "registry image 0: Labels is a string, not a map"
        );
    }

    #[test]
    fn check_is_packers_validate() {
        assert_eq!(labelled().check(0), Ok(()));
        let mut i = labelled();
        i.provider_name.clear();
        assert_eq!(
            i.check(2).unwrap_err().to_string(),
            "registry image 2 has no ProviderName"
        );
        i.image_id.clear();
        assert_eq!(
            i.check(0),
            Err(RegistryStateError::Missing {
                index: 0,
                field: "ImageID"
            })
        );
    }
}
