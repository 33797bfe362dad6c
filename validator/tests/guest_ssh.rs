//! In-guest checks over real SSH against sandboxed Debian 12 and 13 (tests/sandbox): a machine
//! hardened with linux-baseline and carrying its evidence passes `check`; weakening it fails
//! `guest.hardening` naming the broken controls; a control whose file stays but whose effect is
//! gone (pam_faillock out of the stack, the post-quantum key exchange dropped) fails it too;
//! edited or missing evidence fails `guest.evidence`; user checks pass and fail on exit code and
//! output; an unreachable host is an infrastructure error (exit 3), never a pass. Library and
//! binary both.

mod support;

use support::guest as common;

use std::process::Command;
use std::time::Duration;

use amiforge_e2e::sandbox::{Release, Sandbox};
use amiforge_validator::events::Sink;
use amiforge_validator::guest::host::{HostCheck, check_host};
use amiforge_validator::guest::ssh::Address;
use amiforge_validator::guest::{Hardening, Plan};
use amiforge_validator_api::UserCheck;
use amiforge_validator_api::report::{Check, Report, Status, Verdict};
use tokio_util::sync::CancellationToken;

fn host(sbx: &Sandbox, plan: Plan) -> HostCheck {
    HostCheck {
        user: "admin".into(),
        address: Address {
            host: "127.0.0.1".into(),
            port: sbx.port,
        },
        key: sbx.key.clone(),
        plan,
        wait: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
    }
}

fn hardening(report_sha256: &str, profile_sha256: &str) -> Plan {
    Plan {
        hardening: Some(Hardening {
            report_sha256: Some(report_sha256.into()),
            profile_sha256: Some(profile_sha256.into()),
        }),
        ..Plan::default()
    }
}

async fn check(h: &HostCheck) -> Report {
    check_host(h, &Sink::none(), &CancellationToken::new()).await
}

fn get<'a>(r: &'a Report, name: &str) -> &'a Check {
    r.suites[0]
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in {r:#?}"))
}

fn user(name: &str, command: &str, exit: i32, output: Option<&str>) -> UserCheck {
    UserCheck {
        name: name.into(),
        command: command.into(),
        expect_exit: exit,
        expect_output: output.map(str::to_string),
    }
}

/// The binary's exit code and stdout for `check` with `args`.
fn binary(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_amiforge-validator"))
        .arg("check")
        .args(args)
        .output()
        .expect("run amiforge-validator");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// What the build left on the host: the evidence's bytes and digest, the profile's digest.
struct Built {
    bytes: Vec<u8>,
    sha: String,
    profile_sha: String,
}

impl Built {
    /// The plan a run checking this build's hardening gets.
    fn plan(&self) -> Plan {
        hardening(&self.sha, &self.profile_sha)
    }
}

/// The binary's `--ssh` destination and `--key` for the sandbox.
fn ssh_args(sbx: &Sandbox) -> (String, String) {
    (
        format!("admin@127.0.0.1:{}", sbx.port),
        sbx.key.display().to_string(),
    )
}

/// As built: evidence byte-exact, every control that held still holds, user checks pass.
async fn assert_as_built_passes(sbx: &Sandbox, built: &Built) {
    let mut plan = built.plan();
    plan.checks = vec![
        user("os", "cat /etc/os-release", 0, Some(r#"(?m)^ID=debian$"#)),
        user("no-telnet", "test -e /usr/sbin/in.telnetd", 1, None),
    ];
    let r = check(&host(sbx, plan)).await;
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    let names: Vec<&str> = r.suites[0].checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "guest.connect",
            "guest.evidence",
            "guest.hardening",
            "guest.user:os",
            "guest.user:no-telnet"
        ]
    );
    assert_eq!(
        get(&r, "guest.evidence").found,
        format!("sha256 {}", built.sha)
    );
    let audit = get(&r, "guest.hardening");
    assert!(
        audit.found.starts_with("audit results sha256 "),
        "{audit:?}"
    );
    assert_eq!(audit.found.len(), "audit results sha256 ".len() + 64);
    assert!(
        audit.message.contains("profile linux-baseline"),
        "{audit:?}"
    );
    // audit mode changed nothing: the evidence is still the build's
    assert_eq!(
        std::fs::read(sbx.file("/etc/amiforge/hardening.json")).unwrap(),
        built.bytes
    );
}

/// The binary agrees (exit 0), with JSON and JUnit written.
fn assert_the_binary_passes_and_writes_its_reports(sbx: &Sandbox, built: &Built) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    let junit = dir.path().join("r.xml");
    let (dest, key) = ssh_args(sbx);
    let (code, out) = binary(&[
        "--ssh",
        &dest,
        "--key",
        &key,
        "--report-sha256",
        &built.sha,
        "--profile-sha256",
        &built.profile_sha,
        "--json",
        json.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    let written: Report = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(written.verdict, Verdict::Passed);
    assert!(
        std::fs::read_to_string(&junit)
            .unwrap()
            .contains("guest.hardening")
    );
}

/// User checks fail on the exit code and on the output (and pass when both are as expected).
async fn assert_user_checks_fail_on_exit_code_and_output(sbx: &Sandbox) {
    let failing = Plan {
        checks: vec![
            user("exit", "exit 3", 0, None),
            user("regex", "echo hello", 0, Some("^bye")),
            user("both-ok", "echo hello; exit 2", 2, Some("^hel")),
        ],
        ..Plan::default()
    };
    let r = check(&host(sbx, failing)).await;
    assert_eq!(r.verdict, Verdict::GateFailed, "{r:#?}");
    let e = get(&r, "guest.user:exit");
    assert_eq!(
        (e.status, e.found.as_str()),
        (Status::Failed, "exit 3, no stdout")
    );
    let g = get(&r, "guest.user:regex");
    assert_eq!(g.status, Status::Failed);
    assert!(g.message.contains("does not match /^bye/"), "{g:?}");
    assert_eq!(get(&r, "guest.user:both-ok").status, Status::Passed);
}

/// With the three weaknesses back, the audit fails naming each control (library and binary).
async fn assert_drift_fails_naming_each_control(sbx: &Sandbox, built: &Built) {
    let r = check(&host(sbx, built.plan())).await;
    assert_eq!(r.verdict, Verdict::GateFailed, "{r:#?}");
    assert_eq!(get(&r, "guest.evidence").status, Status::Passed);
    let h = get(&r, "guest.hardening");
    assert_eq!(h.status, Status::Failed, "{h:?}");
    for id in common::WEAKENED_CONTROLS {
        assert!(
            h.message.contains(&format!("{id}: expected pass")),
            "{id}: {h:?}"
        );
    }
    assert!(h.message.starts_with("3 of "), "{h:?}");
    assert!(h.message.contains("found failed"), "{h:?}");
    let (dest, key) = ssh_args(sbx);
    let (code, out) = binary(&["--ssh", &dest, "--key", &key, "--report-sha256", &built.sha]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("ssh-01"), "{out}");
}

/// Evidence edited after the build (now `edited`) fails `guest.evidence`, naming what was found.
async fn assert_edited_evidence_fails(sbx: &Sandbox, built: &Built, edited: &[u8]) {
    let r = check(&host(sbx, built.plan())).await;
    let ev = get(&r, "guest.evidence");
    assert_eq!(ev.status, Status::Failed, "{ev:?}");
    assert!(
        ev.message.contains("is not the report the build wrote"),
        "{ev:?}"
    );
    assert_eq!(
        ev.found,
        format!("sha256 {}", amiforge_model::sha256_hex(edited))
    );
}

/// Missing evidence fails the gate, and the audit it would anchor is skipped.
async fn assert_missing_evidence_fails(sbx: &Sandbox, built: &Built) {
    let r = check(&host(sbx, built.plan())).await;
    assert_eq!(r.verdict, Verdict::GateFailed);
    let ev = get(&r, "guest.evidence");
    assert_eq!((ev.status, ev.found.as_str()), (Status::Failed, "missing"));
    assert!(
        ev.message
            .contains("/etc/amiforge/hardening.json is missing"),
        "{ev:?}"
    );
    assert_eq!(get(&r, "guest.hardening").status, Status::Skipped);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hardened_host_passes_and_every_kind_of_drift_is_caught() {
    let sbx = Sandbox::start();
    let (report, bytes) = common::harden(&sbx);
    let built = Built {
        sha: amiforge_model::sha256_hex(&bytes),
        profile_sha: report.profile.sha256.clone(),
        bytes,
    };

    // 1. as built: passes, and the binary agrees
    assert_as_built_passes(&sbx, &built).await;
    assert_the_binary_passes_and_writes_its_reports(&sbx, &built);

    // 2. user checks fail on the exit code and on the output
    assert_user_checks_fail_on_exit_code_and_output(&sbx).await;

    // 3. drift: the three weaknesses come back; the audit names each control
    common::root_ok(&sbx, common::WEAKEN_HARDENED);
    assert_drift_fails_naming_each_control(&sbx, &built).await;

    // 4. the evidence edited after the build
    let mut edited = built.bytes.clone();
    edited.insert(1, b' ');
    common::write_evidence(&sbx, &edited);
    assert_edited_evidence_fails(&sbx, &built, &edited).await;

    // 5. the evidence gone
    common::root_ok(&sbx, "rm -f /etc/amiforge/hardening.json\n");
    assert_missing_evidence_fails(&sbx, &built).await;
}

/// On Debian 13: as built the re-audit passes; then the files stay but their effect goes
/// (pam_faillock taken out of the stacks, a key exchange list without the post-quantum hybrid):
/// the gate fails naming every control that no longer does anything.
#[tokio::test(flavor = "multi_thread")]
async fn debian_13_reaudit_fails_controls_whose_effect_is_gone() {
    let sbx = Sandbox::start_on(Release::Trixie);
    let (report, bytes) = common::harden(&sbx);
    let built = Built {
        sha: amiforge_model::sha256_hex(&bytes),
        profile_sha: report.profile.sha256.clone(),
        bytes,
    };
    let r = check(&host(&sbx, built.plan())).await;
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");

    common::root_ok(
        &sbx,
        "pam-auth-update --disable amiforge-faillock amiforge-faillock-notify
         sed -i '1i KexAlgorithms curve25519-sha256' /etc/ssh/sshd_config
",
    );
    assert!(
        std::fs::read_to_string(sbx.file("/etc/security/faillock.conf"))
            .unwrap()
            .contains("deny = 5"),
        "faillock.conf stays as written"
    );
    let r = check(&host(&sbx, built.plan())).await;
    assert_eq!(r.verdict, Verdict::GateFailed, "{r:#?}");
    let h = get(&r, "guest.hardening");
    for id in ["pw-08", "pw-03", "pw-04", "ssh-20"] {
        assert!(
            h.message.contains(&format!("{id}: expected pass")),
            "{id}: {h:?}"
        );
    }
    assert!(h.message.starts_with("4 of "), "{h:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_host_is_an_error_not_a_pass() {
    // a port nothing listens on
    let port = amiforge_e2e::free_port();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, "not a key").unwrap();
    let h = HostCheck {
        user: "admin".into(),
        address: Address {
            host: "127.0.0.1".into(),
            port,
        },
        key: key.clone(),
        plan: Plan {
            hardening: Some(Hardening::default()),
            checks: vec![user("t", "true", 0, None)],
            ..Plan::default()
        },
        wait: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
    };
    let started = std::time::Instant::now();
    let r = check(&h).await;
    assert_eq!(r.verdict, Verdict::InfrastructureError, "{r:#?}");
    let c = get(&r, "guest.connect");
    assert_eq!(c.status, Status::Error);
    assert!(c.message.contains("Connection refused"), "{c:?}");
    assert!(c.message.contains("attempt(s)"), "retried: {c:?}");
    for n in ["guest.evidence", "guest.hardening", "guest.user:t"] {
        assert_eq!(get(&r, n).status, Status::Skipped, "{n}");
    }
    assert!(started.elapsed() < Duration::from_secs(15));
    let (code, out) = binary(&[
        "--ssh",
        &format!("admin@127.0.0.1:{port}"),
        "--key",
        key.to_str().unwrap(),
        "--wait",
        "1s",
    ]);
    assert_eq!(code, 3, "{out}");
    // bad input is 2, naming the flag
    let (code, out) = binary(&["--ssh", "nouser", "--key", key.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("--ssh"), "{out}");
}
