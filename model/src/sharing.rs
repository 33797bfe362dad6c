//! Who an AMI is shared with ([`Sharing`]: accounts, AWS Organizations, OUs, and the
//! explicit-only `public`) and the formats of those references and of KMS key references.

use serde::{Deserialize, Serialize};

/// Exactly who may launch an AMI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sharing {
    pub account_ids: Vec<String>,
    pub org_arns: Vec<String>,
    pub ou_arns: Vec<String>,
    pub public: bool,
}

impl Sharing {
    /// Whether anyone besides the owner may launch.
    pub fn is_shared(&self) -> bool {
        self.public
            || !self.account_ids.is_empty()
            || !self.org_arns.is_empty()
            || !self.ou_arns.is_empty()
    }
}

impl std::fmt::Display for Sharing {
    /// `accounts 111122223333; orgs …; public`, or `nobody else`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        for (what, list) in [
            ("accounts", &self.account_ids),
            ("organizations", &self.org_arns),
            ("OUs", &self.ou_arns),
        ] {
            if !list.is_empty() {
                parts.push(format!("{what} {}", list.join(", ")));
            }
        }
        if self.public {
            parts.push("everyone (public)".to_string());
        }
        if parts.is_empty() {
            f.write_str("nobody else")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// 12 digits.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `arn:aws[-cn|-us-gov]:organizations::<account>:organization/o-<10-32 alnum>`
pub fn is_org_arn(s: &str) -> bool {
    let Some(rest) = partition_prefix(s) else {
        return false;
    };
    let Some((acct, res)) = rest.split_once(":organization/") else {
        return false;
    };
    is_account_id(acct) && is_org_id(res)
}

/// `arn:aws:organizations::<account>:ou/o-<id>/ou-<4-32>-<8-32>`
pub fn is_ou_arn(s: &str) -> bool {
    let Some(rest) = partition_prefix(s) else {
        return false;
    };
    let Some((acct, res)) = rest.split_once(":ou/") else {
        return false;
    };
    let Some((org, ou)) = res.split_once('/') else {
        return false;
    };
    is_account_id(acct)
        && is_org_id(org)
        && ou.strip_prefix("ou-").is_some_and(|r| {
            let parts: Vec<&str> = r.split('-').collect();
            parts.len() == 2
                && (4..=32).contains(&parts[0].len())
                && (8..=32).contains(&parts[1].len())
                && parts.iter().all(|p| {
                    p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                })
        })
}

fn partition_prefix(s: &str) -> Option<&str> {
    [
        "arn:aws:organizations::",
        "arn:aws-cn:organizations::",
        "arn:aws-us-gov:organizations::",
    ]
    .iter()
    .find_map(|p| s.strip_prefix(p))
}

fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// A KMS key reference: key id (uuid / mrk-), `alias/...`, or a key/alias ARN.
pub fn is_kms_key_ref(s: &str) -> bool {
    if let Some(a) = s.strip_prefix("alias/") {
        return !a.is_empty() && !a.starts_with("aws/") || a == "aws/ebs";
    }
    if s.starts_with("arn:") {
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        return parts.len() == 6
            && parts[2] == "kms"
            && crate::artifact::is_region(parts[3])
            && is_account_id(parts[4])
            && (parts[5].starts_with("key/") || parts[5].starts_with("alias/"));
    }
    let uuid = s.strip_prefix("mrk-").unwrap_or(s);
    uuid.len() >= 32 && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

/// The region a KMS ARN lives in, if it is an ARN.
pub fn kms_arn_region(s: &str) -> Option<&str> {
    s.starts_with("arn:").then(|| s.split(':').nth(3)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert!(
            is_account_id("123456789012")
                && !is_account_id("12345678901")
                && !is_account_id("12345678901a")
        );
        assert!(is_org_arn(
            "arn:aws:organizations::123456789012:organization/o-abcdef1234"
        ));
        assert!(!is_org_arn(
            "arn:aws:organizations::123456789012:organization/x-abcdef1234"
        ));
        assert!(is_ou_arn(
            "arn:aws:organizations::123456789012:ou/o-abcdef1234/ou-ab12-cdef5678"
        ));
        assert!(!is_ou_arn(
            "arn:aws:organizations::123456789012:ou/o-abcdef1234/ou-x"
        ));
        assert!(is_kms_key_ref("alias/images"));
        assert!(is_kms_key_ref(
            "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        assert!(is_kms_key_ref("1234abcd-12ab-34cd-56ef-1234567890ab"));
        assert!(!is_kms_key_ref("images") && !is_kms_key_ref("arn:aws:s3:::bucket"));
        assert_eq!(
            kms_arn_region("arn:aws:kms:eu-west-1:123456789012:alias/x"),
            Some("eu-west-1")
        );
    }

    #[test]
    fn sharing_reads_as_words() {
        assert_eq!(Sharing::default().to_string(), "nobody else");
        let s = Sharing {
            account_ids: vec!["111122223333".into(), "444455556666".into()],
            org_arns: vec!["arn:aws:organizations::123456789012:organization/o-abcdef1234".into()],
            ou_arns: Vec::new(),
            public: false,
        };
        assert_eq!(
            s.to_string(),
            "accounts 111122223333, 444455556666; organizations arn:aws:organizations::123456789012:organization/o-abcdef1234"
        );
        let public = Sharing {
            public: true,
            ..Sharing::default()
        };
        assert_eq!(public.to_string(), "everyone (public)");
    }
}
