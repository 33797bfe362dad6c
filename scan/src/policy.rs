//! Whether findings fail the release: a severity threshold (unknown counts as low), optionally
//! only findings a fix exists for, and an allowlist file of accepted findings, each with a reason
//! and an expiry date. An expired entry fails the scan and says so, whether or not it still
//! matches anything: accepted risk is reviewed, not forgotten.

use serde::{Deserialize, Serialize};

use crate::matcher::Finding;
use crate::severity::Severity;

/// One accepted finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowEntry {
    /// The advisory id or an alias (`CVE-2016-2781`).
    pub id: String,
    /// The installed package, or the source package the advisory names.
    pub package: String,
    pub reason: String,
    /// `YYYY-MM-DD`: the last day the entry holds.
    pub expires: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allowlist {
    #[serde(default, rename = "allow")]
    pub entries: Vec<AllowEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllowlistError {
    #[error("{0}: {1}")]
    Parse(String, String),
    #[error("{file}: {problems}", problems = .problems.join("; "))]
    Invalid { file: String, problems: Vec<String> },
}

/// Whether `d` is a real calendar date written `YYYY-MM-DD`.
pub fn is_date(d: &str) -> bool {
    d.len() == 10 && humantime::parse_rfc3339(&format!("{d}T00:00:00Z")).is_ok()
}

/// Today (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10].to_string()
}

impl Allowlist {
    /// Parses an allowlist file's text (TOML: `[[allow]]` tables), naming every bad entry by
    /// index and field; `file` names it in errors (its contents are never quoted).
    pub fn parse(file: &str, text: &str) -> Result<Allowlist, AllowlistError> {
        let list: Allowlist = toml::from_str(text)
            .map_err(|e| AllowlistError::Parse(file.to_string(), e.message().replace('\n', " ")))?;
        let mut problems = Vec::new();
        for (i, e) in list.entries.iter().enumerate() {
            for (field, value) in [
                ("id", &e.id),
                ("package", &e.package),
                ("reason", &e.reason),
            ] {
                if value.trim().is_empty() {
                    problems.push(format!("allow[{i}].{field}: must not be empty"));
                }
            }
            if !is_date(&e.expires) {
                problems.push(format!(
                    "allow[{i}].expires: {:?} is not a date like \"2027-06-30\"",
                    e.expires
                ));
            }
        }
        if problems.is_empty() {
            Ok(list)
        } else {
            Err(AllowlistError::Invalid {
                file: file.to_string(),
                problems,
            })
        }
    }

    fn covering(&self, f: &Finding) -> Option<&AllowEntry> {
        self.entries
            .iter()
            .find(|e| f.is_named(&e.id) && (e.package == f.package || e.package == f.matched))
    }
}

/// What fails a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    /// Findings at or above this fail.
    pub threshold: Severity,
    /// Only findings a fixed version exists for fail.
    pub fixed_only: bool,
    pub allowlist: Allowlist,
    /// `YYYY-MM-DD`, the day expiry is judged on.
    pub today: String,
}

/// What became of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Fails the release.
    Violation,
    /// Accepted by an allowlist entry that has not expired.
    Allowed,
    /// Below the threshold.
    BelowThreshold,
    /// No fix exists and the policy fails only fixable ones.
    NoFix,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judged {
    #[serde(flatten)]
    pub finding: Finding,
    pub disposition: Disposition,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_because: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub passed: bool,
    pub findings: Vec<Judged>,
    pub violations: usize,
    /// Allowlist entries past their date: each fails the scan.
    pub expired: Vec<AllowEntry>,
}

impl Policy {
    pub fn judge(&self, findings: Vec<Finding>) -> Verdict {
        let expired: Vec<AllowEntry> = self
            .allowlist
            .entries
            .iter()
            .filter(|e| e.expires.as_str() < self.today.as_str())
            .cloned()
            .collect();
        let findings: Vec<Judged> = findings
            .into_iter()
            .map(|f| {
                let entry = self
                    .allowlist
                    .covering(&f)
                    .filter(|e| e.expires.as_str() >= self.today.as_str());
                let disposition = if entry.is_some() {
                    Disposition::Allowed
                } else if f.severity.rank() < self.threshold {
                    Disposition::BelowThreshold
                } else if self.fixed_only && f.fixed.is_none() {
                    Disposition::NoFix
                } else {
                    Disposition::Violation
                };
                Judged {
                    allowed_because: entry.map(|e| format!("{} (until {})", e.reason, e.expires)),
                    finding: f,
                    disposition,
                }
            })
            .collect();
        let violations = findings
            .iter()
            .filter(|j| j.disposition == Disposition::Violation)
            .count();
        Verdict {
            passed: violations == 0 && expired.is_empty(),
            findings,
            violations,
            expired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, package: &str, severity: Severity, fixed: Option<&str>) -> Finding {
        Finding {
            id: id.into(),
            aliases: vec![format!("CVE-{id}")],
            summary: String::new(),
            package: package.into(),
            matched: format!("src-{package}"),
            installed: "1.0-1".into(),
            fixed: fixed.map(str::to_string),
            severity,
            severity_source: String::new(),
            ecosystem: "Debian:12".into(),
            purl: String::new(),
        }
    }

    fn policy(threshold: Severity, fixed_only: bool, allow: &str) -> Policy {
        Policy {
            threshold,
            fixed_only,
            allowlist: Allowlist::parse("allow.toml", allow).unwrap(),
            today: "2026-12-03".into(),
        }
    }

    #[test]
    fn threshold_fix_and_allowlist_decide() {
        let fs = vec![
            finding("A", "openssl", Severity::High, Some("1.0-2")),
            finding("B", "tar", Severity::Low, None),
            finding("C", "coreutils", Severity::Critical, None),
            finding("D", "bash", Severity::Unknown, Some("2")),
        ];
        let v = policy(Severity::Medium, false, "").judge(fs.clone());
        let d: Vec<Disposition> = v.findings.iter().map(|j| j.disposition).collect();
        use Disposition::*;
        assert_eq!(d, [Violation, BelowThreshold, Violation, BelowThreshold]);
        assert!(!v.passed);
        let v = policy(Severity::Medium, true, "").judge(fs.clone());
        assert_eq!(v.findings[2].disposition, NoFix);
        assert_eq!(v.violations, 1);
        // allowed by alias and by the source package name; unknown fails a low threshold
        let allow = "[[allow]]\nid = \"CVE-A\"\npackage = \"openssl\"\nreason = \"not reachable\"\nexpires = \"2027-01-31\"\n\
                     [[allow]]\nid = \"C\"\npackage = \"src-coreutils\"\nreason = \"chroot unused\"\nexpires = \"2026-12-03\"\n";
        let v = policy(Severity::Low, false, allow).judge(fs.clone());
        let d: Vec<Disposition> = v.findings.iter().map(|j| j.disposition).collect();
        assert_eq!(d, [Allowed, Violation, Allowed, Violation]);
        assert_eq!(
            v.findings[0].allowed_because.as_deref(),
            Some("not reachable (until 2027-01-31)")
        );
        assert!(v.expired.is_empty(), "an entry holds through its last day");
    }

    #[test]
    fn an_expired_entry_fails_even_when_nothing_else_does() {
        let allow = "[[allow]]\nid = \"CVE-2016-2781\"\npackage = \"coreutils\"\nreason = \"r\"\nexpires = \"2026-12-02\"\n";
        let v = policy(Severity::Critical, false, allow).judge(vec![]);
        assert!(!v.passed);
        assert_eq!(v.expired.len(), 1);
        assert_eq!(v.violations, 0);
    }

    #[test]
    fn bad_allowlists_name_entry_and_field() {
        let e = Allowlist::parse(
            "a.toml",
            "[[allow]]\nid = \"\"\npackage = \"p\"\nreason = \"r\"\nexpires = \"2027-02-30\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("a.toml: allow[0].id: must not be empty"), "{e}");
        assert!(
            e.contains("allow[0].expires: \"2027-02-30\" is not a date"),
            "{e}"
        );
        let e = Allowlist::parse("a.toml", "[[allow]]\nid = \"x\"\nwhy = 1\n").unwrap_err();
        assert!(e.to_string().starts_with("a.toml: "), "{e}");
    }
}
