//! Packer's own `packer_*` settings, passed to every component with its configuration.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

/// What Packer tells a component about the build. Fields Packer did not send are empty/false
/// (HCL2 on Packer 1.6.6 sends only the build name and builder type).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackerConfig {
    pub build_name: String,
    pub builder_type: String,
    pub core_version: String,
    pub debug: bool,
    pub force: bool,
    pub on_error: String,
    pub template_path: String,
    pub user_variables: BTreeMap<String, String>,
    /// Values of variables marked sensitive; never print them.
    pub sensitive_variables: Vec<String>,
}

impl PackerConfig {
    pub(crate) fn from_map(m: &Map<String, Json>) -> Self {
        let s = |k: &str| match m.get(k) {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        // JSON templates send real bools, modern HCL2 sends "true"/"false"
        let b = |k: &str| match m.get(k) {
            Some(Json::Bool(b)) => *b,
            Some(Json::String(s)) => s == "true",
            _ => false,
        };
        let user_variables = match m.get("packer_user_variables") {
            Some(Json::Object(o)) => o
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), v)
                })
                .collect(),
            _ => BTreeMap::new(),
        };
        let sensitive_variables = match m.get("packer_sensitive_variables") {
            Some(Json::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .filter(|s| !s.is_empty())
                .collect(),
            _ => Vec::new(),
        };
        PackerConfig {
            build_name: s("packer_build_name"),
            builder_type: s("packer_builder_type"),
            core_version: s("packer_core_version"),
            debug: b("packer_debug"),
            force: b("packer_force"),
            on_error: s("packer_on_error"),
            template_path: s("packer_template_path"),
            user_variables,
            sensitive_variables,
        }
    }
}
