//! The hardening report and the package inventory (CycloneDX SBOM) built from one run.
//!
//! The report carries sha256 digests of the exact profile bytes, the generated script, the
//! result lines as the target printed them and the SBOM, so later stages (replicate, validate)
//! can tell whether an image was hardened with what, and prove nothing was edited since.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::resolve::Resolved;
use crate::results::{Collected, Facts, Package, Status, Summary};

/// Version tag of the report format.
pub const SCHEMA: &str = "amiforge.hardening-report/v1";

/// [`ProfileRef::source`] of a built-in profile (any other value is the profile file's path).
pub const BUILTIN_SOURCE: &str = "built-in";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileRef {
    pub name: String,
    pub version: String,
    /// [`BUILTIN_SOURCE`] or the file path it was loaded from.
    pub source: String,
    /// sha256 of the profile file's exact bytes.
    pub sha256: String,
    pub parameters: BTreeMap<String, String>,
    pub excluded: Vec<String>,
}

impl ProfileRef {
    /// Whether the run used a built-in profile (found again by [`ProfileRef::name`]).
    pub fn is_builtin(&self) -> bool {
        self.source == BUILTIN_SOURCE
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultEntry {
    pub id: String,
    pub title: String,
    pub severity: crate::model::Severity,
    pub status: Status,
    pub changed: bool,
    pub before: String,
    pub after: String,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SbomRef {
    pub format: String,
    pub file: String,
    pub sha256: String,
    pub components: usize,
}

/// The report (host copy and on-image evidence are the same bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub generated_at: String,
    pub build: BTreeMap<String, String>,
    pub target: Facts,
    pub profile: ProfileRef,
    pub mode: crate::model::Mode,
    pub script_sha256: String,
    /// sha256 of the `AMIFORGE-RESULT` payload lines exactly as printed (each `\n`-terminated).
    pub results_sha256: String,
    pub sbom: SbomRef,
    pub summary: Summary,
    pub results: Vec<ResultEntry>,
}

/// Problems that make a run's output unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("the script printed no facts line (it did not start properly)")]
    NoFacts,
    #[error("control {0} reported twice")]
    Duplicate(String),
    #[error("the script reported a control the profile does not have: {0}")]
    Unknown(String),
    #[error("no result for control(s) {0}: the script stopped early")]
    Missing(String),
}

/// What the caller knows about the run besides the script's output.
#[derive(Debug, Clone)]
pub struct RunInfo<'a> {
    /// [`BUILTIN_SOURCE`] or the profile file path ([`crate::Source::report_source`]).
    pub source: &'a str,
    pub excluded: &'a [String],
    pub script_sha256: &'a str,
    pub sbom_sha256: &'a str,
    pub build: BTreeMap<String, String>,
    pub generated_at: String,
}

/// Builds the report from a run's output. Every control of the profile must be reported once.
pub fn build(r: &Resolved, info: RunInfo<'_>, run: &Collected) -> Result<Report, ReportError> {
    let facts = run.facts.clone().ok_or(ReportError::NoFacts)?;
    let mut seen = std::collections::BTreeSet::new();
    let mut results = Vec::new();
    for res in &run.results {
        if !seen.insert(res.id.clone()) {
            return Err(ReportError::Duplicate(res.id.clone()));
        }
        let planned = r
            .get(&res.id)
            .ok_or_else(|| ReportError::Unknown(res.id.clone()))?;
        results.push(ResultEntry {
            id: res.id.clone(),
            title: planned.control.title.clone(),
            severity: planned.control.severity,
            status: res.status,
            changed: res.changed,
            before: res.before.clone(),
            after: res.after.clone(),
            detail: res.detail.clone(),
        });
    }
    let missing: Vec<&str> = r
        .controls
        .iter()
        .map(|p| p.control.id.as_str())
        .filter(|id| !seen.contains(*id))
        .collect();
    if !missing.is_empty() {
        return Err(ReportError::Missing(missing.join(", ")));
    }
    Ok(Report {
        schema: SCHEMA.to_string(),
        generated_at: info.generated_at,
        build: info.build,
        target: facts,
        profile: ProfileRef {
            name: r.name.clone(),
            version: r.version.clone(),
            source: info.source.to_string(),
            sha256: r.profile_sha256.clone(),
            parameters: r.parameters.clone(),
            excluded: info.excluded.to_vec(),
        },
        mode: r.mode,
        script_sha256: info.script_sha256.to_string(),
        results_sha256: amiforge_model::sha256_hex(run.results_text.as_bytes()),
        sbom: SbomRef {
            format: "CycloneDX 1.5 JSON".into(),
            file: crate::evidence::SBOM_FILE.into(),
            sha256: info.sbom_sha256.to_string(),
            components: run.packages.len(),
        },
        summary: Summary::of(&run.results),
        results,
    })
}

/// The package inventory as a CycloneDX 1.5 SBOM (pretty JSON bytes). Package URLs are
/// [`amiforge_model::purl::os_package`]'s, with the `distro` and `upstream` qualifiers scanners
/// match on.
pub fn sbom(facts: &Facts, packages: &[Package], timestamp: &str, serial: &str) -> Vec<u8> {
    let components: Vec<serde_json::Value> = packages
        .iter()
        .map(|p| {
            let purl = amiforge_model::purl::os_package(&p.os_package(facts));
            let mut c = serde_json::json!({
                "type": "library",
                "name": p.name,
                "version": p.version,
                "properties": [{"name": "amiforge:arch", "value": p.arch}],
            });
            if let Some(purl) = purl {
                c["bom-ref"] = purl.clone().into();
                c["purl"] = purl.into();
            }
            c
        })
        .collect();
    let doc = serde_json::json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{serial}"),
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "name": "amiforge-harden", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {
                "type": "operating-system",
                "name": facts.os_id,
                "version": facts.os_version,
                "properties": [
                    {"name": "amiforge:kernel", "value": facts.kernel},
                    {"name": "amiforge:arch", "value": facts.arch},
                ],
            },
        },
        "components": components,
    });
    let mut out = serde_json::to_vec_pretty(&doc).unwrap_or_default();
    out.push(b'\n');
    out
}
