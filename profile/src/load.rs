//! Loading profiles: built-in ones by name, or a file path, with every problem reported by where
//! it is (TOML line and column, control id and field).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::model::{Check, Compare, Os, PamConfig, ParamType, Profile};

/// Built-in profiles, embedded at build time.
const BUILTIN: &[(&str, &str)] = &[
    (
        "linux-baseline",
        include_str!("builtin/linux-baseline.toml"),
    ),
    (
        "windows-baseline",
        include_str!("builtin/windows-baseline.toml"),
    ),
];

/// Names of the built-in profiles.
pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(n, _)| *n).collect()
}

/// Where a profile came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Builtin(&'static str),
    File(PathBuf),
    /// Text handed over directly (e.g. in a validator request), named by where it was given.
    Given(String),
}

impl Source {
    /// What a report says the profile came from: [`crate::report::BUILTIN_SOURCE`] or the path.
    pub fn report_source(&self) -> String {
        match self {
            Source::Builtin(_) => crate::report::BUILTIN_SOURCE.to_string(),
            Source::File(p) => p.display().to_string(),
            Source::Given(label) => label.clone(),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin(n) => write!(f, "built-in profile {n}"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Given(label) => f.write_str(label),
        }
    }
}

/// A loaded profile with the exact bytes it was parsed from (their sha256 goes in reports).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: Source,
    pub text: String,
    pub profile: Profile,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    #[error("unknown profile {0:?}: not a built-in profile ({1}) and no such file")]
    Unknown(String, String),
    #[error("{0}: cannot read: {1}")]
    Read(String, String),
    #[error("{0}: {1}")]
    Parse(String, String),
    #[error("{source}: {problems}", problems = .1.join("; "), source = .0)]
    Invalid(String, Vec<String>),
}

/// Returns the built-in profile `name`.
pub fn builtin(name: &str) -> Option<Loaded> {
    let (n, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
    // built-in profiles are checked by the test suite; a broken one is a build bug
    parse(Source::Builtin(n), text.to_string()).ok()
}

/// `line L, column C: what` for a TOML error in `text` (no excerpt of the text).
fn toml_problem(text: &str, e: &toml::de::Error) -> String {
    let what = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else {
        return what;
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {column}: {what}")
}

/// Loads `spec`: a built-in name, else a path to a profile file.
pub fn load(spec: &str) -> Result<Loaded, LoadError> {
    if let Some((n, text)) = BUILTIN.iter().find(|(n, _)| *n == spec) {
        return parse(Source::Builtin(n), text.to_string());
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(LoadError::Unknown(
            spec.to_string(),
            builtin_names().join(", "),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::Read(path.display().to_string(), e.to_string()))?;
    parse(Source::File(path.to_path_buf()), text)
}

/// Parses and validates profile text. A TOML error says where (line and column) and what, never
/// quoting the text (which may not be ours to show, e.g. a file a validator was asked to read).
pub fn parse(source: Source, text: String) -> Result<Loaded, LoadError> {
    let profile: Profile = toml::from_str(&text)
        .map_err(|e| LoadError::Parse(source.to_string(), toml_problem(&text, &e)))?;
    let problems = validate(&profile);
    if !problems.is_empty() {
        return Err(LoadError::Invalid(source.to_string(), problems));
    }
    Ok(Loaded {
        source,
        text,
        profile,
    })
}

/// Semantic checks serde cannot express.
pub fn validate(p: &Profile) -> Vec<String> {
    let mut out = Vec::new();
    for (name, param) in &p.parameters {
        let ok = match param.ty {
            ParamType::String => param.default.is_str(),
            ParamType::Int => param.default.is_integer(),
            ParamType::Bool => param.default.is_bool(),
        };
        if !ok {
            out.push(format!(
                "parameters.{name}.default: must be a {} (got {})",
                param.ty.name(),
                param.default
            ));
        }
        if param.ty != ParamType::Int && (param.min.is_some() || param.max.is_some()) {
            out.push(format!(
                "parameters.{name}: min and max are for int parameters"
            ));
        }
        if let Some(d) = param.default.as_integer()
            && param.ty == ParamType::Int
            && !param.int_range().contains(&d)
        {
            out.push(format!(
                "parameters.{name}.default: {d} is outside min..max"
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, c) in p.controls.iter().enumerate() {
        let at = format!("control[{i}] (id {:?})", c.id);
        if c.id.is_empty()
            || !c
                .id
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.')
        {
            out.push(format!("{at}.id: use letters, digits, '-', '_' and '.'"));
        }
        if !seen.insert(c.id.clone()) {
            out.push(format!("{at}.id: duplicate id"));
        }
        if c.check.os() != p.profile.os {
            out.push(format!(
                "{at}.check.kind: {} is a {:?} check in a {:?} profile",
                c.check.kind(),
                c.check.os(),
                p.profile.os
            ));
        }
        for (field, param) in [
            ("enabled_by", &c.enabled_by),
            ("disabled_by", &c.disabled_by),
        ] {
            if let Some(name) = param {
                match p.parameters.get(name) {
                    None => out.push(format!("{at}.{field}: no parameter named {name:?}")),
                    Some(d) if d.ty != ParamType::Bool => {
                        out.push(format!("{at}.{field}: parameter {name:?} must be a bool"))
                    }
                    _ => {}
                }
            }
        }
        let mut check = c.check.clone();
        for s in check.strings_mut() {
            for name in placeholders(s) {
                if !p.parameters.contains_key(&name) {
                    out.push(format!("{at}.check: {{{{{name}}}}} names no parameter"));
                }
            }
        }
        match &c.check {
            Check::FileMode { mode, .. } | Check::LinePresent { mode, .. }
                if !is_octal_mode(mode) && placeholders(mode).is_empty() =>
            {
                out.push(format!(
                    "{at}.check.mode: {mode:?} is not an octal mode like \"0640\""
                ));
            }
            Check::PackageAbsent { packages } | Check::PackagePresent { packages }
                if packages.is_empty() =>
            {
                out.push(format!("{at}.check.packages: name at least one package"));
            }
            _ => {}
        }
        out.extend(check_kind_rules(&at, &c.check));
        out.extend(needs_rules(&at, &c.needs, p, i));
        if p.profile.os == Os::Linux {
            // pam-configs texts are the one place besides `command` where a value spans lines
            let texts: Vec<&str> = c
                .check
                .pam_configs()
                .iter()
                .map(|p| p.text.as_str())
                .collect();
            for s in check.strings_mut() {
                if s.contains('\n')
                    && !matches!(c.check, Check::Command { .. })
                    && !texts.contains(&s.as_str())
                {
                    out.push(format!("{at}.check: values must be single lines"));
                }
            }
        }
    }
    out
}

/// `needs` name earlier controls of the same profile (they run first), in Linux profiles.
fn needs_rules(at: &str, needs: &[String], p: &Profile, index: usize) -> Vec<String> {
    let mut out = Vec::new();
    if !needs.is_empty() && p.profile.os != Os::Linux {
        out.push(format!("{at}.needs: only Linux profiles support needs"));
        return out;
    }
    for n in needs {
        if !p.controls[..index].iter().any(|c| &c.id == n) {
            out.push(format!(
                "{at}.needs: {n:?} is not a control before this one (list the control it depends on first)"
            ));
        }
    }
    out
}

/// Rules of one check kind serde cannot express.
fn check_kind_rules(at: &str, check: &Check) -> Vec<String> {
    let mut out = Vec::new();
    let compare = match check {
        Check::SshdConfig { compare, value, .. } | Check::ConfigValue { compare, value, .. } => {
            Some((compare, value))
        }
        Check::SecurityPolicy { compare, .. } if *compare == Compare::Range => {
            out.push(format!("{at}.check.compare: range is for Linux checks"));
            None
        }
        _ => None,
    };
    if let Some((Compare::Range, value)) = compare
        && placeholders(value).is_empty()
        && parse_range(value).is_none()
    {
        out.push(format!(
            "{at}.check.value: {value:?} is not a range like \"1..300\" (compare = \"range\")"
        ));
    }
    match check {
        Check::SshdAlgorithms { key, allow, .. } => {
            if algorithm_query(key).is_none() {
                out.push(format!(
                    "{at}.check.key: {key:?} is not an algorithm list sshd_algorithms knows (KexAlgorithms, Ciphers, MACs)"
                ));
            }
            if allow.is_empty() {
                out.push(format!(
                    "{at}.check.allow: name at least one algorithm pattern"
                ));
            }
        }
        Check::PamModule { module, types, .. } => {
            if module.is_empty()
                || !module
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                out.push(format!(
                    "{at}.check.module: {module:?} is not a PAM module name like \"pam_faillock\""
                ));
            }
            if types.is_empty() {
                out.push(format!(
                    "{at}.check.types: name at least one of auth, account, password, session"
                ));
            }
            for t in types {
                if !["auth", "account", "password", "session"].contains(&t.as_str()) {
                    out.push(format!(
                        "{at}.check.types: {t:?} is not auth, account, password or session"
                    ));
                }
            }
        }
        Check::LoginUmask { value, .. }
            if !is_octal_mode(value) && placeholders(value).is_empty() =>
        {
            out.push(format!(
                "{at}.check.value: {value:?} is not an octal umask like \"027\""
            ));
        }
        _ => {}
    }
    out.extend(pam_config_rules(at, check.pam_configs()));
    out
}

fn pam_config_rules(at: &str, configs: &[PamConfig]) -> Vec<String> {
    configs
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            c.name.is_empty()
                || !c
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(|(i, c)| {
            format!(
                "{at}.check.pam_configs[{i}].name: {:?} must be a file name of letters, digits, '-' and '_'",
                c.name
            )
        })
        .collect()
}

/// `LO..HI` as integers.
pub fn parse_range(v: &str) -> Option<(i64, i64)> {
    let (lo, hi) = v.split_once("..")?;
    let (lo, hi) = (lo.trim().parse().ok()?, hi.trim().parse().ok()?);
    (lo <= hi).then_some((lo, hi))
}

/// The `ssh -Q` query that lists what an sshd algorithm setting may hold.
pub fn algorithm_query(key: &str) -> Option<&'static str> {
    match key.to_ascii_lowercase().as_str() {
        "kexalgorithms" => Some("kex"),
        "ciphers" => Some("cipher"),
        "macs" => Some("mac"),
        _ => None,
    }
}

/// `{{name}}` placeholders in `s`.
pub fn placeholders(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        out.push(after[..end].trim().to_string());
        rest = &after[end + 2..];
    }
    out
}

fn is_octal_mode(m: &str) -> bool {
    (3..=4).contains(&m.len()) && m.bytes().all(|b| (b'0'..=b'7').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_errors_say_where_without_quoting_the_text() {
        let text = "[profile]\nname = \"x\"\nsecret = AKIASECRETVALUE\n";
        let e = parse(Source::Given("guest.profile".into()), text.into())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("guest.profile: line 3, column 10: "), "{e}");
        assert!(!e.contains("AKIASECRETVALUE"), "{e}");
    }
}
