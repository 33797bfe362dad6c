//! `scan`: an SBOM's OS packages against an offline OSV database, judged by the policy flags;
//! the findings printed one per line, the reports written (JSON, SARIF, JUnit). Exit 0 clean,
//! 1 policy violated or an allowlist entry expired, 2 bad input or an unreadable database.

use std::path::{Path, PathBuf};
use std::time::Instant;

use amiforge_scan::database;
use amiforge_scan::matcher::{Matcher, OsvMatcher};
use amiforge_scan::policy::{Allowlist, Policy, today};
use amiforge_scan::report::{ScanReport, Source};
use amiforge_scan::{inventory, junit, sarif};

use super::args::ScanArgs;
use super::output;

/// Refused input: says what and where; exit 2.
fn refuse(flag: &str, problem: impl std::fmt::Display) -> i32 {
    eprintln!("amiforge-validator scan: {flag}: {problem}");
    2
}

fn default_cache() -> Option<PathBuf> {
    std::env::var_os("AMIFORGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/amiforge")))
        .map(|c| c.join("osv-index"))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

/// The reports asked for; 3 when one cannot be written.
fn write_reports(a: &ScanArgs, report: &ScanReport) -> Result<(), String> {
    if let Some(p) = &a.json {
        let mut bytes = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        write(p, &bytes)?;
    }
    if let Some(p) = &a.sarif {
        let doc = sarif::render(report, &a.sbom.display().to_string());
        let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        write(p, &bytes)?;
    }
    if let Some(p) = &a.junit {
        write(p, &junit::render(report).map_err(|e| e.to_string())?)?;
    }
    Ok(())
}

pub fn command(a: &ScanArgs) -> i32 {
    let sbom = match std::fs::read(&a.sbom) {
        Ok(b) => b,
        Err(e) => return refuse("--sbom", format!("{}: cannot read: {e}", a.sbom.display())),
    };
    let inv = match inventory::from_cyclonedx(&sbom) {
        Ok(i) => i,
        Err(e) => return refuse("--sbom", format!("{}: {e}", a.sbom.display())),
    };
    let allowlist = match &a.allowlist {
        None => Allowlist::default(),
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => match Allowlist::parse(&p.display().to_string(), &text) {
                Ok(l) => l,
                Err(e) => return refuse("--allowlist", e),
            },
            Err(e) => return refuse("--allowlist", format!("{}: cannot read: {e}", p.display())),
        },
    };
    let started = Instant::now();
    let cache = a.cache_dir.clone().or_else(default_cache);
    let db = match database::load(&a.osv, cache.as_deref()) {
        Ok(db) => db,
        Err(e) => return refuse("--osv", e),
    };
    let loaded = started.elapsed();
    let matcher = OsvMatcher { index: &db.index };
    let findings = match matcher.find(&inv.packages) {
        Ok(f) => f,
        Err(e) => return refuse("--osv", e),
    };
    let policy = Policy {
        threshold: a.severity,
        fixed_only: a.fixed_only,
        allowlist,
        today: today(),
    };
    let verdict = policy.judge(findings);
    let source = Source {
        backend: matcher.name().into(),
        digest: Some(db.index.digest.clone()),
        records: Some(db.index.records),
    };
    let report = ScanReport::new(
        &a.sbom.display().to_string(),
        source,
        policy,
        inv.packages.len(),
        inv.skipped.len(),
        verdict,
    );
    if !a.quiet {
        output::line(&format!(
            "scanned {} packages against {} OSV records (index {} in {} ms, matched in {} ms)",
            inv.packages.len(),
            db.index.records,
            if db.cached { "from cache" } else { "built" },
            loaded.as_millis(),
            (started.elapsed() - loaded).as_millis()
        ));
    }
    let lines = report.lines();
    let shown = if a.quiet {
        &lines[lines.len() - 1..]
    } else {
        &lines[..]
    };
    for l in shown {
        output::line(l);
    }
    if let Err(e) = write_reports(a, &report) {
        eprintln!("amiforge-validator scan: {e}");
        return 3;
    }
    if report.passed { 0 } else { 1 }
}
