//! `amiforge-replicate` in a real `packer build` (Debian's Packer 1.6.6): `amazon-ebs` against the
//! AWS emulator (its custom endpoint options), its SSH communicator pointed at the sandboxed sshd
//! so `amiforge-harden` really runs, then `amiforge-replicate` → manifest → Packer's own
//! `manifest` post-processor. Bad input fails `packer validate` (or the first API check) naming
//! the attribute.

use amiforge_aws::{images, ssm};
use amiforge_e2e::amiforge_bin;
use amiforge_e2e::emulator::{Emulator, clients, create_kms_key};
use amiforge_e2e::packer::{PackerOutput, Workdir};
use amiforge_e2e::sandbox::Sandbox;
use amiforge_e2e::templates::{IMAGES_KEY, harden_and_replicate};
use amiforge_model::manifest::Manifest;

const REGIONS: [&str; 3] = ["eu-west-1", "us-west-2", "ap-southeast-2"];

/// The amazon-ebs source on the emulator; with a sandbox its SSH goes there, without one the
/// build has no communicator.
fn source(emu: &Emulator, sbx: Option<&Sandbox>) -> String {
    let communicator = match sbx {
        Some(sbx) => sbx.ssh_settings_hcl(),
        None => "  communicator = \"none\"".to_string(),
    };
    emu.amazon_ebs_source(&communicator)
}

/// A work directory with the plugin installed.
fn workdir() -> Workdir {
    let w = Workdir::new();
    w.link(&amiforge_bin(), "packer-plugin-amiforge");
    w
}

fn packer(w: &Workdir, emu: &Emulator, args: &[&str]) -> PackerOutput {
    w.packer_with_env(args, &emu.env())
}

/// A template: the amazon-ebs source without a communicator, then one `post-processors` chain
/// with `post_processors` in it.
fn chain(emu: &Emulator, post_processors: &str) -> String {
    format!(
        "{}\nbuild {{\n  sources = [\"source.amazon-ebs.web\"]\n  post-processors {{\n    {post_processors}\n  }}\n}}\n",
        source(emu, None)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn amazon_ebs_build_is_hardened_replicated_and_recorded() {
    let emu = Emulator::start(1.0);
    let sbx = Sandbox::start();
    let c = clients(&emu).await;
    let mut keys = std::collections::BTreeMap::new();
    for r in REGIONS {
        keys.insert(r, create_kms_key(&c, r, Some(IMAGES_KEY)).await);
    }
    let w = workdir();
    let t = harden_and_replicate(
        &source(&emu, Some(&sbx)),
        &REGIONS,
        "",
        "      ssm_parameter      = \"/amiforge/web/latest\"\n",
        "    post-processor \"manifest\" {\n      output = \"out/packer-manifest.json\"\n    }\n",
    );
    w.write("t.pkr.hcl", &t);
    packer(&w, &emu, &["validate", "t.pkr.hcl"]).assert_ok();
    let out = packer(&w, &emu, &["build", "-color=false", "t.pkr.hcl"]);
    out.assert_ok()
        .assert_contains("amiforge-harden: profile linux-baseline")
        .assert_contains("amiforge-replicate: 4 region(s) ready");
    let bytes = std::fs::read(w.path().join("out/manifest.json")).unwrap();
    let m: Manifest = serde_json::from_slice(&bytes).unwrap();
    assert!(m.verify(), "the manifest's own sha256 matches");
    assert_eq!(m.regions.len(), 4);
    assert!(m.regions["us-east-1"].source);
    assert_eq!(m.strategy.as_str(), "hybrid");
    // the hardening evidence of this build is recorded with the AMIs
    let report = std::fs::read(w.path().join("out/hardening.json")).unwrap();
    let h = m.hardening.as_ref().expect("hardening recorded");
    assert_eq!(h.report_sha256, amiforge_model::sha256_hex(&report));
    // Packer's manifest post-processor saw our artifact
    let pm: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path().join("out/packer-manifest.json")).unwrap())
            .unwrap();
    let last = &pm["builds"].as_array().unwrap().last().unwrap();
    assert_eq!(last["artifact_id"], m.artifact_id());
    assert_eq!(last["builder_type"], "amazon-ebs");
    for r in REGIONS {
        let e = &m.regions[r];
        let img = images::describe(&c, r, &e.ami)
            .await
            .unwrap()
            .expect("copy exists");
        assert_eq!(img.state, "available");
        assert_eq!(img.tags.get("team").map(String::as_str), Some("platform"));
        assert_eq!(
            img.tags.get(amiforge_model::tags::PROFILE_SHA256),
            Some(&h.profile_sha256)
        );
        let snaps = images::snapshots(&c, r, &e.snapshots).await.unwrap();
        assert!(
            snaps
                .iter()
                .all(|s| s.encrypted && s.kms_key.as_deref() == Some(keys[r].as_str())),
            "{r}: {snaps:?}"
        );
        assert_eq!(
            ssm::get_parameter(&c, r, "/amiforge/web/latest")
                .await
                .unwrap()
                .as_deref(),
            Some(e.ami.as_str())
        );
        assert_eq!(
            images::launch_permissions(&c, r, &e.ami)
                .await
                .unwrap()
                .account_ids,
            ["111122223333"]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_named_by_validate_or_before_the_first_copy() {
    let emu = Emulator::start(0.0);
    let w = workdir();
    let with = |attrs: &str| {
        format!(
            "{}\nbuild {{\n  sources = [\"source.amazon-ebs.web\"]\n  post-processor \"amiforge-replicate\" {{\n{attrs}\n  }}\n}}\n",
            source(&emu, None)
        )
    };
    let cases: &[(&str, &str)] = &[
        (
            "regions = [\"eu-west-1\", \"eu_west_2\"]",
            "regions[1]: \"eu_west_2\" is not a region name",
        ),
        (
            "regions = [\"eu-west-1\"]\n    account_ids = [\"12345\"]",
            "account_ids[0]: \"12345\" is not a 12-digit AWS account id",
        ),
        (
            "regions = [\"eu-west-1\"]\n    org_arns = [\"o-abc\"]",
            "org_arns[0]: \"o-abc\" is not an organization ARN",
        ),
        (
            "regions = [\"eu-west-1\"]\n    public = true\n    account_ids = [\"111122223333\"]",
            "public: public = true shares with everyone",
        ),
        (
            "regions = [\"eu-west-1\"]\n    region_kms_key_ids = { \"eu-west-1\" = \"arn:aws:kms:us-east-1:123456789012:key/abc\" }",
            "region_kms_key_ids[\"eu-west-1\"]",
        ),
        (
            "regions = [\"eu-west-1\"]\n    strategy = \"forever\"",
            "strategy: \"forever\"",
        ),
        (
            "regions = [\"eu-west-1\"]\n    deprecate_after = \"soon\"",
            "deprecate_after: \"soon\" is not a duration",
        ),
    ];
    for (attrs, want) in cases {
        w.write("t.pkr.hcl", &with(attrs));
        packer(&w, &emu, &["validate", "t.pkr.hcl"])
            .assert_failed()
            .assert_contains(want);
    }
    // what only AWS can answer fails before any copy starts, naming the attribute
    w.write(
        "t.pkr.hcl",
        &with("regions = [\"eu-west-1\"]\n    region_kms_key_ids = { \"eu-west-1\" = \"alias/does-not-exist\" }\n    manifest_path = \"m.json\""),
    );
    packer(&w, &emu, &["build", "-color=false", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains(
            "region_kms_key_ids[\"eu-west-1\"]: alias/does-not-exist not usable in eu-west-1",
        );
    let copies = emu
        .log()
        .iter()
        .filter(|e| e["action"] == "CopyImage" && e["region"] == "eu-west-1")
        .count();
    assert_eq!(copies, 0, "no replication copy may start");
}

/// When a later post-processor tells Packer not to keep its input, Packer calls our artifact's
/// Destroy: every copy is deregistered and its snapshots deleted; the build's own AMI stays
/// (replicate asked Packer to keep it).
#[tokio::test(flavor = "multi_thread")]
async fn packer_destroying_the_artifact_deletes_every_copy() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let w = workdir();
    let t = chain(
        &emu,
        r#"post-processor "amiforge-replicate" {
      regions       = ["eu-west-1", "us-west-2"]
      manifest_path = "out/manifest.json"
    }
    post-processor "artifice" {
      files               = ["out/manifest.json"]
      keep_input_artifact = false
    }"#,
    );
    w.write("t.pkr.hcl", &t);
    packer(&w, &emu, &["build", "-color=false", "t.pkr.hcl"])
        .assert_ok()
        .assert_contains("amiforge-replicate: 3 region(s) ready");
    let m: Manifest =
        serde_json::from_slice(&std::fs::read(w.path().join("out/manifest.json")).unwrap())
            .unwrap();
    assert_eq!(m.regions.len(), 3);
    for (region, e) in &m.regions {
        let image = images::describe(&c, region, &e.ami).await.unwrap();
        let owned = c
            .ec2(region)
            .describe_snapshots()
            .owner_ids("self")
            .send()
            .await
            .unwrap();
        let left: Vec<&str> = owned
            .snapshots()
            .iter()
            .filter_map(|s| s.snapshot_id())
            .filter(|id| e.snapshots.iter().any(|x| x == id))
            .collect();
        if e.source {
            assert!(image.is_some(), "{region}: the build's own AMI is kept");
            assert_eq!(left.len(), e.snapshots.len(), "{region}: its snapshots too");
        } else {
            assert!(image.is_none(), "{region}: copy {} deregistered", e.ami);
            assert!(left.is_empty(), "{region}: snapshots deleted: {left:?}");
            assert!(!e.snapshots.is_empty());
        }
    }
}

/// A dry run copies nothing; the artifact it hands on names the AMI it would have copied from
/// (so Packer's `manifest` post-processor records that, not an empty id) and says it is a dry run.
#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_hands_on_the_ami_it_would_have_copied_from() {
    let emu = Emulator::start(0.0);
    let w = workdir();
    let t = chain(
        &emu,
        r#"post-processor "amiforge-replicate" {
      regions       = ["eu-west-1", "us-west-2"]
      dry_run       = true
      manifest_path = "out/manifest.json"
    }
    post-processor "manifest" {
      output = "out/packer-manifest.json"
    }"#,
    );
    w.write("t.pkr.hcl", &t);
    packer(&w, &emu, &["build", "-color=false", "t.pkr.hcl"])
        .assert_ok()
        .assert_contains("dry run: would copy to eu-west-1")
        .assert_contains("Dry run: no AMIs were created");
    let m: Manifest =
        serde_json::from_slice(&std::fs::read(w.path().join("out/manifest.json")).unwrap())
            .unwrap();
    assert!(m.dry_run && m.regions.is_empty());
    assert_eq!(emu.count("CopyImage", None), 0, "a dry run copies nothing");
    let pm: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path().join("out/packer-manifest.json")).unwrap())
            .unwrap();
    let last = &pm["builds"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last["artifact_id"],
        format!("{}:{}", m.source.region, m.source.ami)
    );
}
