//! `guest.hardening`: the build's hardening re-checked on the running instance. The profile
//! (built-in by the report's name, or the given file) must be the one the report names (same
//! sha256); it is resolved with the report's parameters and exclusions, compiled in audit mode
//! (changes nothing), run as root, and every control that held at build time (passed, was
//! fixed, or was configured to apply at boot) must hold now.

use amiforge_profile::compile::{Language, compile};
use amiforge_profile::evidence::LINUX_REPORT_PATH as REPORT_PATH;
use amiforge_profile::load::{self, Loaded, Source};
use amiforge_profile::report::Report;
use amiforge_profile::results::{Collected, ControlResult, Status as Ctl};
use amiforge_profile::{Mode, Os};

use amiforge_validator_api::report::{Check, Status};

use super::exec;
use super::transport::{Transport, last_line};

const N: &str = "guest.hardening";
/// Controls named one by one in a failure message; the rest are counted.
const NAMED: usize = 10;

fn error(expected: &str, m: impl Into<String>) -> Check {
    Check::new(N, Status::Error, expected, "not audited").with_message(m)
}

/// The profile to audit with: the given text, else the built-in the report names.
pub fn profile_for(report: &Report, given: Option<&str>) -> Result<Loaded, String> {
    if let Some(text) = given {
        return load::parse(Source::Given("guest.profile".into()), text.to_string())
            .map_err(|e| e.to_string());
    }
    let name = &report.profile.name;
    if !report.profile.is_builtin() {
        return Err(format!(
            "the image was hardened with the profile file {} ({name}); give that file as \
             guest.profile_file (--profile-file) to audit with it",
            report.profile.source
        ));
    }
    load::builtin(name).ok_or_else(|| {
        format!(
            "the image was hardened with the built-in profile {name:?}, which this validator \
             does not have (it has {}); give the profile as guest.profile_file (--profile-file)",
            load::builtin_names().join(", ")
        )
    })
}

/// Whether a control's outcome counts as holding.
fn holds(s: Ctl) -> bool {
    matches!(s, Ctl::Pass | Ctl::AppliesAtBoot)
}

/// Controls that held at build time and do not now: `id: expected …, found …`.
pub fn regressions(report: &Report, now: &[ControlResult]) -> (usize, Vec<String>) {
    let mut held = 0;
    let mut out = Vec::new();
    for b in &report.results {
        if !matches!(b.status, Ctl::Pass | Ctl::Fixed | Ctl::AppliesAtBoot) {
            continue;
        }
        held += 1;
        let expected = if b.status == Ctl::AppliesAtBoot {
            "pass or applies at boot"
        } else {
            "pass"
        };
        match now.iter().find(|r| r.id == b.id) {
            None => out.push(format!(
                "{}: expected {expected} (was {} at build), found not reported",
                b.id,
                b.status.label()
            )),
            Some(r) if !holds(r.status) => {
                let value = if r.before.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", r.before)
                };
                out.push(format!(
                    "{}: expected {expected} (was {} at build), found {}{value}",
                    b.id,
                    b.status.label(),
                    r.status.label()
                ));
            }
            Some(_) => {}
        }
    }
    (held, out)
}

/// The check. `evidence`: the bytes `guest.evidence` read (none: nothing to audit against).
pub async fn check<T: Transport>(
    t: &T,
    evidence: Option<&[u8]>,
    expect_profile_sha256: Option<&str>,
    profile: Option<&str>,
) -> Check {
    let expected = "every control that held at build time holds now";
    let Some(bytes) = evidence else {
        return Check::new(N, Status::Skipped, expected, "").with_message(format!(
            "no hardening report on the guest to audit against ({REPORT_PATH}; see guest.evidence)"
        ));
    };
    let report: Report = match serde_json::from_slice(bytes) {
        Ok(r) => r,
        Err(e) => {
            return Check::new(N, Status::Failed, expected, "no report").with_message(format!(
                "{REPORT_PATH} on {} is not a hardening report: {e}",
                t.describe()
            ));
        }
    };
    let (controls, script) = match audit_script(&report, expect_profile_sha256, profile) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Check::new(N, Status::Skipped, expected, "").with_message(
                "re-auditing Windows images in the guest is not supported yet; the evidence was checked",
            );
        }
        Err(e) => return error(expected, e),
    };
    match run_audit(t, &script, controls).await {
        Ok(run) => judge(t, &report, &run),
        Err(e) => error(expected, e),
    }
}

/// The build's profile (checked against the report's and the manifest's digests) compiled in
/// audit mode with the build's parameters and exclusions: (controls, sh script); `None` for a
/// Windows profile.
fn audit_script(
    report: &Report,
    expect_profile_sha256: Option<&str>,
    profile: Option<&str>,
) -> Result<Option<(usize, String)>, String> {
    let loaded = profile_for(report, profile)?;
    let here = amiforge_model::sha256_hex(loaded.text.as_bytes());
    if !here.eq_ignore_ascii_case(&report.profile.sha256) {
        return Err(format!(
            "profile digests differ: {} has sha256 {here}, the image's report names {} \
             (sha256 {}); audit with the exact profile the build used",
            loaded.source, report.profile.name, report.profile.sha256
        ));
    }
    if let Some(m) = expect_profile_sha256
        && !m.eq_ignore_ascii_case(&report.profile.sha256)
    {
        return Err(format!(
            "profile digests differ: the manifest says sha256 {m}, the image's report says {}",
            report.profile.sha256
        ));
    }
    if loaded.profile.profile.os != Os::Linux {
        return Ok(None);
    }
    let resolved = amiforge_profile::resolve(
        &loaded,
        Mode::Audit,
        &report.profile.excluded,
        &report.profile.parameters,
    )
    .map_err(|errs| {
        let e: Vec<String> = errs.iter().map(ToString::to_string).collect();
        format!(
            "the report's parameters/exclusions do not fit the profile: {}",
            e.join("; ")
        )
    })?;
    let script = compile(&resolved);
    if script.language != Language::Sh {
        return Err("the profile does not compile to a shell script".into());
    }
    Ok(Some((resolved.controls.len(), script.text)))
}

/// Runs the audit script as root and collects its result lines (all `controls` reported).
async fn run_audit<T: Transport>(
    t: &T,
    script: &str,
    controls: usize,
) -> Result<Collected, String> {
    let out = exec::run_root(t, script, true).await?;
    let mut run = Collected::default();
    let mut bad = Vec::new();
    for line in out.stdout.lines() {
        if let Err(e) = run.push_line(line) {
            bad.push(e);
        }
    }
    if !bad.is_empty() {
        return Err(format!(
            "the audit printed unusable lines: {}",
            bad.join("; ")
        ));
    }
    if !run.done || out.exit != 0 {
        return Err(format!(
            "the audit did not finish on {} (exit {}, {} of {controls} controls reported): {}",
            t.describe(),
            out.exit,
            run.results.len(),
            last_line(&out.stderr)
        ));
    }
    Ok(run)
}

/// Passed when every control that held at build time holds now; else failed, naming them.
fn judge<T: Transport>(t: &T, report: &Report, run: &Collected) -> Check {
    let found = format!(
        "audit results sha256 {}",
        amiforge_model::sha256_hex(run.results_text.as_bytes())
    );
    let (held, lost) = regressions(report, &run.results);
    let expected = format!("{held} control(s) that held at build time hold now");
    if lost.is_empty() {
        let s = amiforge_profile::Summary::of(&run.results);
        return Check::new(N, Status::Passed, expected, found).with_message(format!(
            "profile {} {} (sha256 {}): {} pass, {} apply at boot, {} failed, {} not applicable, {} not verifiable now",
            report.profile.name,
            report.profile.version,
            &report.profile.sha256[..report.profile.sha256.len().min(12)],
            s.pass,
            s.applies_at_boot,
            s.failed,
            s.not_applicable,
            s.not_verifiable
        ));
    }
    let mut m = format!(
        "{} of {held} control(s) that held at build time do not hold on {}: {}",
        lost.len(),
        t.describe(),
        lost.iter()
            .take(NAMED)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ")
    );
    if lost.len() > NAMED {
        m.push_str(&format!("; and {} more", lost.len() - NAMED));
    }
    Check::new(N, Status::Failed, expected, found).with_message(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use amiforge_profile::report::{ProfileRef, ResultEntry, SbomRef};
    use amiforge_profile::results::Facts;

    fn entry(id: &str, status: Ctl) -> ResultEntry {
        ResultEntry {
            id: id.into(),
            title: String::new(),
            severity: amiforge_profile::Severity::High,
            status,
            changed: false,
            before: String::new(),
            after: String::new(),
            detail: String::new(),
        }
    }

    fn now(id: &str, status: Ctl, before: &str) -> ControlResult {
        ControlResult {
            id: id.into(),
            status,
            changed: false,
            before: before.into(),
            after: before.into(),
            detail: String::new(),
        }
    }

    fn report(results: Vec<ResultEntry>) -> Report {
        Report {
            schema: String::new(),
            generated_at: String::new(),
            build: Default::default(),
            target: Facts::default(),
            profile: ProfileRef {
                name: "linux-baseline".into(),
                version: "1".into(),
                source: amiforge_profile::report::BUILTIN_SOURCE.into(),
                sha256: "x".into(),
                parameters: Default::default(),
                excluded: Vec::new(),
            },
            mode: Mode::Enforce,
            script_sha256: String::new(),
            results_sha256: String::new(),
            sbom: SbomRef {
                format: String::new(),
                file: String::new(),
                sha256: String::new(),
                components: 0,
            },
            summary: Default::default(),
            results,
        }
    }

    #[test]
    fn only_controls_that_held_at_build_time_must_hold_now() {
        let r = report(vec![
            entry("a", Ctl::Pass),
            entry("b", Ctl::Fixed),
            entry("c", Ctl::AppliesAtBoot),
            entry("d", Ctl::Failed),
            entry("e", Ctl::NotApplicable),
            entry("f", Ctl::Pass),
        ]);
        let audit = vec![
            now("a", Ctl::Pass, ""),
            now("b", Ctl::Failed, "yes"),
            now("c", Ctl::AppliesAtBoot, ""),
            now("d", Ctl::Failed, ""),
            now("e", Ctl::Failed, ""),
        ];
        let (held, lost) = regressions(&r, &audit);
        assert_eq!(held, 4);
        assert_eq!(
            lost,
            [
                "b: expected pass (was fixed at build), found failed (yes)",
                "f: expected pass (was pass at build), found not reported"
            ]
        );
        // not applicable now where it passed at build: something changed
        let (_, lost) = regressions(
            &report(vec![entry("a", Ctl::Pass)]),
            &[now("a", Ctl::NotApplicable, "")],
        );
        assert_eq!(lost.len(), 1);
    }

    #[test]
    fn a_profile_file_report_needs_the_file() {
        let mut r = report(Vec::new());
        assert!(profile_for(&r, None).is_ok());
        r.profile.name = "nope".into();
        assert!(
            profile_for(&r, None)
                .unwrap_err()
                .contains("guest.profile_file")
        );
        r.profile.source = "/src/my.toml".into();
        assert!(profile_for(&r, None).unwrap_err().contains("/src/my.toml"));
        // the profile comes as text: its errors say where, never quote it
        let e = profile_for(&r, Some("[profile\nname = \"secret-x\"")).unwrap_err();
        assert!(e.starts_with("guest.profile: line 1, column"), "{e}");
        assert!(!e.contains("secret-x"), "{e}");
    }
}
