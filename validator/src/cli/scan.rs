//! `scan`: an SBOM's OS packages (or a running host's, listed over SSH) against an offline OSV
//! database, judged by the policy flags; the findings printed one per line, the reports written
//! (JSON, SARIF, JUnit). Exit 0 clean, 1 policy violated or an allowlist entry expired, 2 bad
//! input or an unreadable database, 3 the host unreachable or a report not written.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use amiforge_scan::inventory::Inventory;
use amiforge_validator::guest::inventory as guest_inventory;
use amiforge_validator::guest::session::Session;
use amiforge_validator::guest::ssh::{Ssh, parse_destination};

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
        let doc = sarif::render(report);
        let mut bytes = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        write(p, &bytes)?;
    }
    if let Some(p) = &a.junit {
        write(p, &junit::render(report).map_err(|e| e.to_string())?)?;
    }
    Ok(())
}

/// What is scanned: (the report's target, its packages), or the exit code of a refusal.
async fn target(a: &ScanArgs) -> Result<(String, Inventory), i32> {
    if let Some(path) = &a.sbom {
        let bytes = std::fs::read(path)
            .map_err(|e| refuse("--sbom", format!("{}: cannot read: {e}", path.display())))?;
        let inv = inventory::from_cyclonedx(&bytes)
            .map_err(|e| refuse("--sbom", format!("{}: {e}", path.display())))?;
        return Ok((path.display().to_string(), inv));
    }
    let (Some(dest), Some(key)) = (&a.ssh, &a.key) else {
        return Err(refuse(
            "--sbom",
            "give --sbom FILE or --ssh USER@HOST --key FILE",
        ));
    };
    let (user, address) = parse_destination(dest).map_err(|e| refuse("--ssh", e))?;
    let session = Session::new().map_err(|e| refuse("--ssh", e))?;
    let t = Ssh {
        user: user.clone(),
        address: address.clone(),
        key: key.clone(),
        known_hosts: session.known_hosts("scan"),
        connect_timeout: Duration::from_secs(10),
        wait_until: Instant::now() + Duration::from_secs(10),
        command_timeout: Duration::from_secs(300),
    };
    match guest_inventory::collect(&t).await {
        Ok((_, inv)) => Ok((format!("ssh://{user}@{address}"), inv)),
        Err(e) => {
            eprintln!("amiforge-validator scan: --ssh {dest}: {e}");
            Err(3)
        }
    }
}

pub async fn command(a: &ScanArgs) -> i32 {
    let (target, inv) = match target(a).await {
        Ok(t) => t,
        Err(code) => return code,
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
        &target,
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
