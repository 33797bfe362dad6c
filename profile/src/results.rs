//! What the compiled script reports, parsed: one result per control, the target's facts and
//! its package inventory. Lines are tagged so they can share stdout with nothing else:
//! `AMIFORGE-FACTS {json}`, `AMIFORGE-RESULT {json}`, `AMIFORGE-PKG <tab-separated>`.

use serde::{Deserialize, Serialize};

pub const FACTS: &str = "AMIFORGE-FACTS ";
pub const RESULT: &str = "AMIFORGE-RESULT ";
pub const PKG: &str = "AMIFORGE-PKG ";
/// Printed (enforce mode) when the script waits for the evidence archive on stdin.
pub const AWAIT_EVIDENCE: &str = "AMIFORGE-AWAIT-EVIDENCE";
/// Printed last by a script that ran to the end.
pub const DONE: &str = "AMIFORGE-DONE";

/// How a control ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Compliant before anything was done.
    Pass,
    /// Was not compliant; fixed and re-checked.
    Fixed,
    /// Not compliant after the run (audit mode: not compliant).
    Failed,
    /// Does not apply here (platform, not installed, excluded, opt-in).
    NotApplicable,
    /// Configured (persisted) but cannot take effect live here, e.g. read-only /proc/sys: it
    /// applies when an instance boots from the image.
    AppliesAtBoot,
    /// Configured, but its effect cannot be confirmed on this target (the tool that would show
    /// it is missing, or a control it depends on does not apply here).
    NotVerifiable,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fixed => "fixed",
            Status::Failed => "failed",
            Status::NotApplicable => "not applicable",
            Status::AppliesAtBoot => "applies at boot",
            Status::NotVerifiable => "not verifiable here",
        }
    }
}

/// One control's outcome, as the script printed it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ControlResult {
    pub id: String,
    pub status: Status,
    /// Whether the run changed the target for this control.
    pub changed: bool,
    pub before: String,
    pub after: String,
    pub detail: String,
}

/// The target as the script saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct Facts {
    pub os_id: String,
    #[serde(default)]
    pub os_like: String,
    pub os_version: String,
    pub kernel: String,
    pub arch: String,
    /// `systemd` when systemd runs as PID 1, else `none` (chroot, container, sandbox).
    pub init: String,
    /// `rw` or `ro`: whether kernel parameters can change live.
    pub proc_sys: String,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// `deb` or `rpm`.
    pub ecosystem: String,
    pub name: String,
    pub version: String,
    pub arch: String,
    /// deb: the source package (what Debian's advisories name); rpm: the source rpm's file
    /// name. Empty when the target did not say.
    pub source: String,
    /// deb: the source package's version (differs on binNMUs).
    pub source_version: String,
}

impl Package {
    /// The package as [`amiforge_model::purl`] names it on the target `facts` describe: what
    /// the harden SBOM and the validator's in-guest inventory both write their purls from.
    pub fn os_package<'a>(&'a self, facts: &'a Facts) -> amiforge_model::purl::OsPackage<'a> {
        amiforge_model::purl::OsPackage {
            kind: &self.ecosystem,
            os_id: &facts.os_id,
            os_version: &facts.os_version,
            name: &self.name,
            version: &self.version,
            arch: &self.arch,
            source: &self.source,
            source_version: &self.source_version,
        }
    }
}

/// Counts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub pass: usize,
    pub fixed: usize,
    pub failed: usize,
    pub not_applicable: usize,
    pub applies_at_boot: usize,
    #[serde(default)]
    pub not_verifiable: usize,
    /// Controls whose run changed the target.
    pub changed: usize,
    pub total: usize,
}

impl Summary {
    pub fn of(results: &[ControlResult]) -> Summary {
        let mut s = Summary::default();
        for r in results {
            match r.status {
                Status::Pass => s.pass += 1,
                Status::Fixed => s.fixed += 1,
                Status::Failed => s.failed += 1,
                Status::NotApplicable => s.not_applicable += 1,
                Status::AppliesAtBoot => s.applies_at_boot += 1,
                Status::NotVerifiable => s.not_verifiable += 1,
            }
            s.changed += usize::from(r.changed);
            s.total += 1;
        }
        s
    }
}

/// Everything one script run printed, collected line by line.
#[derive(Debug, Clone, Default)]
pub struct Collected {
    pub facts: Option<Facts>,
    pub results: Vec<ControlResult>,
    /// The exact `AMIFORGE-RESULT` payload lines, newline-terminated: what `results_sha256`
    /// covers, so anyone can recompute it from the report's source.
    pub results_text: String,
    pub packages: Vec<Package>,
    pub awaiting_evidence: bool,
    /// Where the script wants the evidence uploaded (Windows); `None`: on its stdin (Linux).
    pub evidence_path: Option<String>,
    pub done: bool,
    /// Lines that were not ours (shown to the user, never parsed).
    pub other: Vec<String>,
}

impl Collected {
    /// Takes one stdout line; returns an error for a tagged line that does not parse (a bug
    /// or tampering: the run must not pass on it).
    pub fn push_line(&mut self, line: &str) -> Result<(), String> {
        if let Some(j) = line.strip_prefix(RESULT) {
            let r: ControlResult =
                serde_json::from_str(j).map_err(|e| format!("bad result line {j:?}: {e}"))?;
            self.results_text.push_str(j);
            self.results_text.push('\n');
            self.results.push(r);
        } else if let Some(j) = line.strip_prefix(FACTS) {
            self.facts =
                Some(serde_json::from_str(j).map_err(|e| format!("bad facts line {j:?}: {e}"))?);
        } else if let Some(p) = line.strip_prefix(PKG) {
            // ecosystem, name, version, arch[, source[, source version]]
            let f: Vec<&str> = p.split('\t').collect();
            if !(4..=6).contains(&f.len()) {
                return Err(format!("bad package line {p:?}"));
            }
            let field = |i: usize| f.get(i).map_or(String::new(), |s| s.to_string());
            self.packages.push(Package {
                ecosystem: field(0),
                name: field(1),
                version: field(2),
                arch: field(3),
                source: field(4),
                source_version: field(5),
            });
        } else if line == AWAIT_EVIDENCE {
            self.awaiting_evidence = true;
        } else if let Some(path) = line
            .strip_prefix(AWAIT_EVIDENCE)
            .and_then(|r| r.strip_prefix(' '))
        {
            // Windows: the script waits for the evidence to be uploaded to this path
            self.awaiting_evidence = true;
            self.evidence_path = Some(path.to_string());
        } else if line == DONE {
            self.done = true;
        } else {
            self.other.push(line.to_string());
        }
        Ok(())
    }
}
