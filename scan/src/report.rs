//! The scan report (`--json`, schema `amiforge.scan-report/v1`) and the lines a person reads:
//! what was scanned against what, under which policy, every finding with its package, installed
//! and fixed versions, severity and what became of it.

use serde::Serialize;

use crate::policy::{Disposition, Policy, Verdict};

pub const SCHEMA: &str = "amiforge.scan-report/v1";

/// The database (or service) the findings came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Source {
    /// `osv` or `inspector`.
    pub backend: String,
    /// The database's digest (OSV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Records in the database (OSV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub records: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub packages: usize,
    /// Components that are not OS packages of a known distribution (left to other scanners).
    pub skipped_components: usize,
    pub findings: usize,
    pub violations: usize,
    pub allowed: usize,
    pub below_threshold: usize,
    pub no_fix: usize,
    pub expired_allowlist_entries: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    pub schema: &'static str,
    /// What was scanned: the SBOM's path, or `REGION:AMI`.
    pub target: String,
    pub source: Source,
    pub policy: Policy,
    pub passed: bool,
    pub summary: Summary,
    #[serde(flatten)]
    pub verdict: Verdict,
}

impl ScanReport {
    pub fn new(
        target: &str,
        source: Source,
        policy: Policy,
        packages: usize,
        skipped: usize,
        verdict: Verdict,
    ) -> ScanReport {
        let count = |d| {
            verdict
                .findings
                .iter()
                .filter(|j| j.disposition == d)
                .count()
        };
        let summary = Summary {
            packages,
            skipped_components: skipped,
            findings: verdict.findings.len(),
            violations: verdict.violations,
            allowed: count(Disposition::Allowed),
            below_threshold: count(Disposition::BelowThreshold),
            no_fix: count(Disposition::NoFix),
            expired_allowlist_entries: verdict.expired.len(),
        };
        ScanReport {
            schema: SCHEMA,
            target: target.to_string(),
            source,
            passed: verdict.passed,
            policy,
            summary,
            verdict,
        }
    }

    /// One line per finding and expired entry, then the verdict line.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for j in &self.verdict.findings {
            let f = &j.finding;
            let what = match j.disposition {
                Disposition::Violation => "VIOLATION",
                Disposition::Allowed => "allowed",
                Disposition::BelowThreshold => "below threshold",
                Disposition::NoFix => "no fix yet",
            };
            out.push(format!(
                "{what}: {} {} {} ({}), fixed in {}, {} [{}]{}",
                f.id,
                f.package,
                f.installed,
                f.matched,
                f.fixed.as_deref().unwrap_or("no fixed version yet"),
                f.severity,
                f.severity_source,
                j.allowed_because
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ));
        }
        for e in &self.verdict.expired {
            out.push(format!(
                "EXPIRED allowlist entry: {} for {} expired on {} ({}): review it, renew or remove it",
                e.id, e.package, e.expires, e.reason
            ));
        }
        let s = &self.summary;
        out.push(format!(
            "security scan {}: {} packages, {} findings: {} violating (severity >= {}{}), {} allowed, {} below threshold, {} without a fix, {} expired allowlist entries",
            if self.passed { "passed" } else { "FAILED" },
            s.packages,
            s.findings,
            s.violations,
            self.policy.threshold,
            if self.policy.fixed_only { ", fixed only" } else { "" },
            s.allowed,
            s.below_threshold,
            s.no_fix,
            s.expired_allowlist_entries
        ));
        out
    }
}
