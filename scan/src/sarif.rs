//! SARIF 2.1.0 for GitHub code scanning: one rule per advisory, one result per finding that
//! fails the policy or was accepted (accepted ones carry a suppression with the allowlist's
//! reason), located at the scanned SBOM. `security-severity` is the CVSS score when the record
//! has one, else the midpoint of the severity's band.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::policy::Disposition;
use crate::report::ScanReport;
use crate::severity::Severity;

const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn band(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "2.0",
        Severity::Unknown => "0.0",
    }
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// The severity score a finding's source names (`CVSS_V3 7.5`), else its band.
fn score(source: &str, s: Severity) -> String {
    source
        .strip_prefix("CVSS_")
        .and_then(|r| r.split_whitespace().nth(1))
        .map_or_else(|| band(s).to_string(), str::to_string)
}

/// The SARIF log of a scan; results point at what was scanned (the SBOM's path, or the host).
pub fn render(r: &ScanReport) -> Value {
    let mut rules = BTreeMap::new();
    let mut results = Vec::new();
    for j in &r.verdict.findings {
        if !matches!(j.disposition, Disposition::Violation | Disposition::Allowed) {
            continue;
        }
        let f = &j.finding;
        rules.entry(f.id.clone()).or_insert_with(|| {
            json!({
                "id": f.id,
                "name": f.id.replace('-', ""),
                "shortDescription": {"text": if f.summary.is_empty() { f.id.clone() } else { f.summary.clone() }},
                "helpUri": format!("https://osv.dev/vulnerability/{}", f.id),
                "properties": {
                    "security-severity": score(&f.severity_source, f.severity),
                    "tags": ["security", "vulnerability", f.ecosystem],
                    "aliases": f.aliases,
                },
            })
        });
        let mut result = json!({
            "ruleId": f.id,
            "level": level(f.severity),
            "message": {"text": format!(
                "{} {} is affected by {}{}; fixed in {}",
                f.package,
                f.installed,
                f.id,
                if f.aliases.is_empty() { String::new() } else { format!(" ({})", f.aliases.join(", ")) },
                f.fixed.as_deref().unwrap_or("no fixed version yet")
            )},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": r.target}}}],
            "partialFingerprints": {"amiforge/package-advisory": format!("{}:{}", f.purl, f.id)},
            "properties": {"package": f.package, "installed": f.installed, "fixed": f.fixed, "severity": f.severity, "purl": f.purl},
        });
        if let Some(why) = &j.allowed_because {
            result["suppressions"] = json!([{"kind": "external", "justification": why}]);
        }
        results.push(result);
    }
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "amiforge-scan",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/amiforge/packer-plugin-amiforge",
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "results": results,
        }],
    })
}
