//! The security scan on what a real build leaves: `amiforge-harden` (Packer 1.6.6) on Debian 12
//! and 13 sandboxes writes an SBOM whose purls carry the release (`distro=debian-12`) and the
//! source package (`upstream=openssl`); `amiforge-validator scan` matches it against the
//! hand-written fixture of real Debian advisories: the long-unfixed coreutils and tar CVEs are
//! found on today's packages with no fixed version, the openssl DSA (fixed long ago) is not, an
//! allowlist accepts them and an expired entry fails. `scan --ssh` lists what is really on a
//! running host (a package a later provisioner installed included) and finds the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use amiforge_e2e::harden::{build, template, workdir};
use amiforge_e2e::packer::Workdir;
use amiforge_e2e::sandbox::{Release, Sandbox};
use amiforge_e2e::{validator_bin, workspace};

fn fixture() -> PathBuf {
    workspace().join("scan/tests/fixtures/osv-debian")
}

/// Hardens the sandbox; the SBOM it wrote on the host.
fn sbom_of(sbx: &Sandbox) -> (Workdir, PathBuf) {
    let w = workdir();
    w.write(
        "t.pkr.hcl",
        &template(sbx, "", "    report_path = \"out/report.json\""),
    );
    build(&w).assert_ok();
    let sbom = w.path().join("out/report.sbom.cdx.json");
    (w, sbom)
}

fn scan(sbom: &Path, extra: &[&str]) -> (i32, String) {
    scan_target(&["--sbom", sbom.to_str().unwrap()], extra)
}

fn scan_target(target: &[&str], extra: &[&str]) -> (i32, String) {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(validator_bin())
        .arg("scan")
        .args(target)
        .arg("--osv")
        .arg(fixture())
        .arg("--cache-dir")
        .arg(cache.path())
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn scan_finds_the_unfixed_cves(release: Release) {
    let sbx = Sandbox::start_on(release);
    let (w, sbom) = sbom_of(&sbx);
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&sbom).unwrap()).unwrap();
    let purls: Vec<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    let distro = format!("distro=debian-{}", release.version_id());
    assert!(purls.iter().all(|p| p.contains(&distro)), "{purls:?}");
    let ssl = purls
        .iter()
        .find(|p| p.starts_with("pkg:deb/debian/libssl3"))
        .expect("libssl3 is installed (openssh needs it)");
    assert!(ssl.contains("upstream=openssl"), "{ssl}");

    let (code, out) = scan(&sbom, &["--severity", "low"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("VIOLATION: DEBIAN-CVE-2016-2781 coreutils "),
        "{out}"
    );
    assert!(
        out.contains("VIOLATION: DEBIAN-CVE-2005-2541 tar "),
        "{out}"
    );
    assert!(out.contains("fixed in no fixed version yet"), "{out}");
    assert!(
        !out.contains("DSA-5532-1"),
        "today's openssl has the fix: {out}"
    );
    assert!(
        out.contains("2 findings: 2 violating (severity >= low)"),
        "{out}"
    );
    // the default threshold (high) passes them
    assert_eq!(scan(&sbom, &[]).0, 0);

    let allow = w.path().join("allow.toml");
    let entry = |id: &str, pkg: &str, expires: &str| {
        format!(
            "[[allow]]\nid = \"{id}\"\npackage = \"{pkg}\"\nreason = \"reviewed\"\nexpires = \"{expires}\"\n"
        )
    };
    // both CVEs allowed, tar's entry until `tar_expires`
    let scan_allowing = |tar_expires: &str| {
        std::fs::write(
            &allow,
            entry("CVE-2016-2781", "coreutils", "2099-12-31")
                + &entry("CVE-2005-2541", "tar", tar_expires),
        )
        .unwrap();
        scan(
            &sbom,
            &["--severity", "low", "--allowlist", allow.to_str().unwrap()],
        )
    };
    let (code, out) = scan_allowing("2099-12-31");
    assert_eq!(code, 0, "{out}");
    let (code, out) = scan_allowing("2021-01-01");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("EXPIRED allowlist entry: CVE-2005-2541 for tar expired on 2021-01-01"),
        "{out}"
    );
}

#[test]
fn debian_12_sbom_scan_finds_the_unfixed_cves_and_not_the_fixed_one() {
    scan_finds_the_unfixed_cves(Release::Bookworm);
}

#[test]
fn debian_13_sbom_scan_finds_the_unfixed_cves_and_not_the_fixed_one() {
    scan_finds_the_unfixed_cves(Release::Trixie);
}

#[test]
fn a_running_host_is_scanned_for_what_is_really_installed() {
    let sbx = Sandbox::start_on(Release::Bookworm);
    let (w, sbom) = sbom_of(&sbx);
    // a later provisioner installs a package the harden SBOM never saw
    sbx.root_ok(
        "d=$(mktemp -d) && mkdir -p $d/DEBIAN && chmod -R 0755 $d && \
         printf 'Package: e2e-late\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: e2e <e2e@example.invalid>\\nDescription: late\\n' > $d/DEBIAN/control && \
         chmod 0644 $d/DEBIAN/control && dpkg-deb --build $d /tmp/late.deb >/dev/null && dpkg -i /tmp/late.deb >/dev/null",
    );
    let json = w.path().join("live.json");
    let dest = format!("admin@127.0.0.1:{}", sbx.port);
    let (code, out) = scan_target(
        &["--ssh", &dest, "--key", sbx.key.to_str().unwrap()],
        &["--severity", "low", "--json", json.to_str().unwrap()],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("VIOLATION: DEBIAN-CVE-2016-2781 coreutils "),
        "{out}"
    );
    assert!(
        out.contains("VIOLATION: DEBIAN-CVE-2005-2541 tar "),
        "{out}"
    );
    let live: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(live["target"], format!("ssh://{dest}"));
    let in_sbom = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&sbom).unwrap())
        .unwrap()["components"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        live["summary"]["packages"].as_u64().unwrap() as usize,
        in_sbom + 1,
        "the live inventory has the package installed after the SBOM was written"
    );
    // nothing listening: an infrastructure error, not a verdict
    let port = amiforge_e2e::free_port();
    let (code, out) = scan_target(
        &[
            "--ssh",
            &format!("admin@127.0.0.1:{port}"),
            "--key",
            sbx.key.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 3, "{out}");
}
