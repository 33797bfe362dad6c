//! Finding what is vulnerable: the [`Matcher`] trait every backend implements (OSV offline here;
//! Amazon Inspector's ScanSbom is the other backend of the issue), and the OSV matcher over an
//! [`Index`]: one lookup per installed package, by its source package (what Debian's and
//! Ubuntu's advisories name) and by its own name.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::index::{Entry, Index};
use crate::inventory::Package;
use crate::osv::in_range;
use crate::severity::Severity;

/// One vulnerable package.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The advisory (`DSA-5532-1`, `DEBIAN-CVE-2016-2781`).
    pub id: String,
    pub aliases: Vec<String>,
    pub summary: String,
    /// The installed (binary) package.
    pub package: String,
    /// The name the advisory matched (the source package, or the package itself).
    pub matched: String,
    pub installed: String,
    /// The first version that fixes it; none when the distribution has no fix yet.
    pub fixed: Option<String>,
    pub severity: Severity,
    pub severity_source: String,
    pub ecosystem: String,
    pub purl: String,
}

impl Finding {
    /// Whether `id` names this finding (its advisory id or an alias such as the CVE).
    pub fn is_named(&self, id: &str) -> bool {
        self.id == id || self.aliases.iter().any(|a| a == id)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("{0}")]
    Backend(String),
}

/// A vulnerability backend.
pub trait Matcher {
    /// `osv` or `inspector`.
    fn name(&self) -> &'static str;
    /// The findings for `packages`, sorted by package then id.
    fn find(&self, packages: &[Package]) -> Result<Vec<Finding>, MatchError>;
}

/// Matching against an OSV database's index.
pub struct OsvMatcher<'a> {
    pub index: &'a Index,
}

/// The names a package is looked up by, with the version that goes with each.
fn names(p: &Package) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    if let Some(s) = &p.source {
        out.push((
            s.as_str(),
            p.source_version.as_deref().unwrap_or(&p.version),
        ));
    }
    if p.source.as_deref() != Some(p.name.as_str()) {
        out.push((p.name.as_str(), p.version.as_str()));
    }
    out
}

impl OsvMatcher<'_> {
    fn judge(&self, p: &Package, matched: &str, version: &str, e: &Entry) -> Option<Finding> {
        if !p.distro.matches(&e.ecosystem) {
            return None;
        }
        let fixed = if e.versions.iter().any(|v| v == version) {
            Some(None)
        } else {
            e.ranges
                .iter()
                .find_map(|events| in_range(p.distro.kind, events, version))
        }?;
        let a = self.index.advisory(e);
        Some(Finding {
            id: a.id.clone(),
            aliases: a.aliases.clone(),
            summary: a.summary.clone(),
            package: p.name.clone(),
            matched: matched.to_string(),
            installed: version.to_string(),
            fixed,
            severity: e.severity,
            severity_source: e.severity_source.clone(),
            ecosystem: e.ecosystem.clone(),
            purl: p.purl.clone(),
        })
    }

    fn finish(mut out: Vec<Finding>) -> Vec<Finding> {
        let mut seen = BTreeSet::new();
        out.retain(|f| seen.insert((f.package.clone(), f.id.clone())));
        out.sort_by(|a, b| (&a.package, &a.id).cmp(&(&b.package, &b.id)));
        out
    }

    /// The same findings without the index: every entry of the database against every package
    /// (what a scanner without an index does; `bench/scan.sh` compares the two).
    pub fn find_linear(&self, packages: &[Package]) -> Vec<Finding> {
        let mut out = Vec::new();
        for p in packages {
            for (matched, version) in names(p) {
                for (_, name, e) in self.index.all() {
                    if name == matched
                        && let Some(f) = self.judge(p, matched, version, e)
                    {
                        out.push(f);
                    }
                }
            }
        }
        Self::finish(out)
    }
}

impl Matcher for OsvMatcher<'_> {
    fn name(&self) -> &'static str {
        "osv"
    }

    fn find(&self, packages: &[Package]) -> Result<Vec<Finding>, MatchError> {
        let mut out = Vec::new();
        for p in packages {
            for (matched, version) in names(p) {
                for e in self.index.lookup(&p.distro, matched) {
                    out.extend(self.judge(p, matched, version, e));
                }
            }
        }
        Ok(Self::finish(out))
    }
}
