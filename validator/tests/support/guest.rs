//! Shared by the in-guest tests: root shells in a sandbox over the system ssh client, and a
//! sandbox hardened the way `amiforge-harden` does it (weakened first, the compiled enforce
//! script of `linux-baseline` run as root, the report built from its output and left as
//! evidence in /etc/amiforge/hardening.json).

use std::collections::BTreeMap;

use amiforge_e2e::sandbox::Sandbox;
use amiforge_profile::Mode;
use amiforge_profile::compile::compile;
use amiforge_profile::report::{self, Report, RunInfo};
use amiforge_profile::results::Collected;

/// Runs `script` with `sh` as root in the sandbox (as admin, through sudo); (exit, stdout, stderr).
pub fn root_sh(sbx: &Sandbox, script: &str) -> (i32, String, String) {
    let out = sbx.ssh("admin", "sudo -n sh -s", script);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Like [`root_sh`], asserting success.
pub fn root_ok(sbx: &Sandbox, script: &str) -> String {
    let (code, out, err) = root_sh(sbx, script);
    assert_eq!(code, 0, "{script}\nstdout: {out}\nstderr: {err}");
    out
}

/// A sloppy base image: root login, forwarding, a world-writable shadow file (before hardening).
pub const WEAKEN_BASE: &str = "sed -i 's/^#PermitRootLogin.*/PermitRootLogin yes/' /etc/ssh/sshd_config\n\
    echo net.ipv4.ip_forward=1 > /etc/sysctl.d/10-forwarding.conf\n\
    chmod 0666 /etc/shadow\n";

/// The same three weaknesses on a hardened machine (the managed sshd line flipped, a sysctl file
/// read after amiforge's, the shadow mode).
pub const WEAKEN_HARDENED: &str = "sed -i 's/^PermitRootLogin no$/PermitRootLogin yes/' /etc/ssh/sshd_config\n\
    echo net.ipv4.ip_forward=1 > /etc/sysctl.d/zz-forwarding.conf\n\
    chmod 0666 /etc/shadow\n";

/// The controls [`WEAKEN_HARDENED`] breaks.
pub const WEAKENED_CONTROLS: [&str; 3] = ["ssh-01", "net-01", "file-02"];

/// Weakens, hardens with linux-baseline (enforce) and leaves the evidence; returns the report
/// bytes (the manifest's `hardening.report_sha256` is their sha256).
pub fn harden(sbx: &Sandbox) -> (Report, Vec<u8>) {
    root_ok(sbx, WEAKEN_BASE);
    let loaded = amiforge_profile::builtin("linux-baseline").expect("built-in profile");
    let resolved =
        amiforge_profile::resolve(&loaded, Mode::Enforce, &[], &BTreeMap::new()).expect("resolve");
    let script = compile(&resolved);
    // the script reads the evidence archive from stdin: run it from a file with stdin closed
    // (the evidence is written below, as the provisioner's archive would install it)
    let run = format!(
        "cat > /root/harden.sh <<'AMIFORGE_TEST_EOF'\n{}AMIFORGE_TEST_EOF\nsh /root/harden.sh </dev/null\n",
        script.text
    );
    let (_, out, err) = root_sh(sbx, &run);
    let mut collected = Collected::default();
    for line in out.lines() {
        collected.push_line(line).expect("a result line parses");
    }
    assert!(
        collected.awaiting_evidence,
        "the enforce script did not get to its evidence step:\n{err}"
    );
    let info = RunInfo {
        source: amiforge_profile::report::BUILTIN_SOURCE,
        excluded: &[],
        script_sha256: &script.sha256,
        sbom_sha256: &amiforge_model::sha256_hex(b"{}"),
        build: BTreeMap::new(),
        generated_at: "2026-11-27T00:00:00Z".into(),
    };
    let report = report::build(&resolved, info, &collected).expect("report");
    assert_eq!(report.summary.failed, 0, "{:#?}", report.results);
    for id in WEAKENED_CONTROLS {
        let r = report.results.iter().find(|r| r.id == id).expect("result");
        assert_eq!(r.status, amiforge_profile::Status::Fixed, "{r:?}");
    }
    let mut bytes = serde_json::to_vec_pretty(&report).expect("json");
    bytes.push(b'\n');
    write_evidence(sbx, &bytes);
    (report, bytes)
}

/// Puts `bytes` at /etc/amiforge/hardening.json (0644).
pub fn write_evidence(sbx: &Sandbox, bytes: &[u8]) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    root_ok(
        sbx,
        &format!(
            "mkdir -p /etc/amiforge && chmod 0755 /etc/amiforge\n\
             printf '%s' '{b64}' | base64 -d > /etc/amiforge/hardening.json\n\
             chmod 0644 /etc/amiforge/hardening.json\n"
        ),
    );
}

/// The manifest's hardening record of a report (as amiforge-replicate writes it).
pub fn manifest_hardening(report: &Report, bytes: &[u8]) -> amiforge_model::manifest::Hardening {
    amiforge_model::manifest::Hardening {
        report_sha256: amiforge_model::sha256_hex(bytes),
        profile: report.profile.name.clone(),
        profile_sha256: report.profile.sha256.clone(),
        results_sha256: report.results_sha256.clone(),
        sbom_sha256: report.sbom.sha256.clone(),
    }
}
