//! `check`: the in-guest checks against an existing host over SSH (no AWS): the hardening
//! evidence and audit (expected digests from `--manifest` or given), user checks; same reports
//! and exit codes as `run`.

use amiforge_model::digest::is_sha256;
use amiforge_validator::events::Event;
use amiforge_validator::guest::host::{HostCheck, check_host};
use amiforge_validator::guest::ssh::parse_destination;
use amiforge_validator::guest::{Hardening, Plan};
use amiforge_validator_api::request::{check::user_checks, files};
use amiforge_validator_api::{FieldErrors, Path};
use tokio_util::sync::CancellationToken;

use super::args::CheckArgs;
use super::{output, run::read_checks_file, signals};

/// The expected hardening: from the manifest, the given digests, or none (`--no-hardening`).
fn hardening(a: &CheckArgs, errs: &mut FieldErrors) -> Result<Option<Hardening>, FieldErrors> {
    for (flag, v) in [
        ("--report-sha256", &a.report_sha256),
        ("--profile-sha256", &a.profile_sha256),
    ] {
        if let Some(v) = v
            && !is_sha256(v)
        {
            errs.push(
                Path::fields(&[flag]),
                format!("{v:?} is not a sha256 (64 hex digits)"),
            );
        }
    }
    let Some(p) = &a.manifest else {
        return Ok((!a.no_hardening).then(|| Hardening {
            report_sha256: a.report_sha256.clone(),
            profile_sha256: a.profile_sha256.clone(),
        }));
    };
    let m = output::read_manifest(p)?;
    let Some(h) = &m.hardening else {
        return Err(FieldErrors::one(
            Path::fields(&["--manifest"]),
            format!(
                "{} records no hardening (no amiforge-harden report in the build); use \
                 --no-hardening to run only user checks",
                p.display()
            ),
        ));
    };
    Ok(Some(Hardening {
        report_sha256: Some(h.report_sha256.clone()),
        profile_sha256: Some(h.profile_sha256.clone()),
    }))
}

/// The host check the `check` arguments describe.
pub fn host_check(a: &CheckArgs) -> Result<HostCheck, FieldErrors> {
    let mut errs = FieldErrors::new();
    let dest = parse_destination(&a.ssh);
    if let Err(e) = &dest {
        errs.push(Path::fields(&["--ssh"]), e.clone());
    }
    if let Err(e) = std::fs::File::open(&a.key) {
        errs.push(
            Path::fields(&["--key"]),
            format!("cannot read {}: {e}", a.key.display()),
        );
    }
    let hardening = hardening(a, &mut errs)?;
    let mut checks = a.check.clone();
    if let Some(p) = &a.checks_file {
        checks.extend(read_checks_file(p)?);
    }
    user_checks(&checks, &Path::fields(&["--check"]), &mut errs);
    let profile = match &a.profile_file {
        None => None,
        Some(p) => match std::fs::read_to_string(p) {
            Err(e) => {
                errs.push(
                    Path::fields(&["--profile-file"]),
                    format!("cannot read {}: {e}", p.display()),
                );
                None
            }
            Ok(text) => {
                if let Err(e) = files::check_profile_text(&text) {
                    errs.push(Path::fields(&["--profile-file"]), e);
                }
                Some(text)
            }
        },
    };
    if hardening.is_none() && checks.is_empty() {
        errs.push(
            Path::fields(&["--no-hardening"]),
            "nothing left to check; give --check or --checks-file",
        );
    }
    errs.into_result()?;
    let (user, address) = dest.map_err(|e| FieldErrors::one(Path::fields(&["--ssh"]), e))?;
    Ok(HostCheck {
        user,
        address,
        key: a.key.clone(),
        plan: Plan {
            hardening,
            no_hardening: None,
            profile,
            checks,
            ..Plan::default()
        },
        wait: a.wait,
        connect_timeout: a.connect_timeout,
    })
}

pub async fn command(a: CheckArgs) -> i32 {
    let h = match host_check(&a) {
        Ok(h) => h,
        Err(e) => return output::bad_input(&e),
    };
    let cancel = CancellationToken::new();
    signals::watch(cancel.clone());
    let (sink, task) = if a.out.quiet {
        output::printer(|e| matches!(e, Event::Verdict { .. }))
    } else {
        output::printer(|_| true)
    };
    let report = check_host(&h, &sink, &cancel).await;
    drop(sink);
    let _ = task.await;
    output::write_reports(&report, a.out.json.as_deref(), a.out.junit.as_deref())
}
