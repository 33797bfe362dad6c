//! Tags amiforge writes on the AMIs and snapshots it makes: the user's, the source image's, and
//! provenance (where the copy came from, which build, which hardening evidence). Also the tag
//! that marks resources amiforge owns, so cleanup and retention never touch anything else.

use std::collections::BTreeMap;

/// Every resource amiforge creates carries this tag.
pub const MANAGED_BY: &str = "amiforge:managed-by";
/// Image family for retention (`keep_releases` counts per family per region).
pub const FAMILY: &str = "amiforge:family";
pub const SOURCE_REGION: &str = "amiforge:source-region";
pub const SOURCE_AMI: &str = "amiforge:source-ami";
pub const BUILD_NAME: &str = "amiforge:build-name";
pub const BUILD_TIME: &str = "amiforge:build-time";
pub const RUN_ID: &str = "amiforge:run-id";
/// The validator run a test resource belongs to (instances, volumes, key pairs, security groups).
pub const VALIDATOR_RUN: &str = "amiforge:validator-run";
/// Who asked the validator service for that run (its caller identity, like `token:ci` or
/// `cert:pipeline-a`); only that caller and admins may sweep the run. Absent for CLI runs.
pub const VALIDATOR_OWNER: &str = "amiforge:validator-owner";
/// The hard upper bound of a test resource's life (RFC 3339): past it, anyone's `sweep` may
/// remove it, however long its run renews its lease.
pub const EXPIRES_AT: &str = "amiforge:expires-at";
/// A test resource's lease (RFC 3339): its run renews it while alive; once it lapses, the run is
/// gone and a plain `sweep` takes what it left.
pub const LEASE_UNTIL: &str = "amiforge:lease-until";
pub const PROFILE_SHA256: &str = "amiforge:hardening-profile-sha256";
pub const REPORT_SHA256: &str = "amiforge:hardening-report-sha256";

/// The gate's result on every AMI (and snapshot) it judged: `passed` or `failed`.
pub const VALIDATION: &str = "amiforge:validation";
/// The validator run that judged it.
pub const VALIDATION_RUN: &str = "amiforge:validation-run";

/// Tags a user may give beside amiforge's own provenance tags.
pub const MAX_USER_TAGS: usize = 40;

/// One problem with a user's tags; `key` names the tag when the problem is one tag's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", field(.key.as_deref()))]
pub struct TagError {
    pub key: Option<String>,
    pub message: String,
}

impl TagError {
    /// The problem under the attribute it belongs to: `validated_tags["aws:x"]`.
    pub fn field(&self, attribute: &str) -> String {
        match &self.key {
            Some(k) => format!("{attribute}[{k:?}]"),
            None => attribute.to_string(),
        }
    }
}

fn field(key: Option<&str>) -> String {
    match key {
        Some(k) => format!("tags[{k:?}]"),
        None => "tags".to_string(),
    }
}

/// AWS limits: 50 tags per resource, keys ≤ 128 and values ≤ 256 characters, no `aws:` prefix.
pub fn check(tags: &BTreeMap<String, String>) -> Vec<TagError> {
    let mut errs = Vec::new();
    let mut bad = |k: &str, m: &str| {
        errs.push(TagError {
            key: Some(k.to_string()),
            message: m.to_string(),
        })
    };
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            bad(k, "keys are 1 to 128 characters");
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            bad(k, "the aws: prefix is reserved");
        }
        if v.chars().count() > 256 {
            bad(k, "values are at most 256 characters");
        }
    }
    if tags.len() > MAX_USER_TAGS {
        errs.push(TagError {
            key: None,
            message: format!(
                "{} tags leave no room for amiforge's provenance tags (AWS allows 50 per resource)",
                tags.len()
            ),
        });
    }
    errs
}

/// The full tag set for a copy: source image tags, then the user's (which win), then provenance
/// (which win over both, so they cannot be forged by either).
pub fn for_copy(
    source_tags: &BTreeMap<String, String>,
    user: &BTreeMap<String, String>,
    provenance: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = source_tags
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    out.extend(user.iter().map(|(k, v)| (k.clone(), v.clone())));
    out.extend(provenance.iter().map(|(k, v)| (k.clone(), v.clone())));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_wins() {
        let s = BTreeMap::from([
            ("Name".to_string(), "src".to_string()),
            ("aws:x".to_string(), "y".to_string()),
        ]);
        let u = BTreeMap::from([
            ("Name".to_string(), "mine".to_string()),
            (SOURCE_AMI.to_string(), "forged".to_string()),
        ]);
        let p = BTreeMap::from([(SOURCE_AMI.to_string(), "ami-12345678".to_string())]);
        let t = for_copy(&s, &u, &p);
        assert_eq!(t["Name"], "mine");
        assert_eq!(t[SOURCE_AMI], "ami-12345678");
        assert!(!t.contains_key("aws:x"));
    }

    #[test]
    fn limits() {
        let t = BTreeMap::from([
            ("aws:bad".to_string(), "v".to_string()),
            ("k".to_string(), "v".repeat(300)),
        ]);
        let e = check(&t);
        assert_eq!(e.len(), 2);
        assert_eq!(
            e[0].to_string(),
            "tags[\"aws:bad\"]: the aws: prefix is reserved"
        );
        assert_eq!(e[0].field("validated_tags"), "validated_tags[\"aws:bad\"]");
    }
}
