//! `amiforge-validator scan` as users run it, against the hand-written OSV fixture of real Debian
//! advisories (`scan/tests/fixtures/osv-debian/`): exit 0 clean, 1 violated (or an allowlist entry
//! expired), 2 bad input; the finding lines; the JSON, SARIF 2.1.0 and JUnit reports.

use std::path::{Path, PathBuf};
use std::process::Command;

use amiforge_e2e::validator_bin;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scan/tests/fixtures/osv-debian")
}

/// Debian 12.0's versions of openssl, coreutils and tar.
const SBOM: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
  {"name":"libssl3","purl":"pkg:deb/debian/libssl3@3.0.9-1?arch=amd64&distro=debian-12&upstream=openssl"},
  {"name":"coreutils","purl":"pkg:deb/debian/coreutils@9.1-1?arch=amd64&distro=debian-12"},
  {"name":"tar","purl":"pkg:deb/debian/tar@1.34%2Bdfsg-1.2?arch=amd64&distro=debian-12"}
]}"#;

struct Scan {
    dir: tempfile::TempDir,
}

impl Scan {
    fn new() -> Scan {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sbom.json"), SBOM).unwrap();
        Scan { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `scan --sbom sbom.json --osv FIXTURE --cache-dir … ARGS`: (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(validator_bin())
            .arg("scan")
            .arg("--sbom")
            .arg(self.path("sbom.json"))
            .arg("--osv")
            .arg(fixture())
            .arg("--cache-dir")
            .arg(self.path("cache"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn a_violation_fails_with_exit_1_naming_package_versions_and_severity() {
    let s = Scan::new();
    let (code, out, err) = s.run(&[
        "--json",
        s.path("r.json").to_str().unwrap(),
        "--sarif",
        s.path("r.sarif").to_str().unwrap(),
        "--junit",
        s.path("r.xml").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("scanned 3 packages against 3 OSV records (index built"),
        "{out}"
    );
    assert!(out.contains(
        "VIOLATION: DSA-5532-1 libssl3 3.0.9-1 (openssl), fixed in 3.0.11-1~deb12u2, high [CVSS_V3 7.5]"
    ), "{out}");
    assert!(out.contains(
        "below threshold: DEBIAN-CVE-2016-2781 coreutils 9.1-1 (coreutils), fixed in no fixed version yet, low [distribution urgency low]"
    ), "{out}");
    assert!(
        out.contains(
            "security scan FAILED: 3 packages, 3 findings: 1 violating (severity >= high)"
        ),
        "{out}"
    );

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path("r.json")).unwrap()).unwrap();
    assert_eq!(report["schema"], "amiforge.scan-report/v1");
    assert_eq!(report["passed"], false);
    assert_eq!(report["summary"]["violations"], 1);
    assert_eq!(report["source"]["records"], 3);
    assert_eq!(report["findings"][1]["fixed"], "3.0.11-1~deb12u2");
    assert_eq!(report["findings"][1]["disposition"], "violation");

    let sarif: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.path("r.sarif")).unwrap()).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "amiforge-scan");
    assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "DSA-5532-1");
    assert_eq!(
        run["tool"]["driver"]["rules"][0]["properties"]["security-severity"],
        "7.5"
    );
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 1, "violations and accepted findings only");
    assert_eq!(results[0]["level"], "error");
    assert!(
        results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("sbom.json")
    );

    let junit = std::fs::read_to_string(s.path("r.xml")).unwrap();
    assert!(
        junit.contains(
            r#"<testsuite name="security-scan" tests="3" failures="1" errors="0" skipped="2">"#
        ),
        "{junit}"
    );
    assert!(
        junit.contains(r#"<testcase classname="security-scan.libssl3" name="DSA-5532-1 libssl3">"#),
        "{junit}"
    );
}

#[test]
fn thresholds_fix_filter_and_the_allowlist_decide_the_exit_code() {
    let s = Scan::new();
    let (code, out, _) = s.run(&["--severity", "critical"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("index built"), "{out}");
    assert!(out.contains("security scan passed"), "{out}");
    let (_, out, _) = s.run(&["--severity", "critical"]);
    assert!(
        out.contains("index from cache"),
        "the second run reads the cache: {out}"
    );
    let (code, out, _) = s.run(&["--severity", "low", "--fixed-only", "-q"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.lines().count(),
        1,
        "quiet prints the verdict only: {out}"
    );
    std::fs::write(
        s.path("allow.toml"),
        "[[allow]]\nid = \"CVE-2023-5363\"\npackage = \"openssl\"\nreason = \"rebuilt next cycle\"\nexpires = \"2099-01-31\"\n",
    )
    .unwrap();
    let allow = s.path("allow.toml");
    let (code, out, _) = s.run(&["--allowlist", allow.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("allowed: DSA-5532-1 libssl3")
            && out.contains(": rebuilt next cycle (until 2099-01-31)"),
        "{out}"
    );
    std::fs::write(
        &allow,
        "[[allow]]\nid = \"CVE-2023-5363\"\npackage = \"openssl\"\nreason = \"rebuilt next cycle\"\nexpires = \"2020-01-31\"\n",
    )
    .unwrap();
    let (code, out, _) = s.run(&[
        "--allowlist",
        allow.to_str().unwrap(),
        "--severity",
        "critical",
    ]);
    assert_eq!(
        code, 1,
        "an expired entry fails even when nothing else does: {out}"
    );
    assert!(
        out.contains("EXPIRED allowlist entry: CVE-2023-5363 for openssl expired on 2020-01-31"),
        "{out}"
    );
}

#[test]
fn bad_input_is_exit_2_naming_the_flag() {
    let s = Scan::new();
    let missing = s.path("no-such-db");
    let out = Command::new(validator_bin())
        .args(["scan", "--sbom"])
        .arg(s.path("sbom.json"))
        .arg("--osv")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("scan: --osv: "));
    std::fs::write(
        s.path("allow.toml"),
        "[[allow]]\nid = \"x\"\npackage = \"p\"\nreason = \"r\"\nexpires = \"soon\"\n",
    )
    .unwrap();
    let (code, _, err) = s.run(&["--allowlist", s.path("allow.toml").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--allowlist: ") && err.contains("allow[0].expires: \"soon\" is not a date"),
        "{err}"
    );
    let (code, _, err) = s.run(&["--severity", "urgent"]);
    assert_eq!(code, 2);
    assert!(err.contains("urgent"), "{err}");
    std::fs::write(s.path("sbom.json"), "{\"bomFormat\": \"SPDX\"}").unwrap();
    let (code, _, err) = s.run(&[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--sbom: ") && err.contains("not \"CycloneDX\""),
        "{err}"
    );
}
