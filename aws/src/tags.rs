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
/// When a test resource may be removed by anyone's `sweep` (RFC 3339): its run is long over.
pub const EXPIRES_AT: &str = "amiforge:expires-at";
pub const PROFILE_SHA256: &str = "amiforge:hardening-profile-sha256";
pub const REPORT_SHA256: &str = "amiforge:hardening-report-sha256";

/// AWS limits: 50 tags per resource, keys ≤ 128 and values ≤ 256 characters, no `aws:` prefix.
pub fn check(tags: &BTreeMap<String, String>) -> Vec<String> {
    let mut errs = Vec::new();
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            errs.push(format!("tags[\"{k}\"]: keys are 1 to 128 characters"));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            errs.push(format!("tags[\"{k}\"]: the aws: prefix is reserved"));
        }
        if v.chars().count() > 256 {
            errs.push(format!("tags[\"{k}\"]: values are at most 256 characters"));
        }
    }
    if tags.len() > 40 {
        errs.push(format!(
            "tags: {} tags leave no room for amiforge's provenance tags (AWS allows 50 per resource)",
            tags.len()
        ));
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
        assert_eq!(check(&t).len(), 2);
    }
}
