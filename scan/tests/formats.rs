//! The documents the scan reads and writes, checked by libraries built from their
//! specifications: the SARIF log deserializes into `serde-sarif`'s types (generated from the
//! OASIS SARIF 2.1.0 JSON schema at build time), and an SBOM written by amiforge's one purl
//! writer (`amiforge_model::purl`, what the harden SBOM uses) passes `cyclonedx-bom`'s CycloneDX
//! 1.5 validation (purls, bom-refs, structure) and reads back as the same packages.

use std::path::Path;

use amiforge_scan::database::load;
use amiforge_scan::inventory::from_cyclonedx;
use amiforge_scan::matcher::{Matcher, OsvMatcher};
use amiforge_scan::policy::{Allowlist, Policy};
use amiforge_scan::report::{ScanReport, Source};
use amiforge_scan::severity::Severity;

const SBOM: &str = r#"{"bomFormat":"CycloneDX","specVersion":"1.5","components":[
  {"name":"libssl3","purl":"pkg:deb/debian/libssl3@3.0.9-1?arch=amd64&distro=debian-12&upstream=openssl"},
  {"name":"coreutils","purl":"pkg:deb/debian/coreutils@9.1-1?arch=amd64&distro=debian-12"}
]}"#;

fn report(allow: &str) -> ScanReport {
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/osv-debian");
    let loaded = load(&db, None).unwrap();
    let inv = from_cyclonedx(SBOM.as_bytes()).unwrap();
    let found = OsvMatcher {
        index: &loaded.index,
    }
    .find(&inv.packages)
    .unwrap();
    let policy = Policy {
        threshold: Severity::Low,
        fixed_only: false,
        allowlist: Allowlist::parse("a.toml", allow).unwrap(),
        today: "2026-12-03".into(),
    };
    let verdict = policy.judge(found);
    let source = Source {
        backend: "osv".into(),
        digest: Some(loaded.index.digest.clone()),
        records: Some(loaded.index.records),
    };
    ScanReport::new("sbom.json", source, policy, inv.packages.len(), 0, verdict)
}

#[test]
fn the_sarif_log_is_a_sarif_2_1_0_log() {
    let allow = "[[allow]]\nid = \"CVE-2016-2781\"\npackage = \"coreutils\"\nreason = \"unused\"\nexpires = \"2027-01-01\"\n";
    let doc = amiforge_scan::sarif::render(&report(allow));
    let text = serde_json::to_string(&doc).unwrap();
    let log: serde_sarif::sarif::Sarif = serde_json::from_str(&text).expect("a SARIF 2.1.0 log");
    let run = &log.runs[0];
    assert_eq!(run.tool.driver.name, "amiforge-scan");
    let results = run.results.as_ref().unwrap();
    assert_eq!(results.len(), 2);
    let ids: Vec<_> = results.iter().map(|r| r.rule_id.clone().unwrap()).collect();
    assert_eq!(ids, ["DEBIAN-CVE-2016-2781", "DSA-5532-1"]);
    // the accepted finding carries a suppression with the allowlist's reason
    let suppressed = results[0].suppressions.as_ref().unwrap();
    assert_eq!(
        suppressed[0].justification.as_deref(),
        Some("unused (until 2027-01-01)")
    );
    assert!(results[1].suppressions.is_none());
    assert_eq!(run.tool.driver.rules.as_ref().unwrap().len(), 2);
}

#[test]
fn an_sbom_of_our_purls_passes_cyclonedx_1_5_validation() {
    use amiforge_model::purl::{OsPackage, os_package};
    use cyclonedx_bom::prelude::*;
    let pkgs = [
        ("libssl3", "3.0.15-1~deb12u1", "openssl", "3.0.15-1~deb12u1"),
        ("libx", "1:2.0-1+b1", "x", "1:2.0-1"),
        (
            "tar",
            "1.34+dfsg-1.2+deb12u1",
            "tar",
            "1.34+dfsg-1.2+deb12u1",
        ),
    ];
    let bookworm = OsPackage {
        kind: "deb",
        os_id: "debian",
        os_version: "12",
        name: "",
        version: "",
        arch: "amd64",
        source: "",
        source_version: "",
    };
    let components: Vec<serde_json::Value> = pkgs
        .iter()
        .map(|(name, version, source, source_version)| {
            let p = OsPackage { name, version, source, source_version, ..bookworm };
            let purl = os_package(&p).unwrap();
            serde_json::json!({"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl})
        })
        .collect();
    let doc = serde_json::json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "version": 1,
        "components": components,
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let bom = Bom::parse_from_json_v1_5(bytes.as_slice()).expect("CycloneDX 1.5 JSON");
    let result = bom.validate_version(SpecVersion::V1_5);
    assert!(result.passed(), "{result:?}");
    let inv = from_cyclonedx(&bytes).unwrap();
    let read: Vec<_> = inv
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.source.as_deref()))
        .collect();
    assert_eq!(
        read,
        [
            ("libssl3", "3.0.15-1~deb12u1", Some("openssl")),
            ("libx", "1:2.0-1+b1", Some("x")),
            ("tar", "1.34+dfsg-1.2+deb12u1", None)
        ]
    );
}
