//! `amiforge-harden` with real Packer 1.6.6 against sandboxed Debian 12 and 13 targets: an enforce run
//! fixes a deliberately weakened machine, a second run changes nothing, audit mode touches
//! nothing, the report and SBOM come back with correct digests and the same evidence is left on
//! the image. Bad input fails `packer validate` naming the attribute.

use amiforge_e2e::harden::{build, report, result, template, workdir};
use amiforge_e2e::packer::Workdir;
use amiforge_e2e::sandbox::{Release, Sandbox};
use amiforge_profile::report::Report;
use amiforge_profile::results::Status;

/// What each SSH login and the evidence legitimately change: not provisioning.
const NOISE: &[&str] = &[
    "var/log",
    "tmp",
    "run",
    "root/.ssh",
    "home/admin/.ssh",
    "var/lib/sudo",
];

/// Weakens the machine the way a sloppy base image would.
const WEAKEN: &str = r#"  provisioner "shell" {
    inline = [
      "sudo -n sed -i 's/^#PermitRootLogin.*/PermitRootLogin yes/' /etc/ssh/sshd_config",
      "echo net.ipv4.ip_forward=1 | sudo -n tee /etc/sysctl.d/10-forwarding.conf",
      "sudo -n chmod 0666 /etc/shadow",
    ]
  }
"#;

/// The enforce run fixed every failing control, the three weaknesses among them; kernel
/// parameters that cannot change live are "applies at boot", never passed.
fn assert_the_weaknesses_were_fixed(r1: &Report) {
    assert_eq!(
        r1.summary.failed,
        0,
        "{:#?}",
        r1.results
            .iter()
            .filter(|x| x.status == Status::Failed)
            .collect::<Vec<_>>()
    );
    assert!(r1.summary.total >= 60);
    assert_eq!(r1.summary.total, r1.results.len());
    let ssh = result(r1, "ssh-01");
    assert_eq!(
        (ssh.status, ssh.before.as_str(), ssh.after.as_str()),
        (Status::Fixed, "yes", "no")
    );
    let fwd = result(r1, "net-01");
    assert_eq!(fwd.status, Status::Fixed, "{fwd:?}");
    assert!(fwd.before.contains("persisted=1"), "{fwd:?}");
    let shadow = result(r1, "file-02");
    assert_eq!(shadow.status, Status::Fixed);
    assert!(
        shadow.before.contains("0666") && shadow.after.contains("0640"),
        "{shadow:?}"
    );
    // kernel parameters cannot change live here (/proc/sys is read-only): never silently passed
    assert_eq!(r1.target.proc_sys, "ro");
    let syncookies = result(r1, "net-03");
    assert_eq!(syncookies.status, Status::AppliesAtBoot, "{syncookies:?}");
}

/// The machine really changed, as the report says.
fn assert_the_machine_changed(sbx: &Sandbox) {
    let sshd = std::fs::read_to_string(sbx.file("/etc/ssh/sshd_config")).unwrap();
    // sshd uses the first value it reads: the first live PermitRootLogin line must say no
    let first = sshd
        .lines()
        .map(str::trim)
        .find(|l| !l.starts_with('#') && l.to_lowercase().starts_with("permitrootlogin"));
    assert_eq!(first, Some("PermitRootLogin no"), "{sshd}");
    let mode = std::fs::metadata(sbx.file("/etc/shadow")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o7777,
        0o640
    );
    assert!(
        std::fs::read_to_string(sbx.file("/etc/sysctl.d/10-forwarding.conf"))
            .unwrap()
            .contains("# net.ipv4.ip_forward=1")
    );
}

/// Digests: results as printed, SBOM bytes, sidecars; the same evidence is on the image.
fn assert_the_digests_match_and_the_evidence_is_on_the_image(
    sbx: &Sandbox,
    w: &Workdir,
    r1: &Report,
) {
    let report_bytes = std::fs::read(w.path().join("out/report.json")).unwrap();
    let sbom_bytes = std::fs::read(w.path().join("out/report.sbom.cdx.json")).unwrap();
    assert_eq!(r1.sbom.sha256, amiforge_model::sha256_hex(&sbom_bytes));
    let sidecar = std::fs::read_to_string(w.path().join("out/report.json.sha256")).unwrap();
    assert_eq!(
        sidecar,
        format!(
            "{}  report.json\n",
            amiforge_model::sha256_hex(&report_bytes)
        )
    );
    assert_eq!(
        std::fs::read(sbx.file("/etc/amiforge/hardening.json")).unwrap(),
        report_bytes
    );
    assert_eq!(
        std::fs::read(sbx.file("/etc/amiforge/sbom.cdx.json")).unwrap(),
        sbom_bytes
    );
    let sbom: serde_json::Value = serde_json::from_slice(&sbom_bytes).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    let components = sbom["components"].as_array().unwrap();
    assert_eq!(components.len(), r1.sbom.components);
    assert!(components.iter().any(|c| {
        c["name"] == "openssh-server"
            && c["purl"]
                .as_str()
                .unwrap()
                .starts_with("pkg:deb/debian/openssh-server@")
    }));
}

/// The script cleaned up after itself (nothing of it left in /tmp).
fn assert_no_script_left_behind(sbx: &Sandbox) {
    let leftovers: Vec<_> = std::fs::read_dir(sbx.file("/tmp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        leftovers
            .iter()
            .all(|n| !n.to_string_lossy().starts_with("amiforge-harden")),
        "{leftovers:?}"
    );
}

#[test]
fn enforce_fixes_a_weakened_machine_and_a_second_run_changes_nothing() {
    enforce_fixes_a_weakened_machine(Release::Bookworm);
}

#[test]
fn enforce_fixes_a_weakened_debian_13_and_a_second_run_changes_nothing() {
    enforce_fixes_a_weakened_machine(Release::Trixie);
}

fn enforce_fixes_a_weakened_machine(release: Release) {
    let sbx = Sandbox::start_on(release);
    let w = workdir();
    let harden = "    report_path = \"out/report.json\"";
    w.write("t.pkr.hcl", &template(&sbx, WEAKEN, harden));
    let out = build(&w);
    out.assert_ok()
        .assert_contains("amiforge-harden: profile linux-baseline 1.0.0 (enforce)");
    let r1 = report(&w.path().join("out/report.json"));
    assert_the_weaknesses_were_fixed(&r1);
    assert_the_machine_changed(&sbx);
    assert_the_digests_match_and_the_evidence_is_on_the_image(&sbx, &w, &r1);
    assert_no_script_left_behind(&sbx);

    // second run: everything already compliant, nothing changes on the machine
    let before = sbx.state_digest(&[NOISE, &["etc/amiforge"]].concat());
    w.write("t.pkr.hcl", &template(&sbx, "", harden));
    build(&w).assert_ok();
    let r2 = report(&w.path().join("out/report.json"));
    assert_eq!(
        (r2.summary.changed, r2.summary.fixed, r2.summary.failed),
        (0, 0, 0),
        "{:?}",
        r2.summary
    );
    for x in &r2.results {
        assert!(
            matches!(
                x.status,
                Status::Pass | Status::NotApplicable | Status::AppliesAtBoot
            ),
            "{x:?}"
        );
    }
    assert_eq!(r2.results_sha256.len(), 64);
    assert_eq!(r1.profile.sha256, r2.profile.sha256);
    assert_eq!(
        sbx.state_digest(&[NOISE, &["etc/amiforge"]].concat()),
        before,
        "the second run changed the machine"
    );
}

#[test]
fn audit_mode_changes_nothing_and_reports_what_is_wrong() {
    audit_mode_changes_nothing(Release::Bookworm);
}

#[test]
fn audit_mode_changes_nothing_on_debian_13() {
    audit_mode_changes_nothing(Release::Trixie);
}

fn audit_mode_changes_nothing(release: Release) {
    let sbx = Sandbox::start_on(release);
    let w = workdir();
    // weaken in a build of its own, then take the machine's fingerprint
    w.write(
        "t.pkr.hcl",
        &format!(
            "{}\nbuild {{\n  sources = [\"source.null.sbx\"]\n{WEAKEN}}}\n",
            sbx.null_source_hcl("sbx")
        ),
    );
    build(&w).assert_ok();
    let before = sbx.state_digest(NOISE);
    // default fail_on: failed controls fail the build, naming them
    w.write(
        "t.pkr.hcl",
        &template(
            &sbx,
            "",
            "    mode = \"audit\"\n    report_path = \"audit.json\"",
        ),
    );
    build(&w)
        .assert_failed()
        .assert_contains("ssh-01 (not compliant)");
    let r = report(&w.path().join("audit.json"));
    assert_eq!(r.summary.changed, 0);
    assert_eq!(r.summary.fixed, 0);
    assert_eq!(result(&r, "ssh-01").status, Status::Failed);
    assert_eq!(result(&r, "file-02").status, Status::Failed);
    assert!(result(&r, "file-02").before.contains("0666"));
    // fail_on = "never" keeps the build green with the same findings
    w.write(
        "t.pkr.hcl",
        &template(
            &sbx,
            "",
            "    mode = \"audit\"\n    fail_on = \"never\"\n    report_path = \"audit2.json\"",
        ),
    );
    build(&w).assert_ok();
    assert_eq!(
        report(&w.path().join("audit2.json")).summary.failed,
        r.summary.failed
    );
    assert_eq!(
        sbx.state_digest(NOISE),
        before,
        "audit mode changed the machine"
    );
    assert!(
        !sbx.file("/etc/amiforge").exists(),
        "audit mode must not leave evidence"
    );
}

#[test]
fn bad_input_fails_validate_naming_the_attribute() {
    let sbx = Sandbox::start();
    let w = workdir();
    std::fs::write(w.path().join("broken.toml"), "[profile]\nname = \"x\"\nversion = \"1\"\nos = \"linux\"\n[[control]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"high\"\nrationale = \"r\"\ncheck = { kind = \"sysctl\", key = \"k\" }\n").unwrap();
    let cases: &[(&str, &str)] = &[
        (
            "    exclude = [\"ssh-01\", \"ssh-99\"]",
            "exclude[1]: profile linux-baseline has no control \"ssh-99\"",
        ),
        (
            "    profile = \"nope-baseline\"",
            "profile: unknown profile \"nope-baseline\"",
        ),
        ("    profile = \"broken.toml\"", "profile: broken.toml"),
        (
            "    parameters = { ssh_max_auth_tries = \"many\" }",
            "parameters[\"ssh_max_auth_tries\"]: expected a int, got \"many\"",
        ),
        (
            "    parameters = { no_such_knob = \"1\" }",
            "parameters[\"no_such_knob\"]: profile linux-baseline has no parameter",
        ),
        ("    mode = \"fix\"", "mode: \"fix\" is not a mode"),
        ("    fail_on = \"sometimes\"", "fail_on: \"sometimes\""),
        (
            "    execute_command = \"sudo sh\"",
            "execute_command: must contain {{.Path}}",
        ),
    ];
    for (attr, want) in cases {
        w.write("t.pkr.hcl", &template(&sbx, "", attr));
        w.packer(&["validate", "t.pkr.hcl"])
            .assert_failed()
            .assert_contains(want);
    }
    // the malformed profile's message points into the file
    w.write(
        "t.pkr.hcl",
        &template(&sbx, "", "    profile = \"broken.toml\""),
    );
    w.packer(&["validate", "t.pkr.hcl"])
        .assert_contains("missing field `value`");
}
