//! The OSV matcher against the hand-written fixture of real Debian advisories
//! (`tests/fixtures/osv-debian/`, sources in its README): bookworm's release versions are found
//! with the right ids and fixed versions, a fixed version is not, the database loads the same
//! from a directory and a zip and its index is cached by digest, and the policy decides.

use std::io::Write;
use std::path::{Path, PathBuf};

use amiforge_scan::database::load;
use amiforge_scan::inventory::from_cyclonedx;
use amiforge_scan::matcher::{Finding, Matcher, OsvMatcher};
use amiforge_scan::policy::{Allowlist, Disposition, Policy};
use amiforge_scan::severity::Severity;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv-debian")
}

/// An SBOM of packages at the versions Debian 12.0 shipped, one at the fixed version, and one of
/// Debian 13 (not covered by the Debian 12 advisory).
const SBOM: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
  {"name":"libssl3","purl":"pkg:deb/debian/libssl3@3.0.9-1?arch=amd64&distro=debian-12&upstream=openssl"},
  {"name":"openssl","purl":"pkg:deb/debian/openssl@3.0.9-1?arch=amd64&distro=debian-12"},
  {"name":"coreutils","purl":"pkg:deb/debian/coreutils@9.1-1?arch=amd64&distro=debian-12"},
  {"name":"tar","purl":"pkg:deb/debian/tar@1.34%2Bdfsg-1.2?arch=amd64&distro=debian-12"},
  {"name":"libssl3t64","purl":"pkg:deb/debian/libssl3t64@3.5.1-1?arch=amd64&distro=debian-13&upstream=openssl"},
  {"name":"openssl-fixed","purl":"pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12"}
]}"#;

fn findings(db: &Path, cache: &Path) -> (Vec<Finding>, bool) {
    let loaded = load(db, Some(cache)).unwrap();
    let inv = from_cyclonedx(SBOM.as_bytes()).unwrap();
    let m = OsvMatcher {
        index: &loaded.index,
    };
    let found = m.find(&inv.packages).unwrap();
    assert_eq!(
        found,
        m.find_linear(&inv.packages),
        "index and linear scan agree"
    );
    (found, loaded.cached)
}

fn summary(fs: &[Finding]) -> Vec<(String, String, String, Option<String>, Severity)> {
    fs.iter()
        .map(|f| {
            (
                f.id.clone(),
                f.package.clone(),
                f.installed.clone(),
                f.fixed.clone(),
                f.severity,
            )
        })
        .collect()
}

#[test]
fn bookworm_release_versions_have_the_published_advisories() {
    let cache = tempfile::tempdir().unwrap();
    let (found, cached) = findings(&fixture(), cache.path());
    assert!(!cached);
    let fix = Some("3.0.11-1~deb12u2".to_string());
    assert_eq!(
        summary(&found),
        [
            (
                "DEBIAN-CVE-2016-2781".into(),
                "coreutils".into(),
                "9.1-1".into(),
                None,
                Severity::Low
            ),
            (
                "DSA-5532-1".into(),
                "libssl3".into(),
                "3.0.9-1".into(),
                fix.clone(),
                Severity::High
            ),
            (
                "DSA-5532-1".into(),
                "openssl".into(),
                "3.0.9-1".into(),
                fix,
                Severity::High
            ),
            (
                "DEBIAN-CVE-2005-2541".into(),
                "tar".into(),
                "1.34+dfsg-1.2".into(),
                None,
                Severity::Low
            ),
        ]
    );
    let ssl = &found[1];
    assert_eq!(ssl.matched, "openssl", "found through its source package");
    assert!(ssl.is_named("CVE-2023-5363"));
    assert_eq!(ssl.severity_source, "CVSS_V3 7.5");
    assert_eq!(found[0].severity_source, "distribution urgency low");
    // the second load comes from the cache, with the same answer
    let (again, cached) = findings(&fixture(), cache.path());
    assert!(cached);
    assert_eq!(again, found);
}

#[test]
fn a_zip_of_the_records_is_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("all.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
    for e in std::fs::read_dir(fixture()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(&std::fs::read(e.path()).unwrap()).unwrap();
    }
    zip.finish().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (from_zip, _) = findings(&zip_path, cache.path());
    let (from_dir, _) = findings(&fixture(), cache.path());
    assert_eq!(from_zip, from_dir);
    // not a database at all
    let e = load(&dir.path().join("nothing"), None).err().unwrap();
    assert!(e.to_string().contains("no such file"), "{e}");
    std::fs::write(dir.path().join("bad.zip"), b"not a zip").unwrap();
    let e = load(&dir.path().join("bad.zip"), None).err().unwrap();
    assert!(
        e.to_string()
            .contains("not a directory of OSV records nor a zip"),
        "{e}"
    );
}

#[test]
fn a_broken_record_names_its_file_without_quoting_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.json"), b"{\"id\": SECRET-CONTENT").unwrap();
    let e = load(dir.path(), None).err().unwrap().to_string();
    assert!(e.contains("x.json: not an OSV record"), "{e}");
    assert!(!e.contains("SECRET-CONTENT"), "{e}");
}

#[test]
fn the_policy_decides_on_the_fixture_findings() {
    let cache = tempfile::tempdir().unwrap();
    let (found, _) = findings(&fixture(), cache.path());
    let policy = |threshold, fixed_only, allow: &str| Policy {
        threshold,
        fixed_only,
        allowlist: Allowlist::parse("allow.toml", allow).unwrap(),
        today: "2026-12-03".into(),
    };
    let v = policy(Severity::High, false, "").judge(found.clone());
    assert_eq!(v.violations, 2, "the two openssl packages");
    let v = policy(Severity::Low, true, "").judge(found.clone());
    assert_eq!(v.violations, 2, "only the fixable ones");
    let v = policy(Severity::Low, false, "").judge(found.clone());
    assert_eq!(v.violations, 4);
    // accepted by CVE alias and source package; coreutils and tar by their own names
    let allow = r#"
[[allow]]
id = "CVE-2023-5363"
package = "openssl"
reason = "no TLS in the image's workloads; rebuilt next cycle"
expires = "2027-01-31"

[[allow]]
id = "CVE-2016-2781"
package = "coreutils"
reason = "chroot --userspec is not used; kernels >= 6.2 disable TIOCSTI"
expires = "2027-06-30"

[[allow]]
id = "CVE-2005-2541"
package = "tar"
reason = "documented tar behaviour"
expires = "2027-06-30"
"#;
    let v = policy(Severity::Low, false, allow).judge(found.clone());
    assert!(v.passed, "{v:#?}");
    assert!(
        v.findings
            .iter()
            .all(|j| j.disposition == Disposition::Allowed)
    );
    let expired = allow.replace("2027-01-31", "2026-11-30");
    let v = policy(Severity::Low, false, &expired).judge(found);
    assert!(!v.passed);
    assert_eq!(v.expired.len(), 1);
    assert_eq!(v.expired[0].id, "CVE-2023-5363");
    // the openssl findings are no longer covered either
    assert_eq!(v.violations, 2);
}
