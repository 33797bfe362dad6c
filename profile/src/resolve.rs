//! Resolving a profile for one run: the user's parameters (typed), exclusions and opt-ins
//! applied, placeholders substituted. What remains is exactly what the script will do.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::load::{Loaded, placeholders};
use crate::model::{Check, Control, Mode, Os, ParamType};

/// A control as it will run: `skip` says why it will not (it is still reported, as not
/// applicable, with that reason).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub control: Control,
    pub skip: Option<String>,
}

/// A profile ready to compile.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub name: String,
    pub version: String,
    pub os: Os,
    /// sha256 of the profile file's exact bytes.
    pub profile_sha256: String,
    pub mode: Mode,
    /// Every parameter with its effective value.
    pub parameters: BTreeMap<String, String>,
    /// Every control of the profile, in profile order.
    pub controls: Vec<Planned>,
}

impl Resolved {
    /// The planned control with this id.
    pub fn get(&self, id: &str) -> Option<&Planned> {
        self.controls.iter().find(|p| p.control.id == id)
    }
}

/// One problem with the user's input, named by the provisioner attribute it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ResolveError {
    pub field: String,
    pub message: String,
}

/// Applies `parameters` (strings from HCL, checked against the declared types), `exclude`
/// (control ids, all must exist) to `loaded`.
pub fn resolve(
    loaded: &Loaded,
    mode: Mode,
    exclude: &[String],
    parameters: &BTreeMap<String, String>,
) -> Result<Resolved, Vec<ResolveError>> {
    let p = &loaded.profile;
    let mut errs = Vec::new();
    let mut values = BTreeMap::new();
    for (name, decl) in &p.parameters {
        let default = match &decl.default {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        values.insert(name.clone(), default);
    }
    for (name, raw) in parameters {
        let Some(decl) = p.parameters.get(name) else {
            let known: Vec<&str> = p.parameters.keys().map(String::as_str).collect();
            errs.push(ResolveError {
                field: format!("parameters[\"{name}\"]"),
                message: format!(
                    "profile {} has no parameter {name:?} (known: {})",
                    p.profile.name,
                    known.join(", ")
                ),
            });
            continue;
        };
        let v = raw.trim();
        let ok = match decl.ty {
            ParamType::String => true,
            ParamType::Int => v.parse::<i64>().is_ok(),
            ParamType::Bool => matches!(v, "true" | "false"),
        };
        if !ok {
            errs.push(ResolveError {
                field: format!("parameters[\"{name}\"]"),
                message: format!("expected a {}, got {raw:?}", decl.ty.name()),
            });
            continue;
        }
        let range = decl.int_range();
        if decl.ty == ParamType::Int
            && let Ok(n) = v.parse::<i64>()
            && !range.contains(&n)
        {
            errs.push(ResolveError {
                field: format!("parameters[\"{name}\"]"),
                message: match decl.max {
                    Some(max) => format!("{n} is out of range: {} to {max}", range.start()),
                    None => format!("{n} is out of range: at least {}", range.start()),
                },
            });
            continue;
        }
        values.insert(name.clone(), v.to_string());
    }
    for (i, id) in exclude.iter().enumerate() {
        if !p.controls.iter().any(|c| &c.id == id) {
            let hint = p
                .controls
                .iter()
                .map(|c| c.id.as_str())
                .min_by_key(|c| strsim::levenshtein(c, id))
                .map(|c| format!("; did you mean {c:?}?"))
                .unwrap_or_default();
            errs.push(ResolveError {
                field: format!("exclude[{i}]"),
                message: format!("profile {} has no control {id:?}{hint}", p.profile.name),
            });
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let truthy = |name: &Option<String>| {
        name.as_ref()
            .is_some_and(|n| values.get(n).is_some_and(|v| v == "true"))
    };
    let mut controls = Vec::new();
    for c in &p.controls {
        let reason = if exclude.contains(&c.id) {
            Some("excluded by the template".to_string())
        } else if c.enabled_by.is_some() && !truthy(&c.enabled_by) {
            Some(format!(
                "opt-in: set parameters {{ {} = \"true\" }} to enable",
                c.enabled_by.as_deref().unwrap_or_default()
            ))
        } else if truthy(&c.disabled_by) {
            Some(format!(
                "turned off by parameter {} = true",
                c.disabled_by.as_deref().unwrap_or_default()
            ))
        } else {
            None
        };
        let mut control = c.clone();
        substitute(&mut control.check, &values);
        controls.push(Planned {
            control,
            skip: reason,
        });
    }
    Ok(Resolved {
        name: p.profile.name.clone(),
        version: p.profile.version.clone(),
        os: p.profile.os,
        profile_sha256: amiforge_model::sha256_hex(loaded.text.as_bytes()),
        mode,
        parameters: values,
        controls,
    })
}

fn substitute(check: &mut Check, values: &BTreeMap<String, String>) {
    for s in check.strings_mut() {
        if !placeholders(s).is_empty() {
            *s = expand(s, values);
        }
    }
}

/// Replaces every `{{ name }}` in `s` with its value (unknown names stay as written; `load`
/// already rejected them).
fn expand(s: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = after[..end].trim();
        match values.get(name) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}
