//! The plugin side of the modern protocol checked with HashiCorp's own client code, one case per
//! test: the SDK peer (`tests/modern/peer`, built from the same go.mod as Packer 1.16.0) starts
//! the component with Packer's `packer.PluginClient` (cookie, four-part handshake) and drives
//! it with the packer-plugin-sdk `rpc` client Packer 1.16.0 pins: ConfigSpec over protobuf and
//! gob, Prepare/Configure with cty values decoded from HCL the way Packer's HCL2 code does,
//! Provision with an SDK-served Ui and Communicator, PostProcess with an SDK-served artifact,
//! and amiforge's post-processors chained on the AWS emulator with their HCP Packer registry
//! metadata decoded as Packer's registry code decodes it.
//! These are the cases an in-process peer checks better than a whole `packer build`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use amiforge_aws::images::{self, CopyRequest};
use amiforge_e2e::emulator::{self, BASE_AMI, Emulator, HOME_REGION};
use amiforge_e2e::modern::{peer_case, peer_case_env};
use amiforge_e2e::{amiforge_bin, scaffold_bin, validator_bin};
use serde_json::{Value as Json, json};

#[test]
fn describe_is_what_packer_plugins_install_accepts() {
    peer_case("describe", &scaffold_bin());
    let r = peer_case("describe", &amiforge_bin());
    assert!(r.stdout.contains("[harden sysprep]"), "{}", r.stdout);
}

#[test]
fn every_config_spec_is_the_same_over_protobuf_and_gob() {
    peer_case("config-spec", &scaffold_bin());
    let r = peer_case("config-spec", &amiforge_bin());
    for c in ["harden", "sysprep", "replicate", "validate"] {
        assert!(r.stdout.contains(&format!("{c} (")), "{c}: {}", r.stdout);
    }
}

#[test]
fn prepare_takes_cty_values_and_names_bad_attributes() {
    peer_case("prepare", &scaffold_bin());
}

#[test]
fn provision_streams_output_through_the_sdk_ui_and_masks_secrets() {
    peer_case("provision", &scaffold_bin());
}

#[test]
fn provision_works_with_a_gob_config_spec() {
    let r = peer_case("provision-gob", &scaffold_bin());
    assert!(r.stdout.contains("over gob"), "{}", r.stdout);
}

#[test]
fn fifty_mib_travel_up_and_down_byte_identical() {
    peer_case("transfer-50mib", &scaffold_bin());
}

#[test]
fn a_failing_command_fails_provision_with_its_status() {
    peer_case("failing-command", &scaffold_bin());
}

#[test]
fn cancel_during_a_command_ends_provision_promptly() {
    peer_case("cancel", &scaffold_bin());
}

#[test]
fn post_process_uses_the_served_artifact_and_serves_its_own() {
    peer_case("post-process", &scaffold_bin());
}

#[test]
fn post_process_works_with_a_gob_config_spec() {
    let r = peer_case("post-process-gob", &scaffold_bin());
    assert!(r.stdout.contains("over gob"), "{}", r.stdout);
}

#[test]
fn amiforge_components_configure_and_name_bad_attributes_over_protobuf() {
    peer_case("amiforge-configure", &amiforge_bin());
}

#[test]
fn amiforge_components_configure_and_name_bad_attributes_over_gob() {
    peer_case("amiforge-config-gob", &amiforge_bin());
}

#[test]
fn an_unknown_case_is_refused() {
    // the peer itself must be able to fail: bad usage exits 2 and lists the cases
    let out = std::process::Command::new(amiforge_e2e::modern::peer())
        .args(["no-such-case", "/nonexistent"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("transfer-50mib"));
}

/// The build's own AMI as amazon-ebs leaves one: a private copy of the base AMI in the home
/// region.
async fn build_ami(emu: &Emulator) -> String {
    let c = emulator::clients(emu).await;
    let copy = CopyRequest {
        source_region: HOME_REGION,
        source_ami: BASE_AMI,
        name: "web-build",
        description: "built by amazon-ebs",
        kms_key: None,
        client_token: "peer-build",
    };
    let ami = images::copy(&c, HOME_REGION, &copy).await.unwrap();
    images::wait_available(&c, HOME_REGION, &ami, Duration::from_secs(60), |_| {})
        .await
        .unwrap();
    ami
}

/// The `amiforge-validate` block: attribute checks only, reports under `dir`.
fn validate_hcl(dir: &Path, extra: &str) -> String {
    format!(
        "validator_path = \"{}\"\nlaunch = false\nallow_unencrypted = true\n\
         report_path = \"{}/validation.json\"\njunit_path = \"{}/validation.xml\"\n{extra}",
        validator_bin().display(),
        dir.display(),
        dir.display()
    )
}

/// Runs the `registry-metadata` peer case over `chain` against the emulator; per step what
/// Packer's registry code decoded.
fn registry_chain(emu: &Emulator, chain: &Json) -> Vec<Json> {
    let mut env = emu.env();
    env.push(("SDK_PEER_CHAIN".into(), chain.to_string()));
    let r = peer_case_env("registry-metadata", &amiforge_bin(), &env);
    let detail = r
        .stdout
        .trim_end()
        .strip_prefix("ok: registry-metadata (")
        .and_then(|d| d.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no detail: {}", r.stdout));
    match serde_json::from_str(detail) {
        Ok(Json::Array(steps)) => steps,
        other => panic!("detail {detail}: {other:?}"),
    }
}

/// region → image as decoded, checking what every image carries: provider `aws`, its region,
/// the parent, and the state's Go type (a list of maps, as `[]*image.Image` arrives).
fn by_region(step: &Json, parent: &str) -> BTreeMap<String, Json> {
    assert_eq!(step["state_type"], "[]interface {}", "{step}");
    let mut out = BTreeMap::new();
    for i in step["images"].as_array().expect("images") {
        assert_eq!(i["ProviderName"], "aws", "{i}");
        assert_eq!(i["SourceImageID"], parent, "{i}");
        let region = i["ProviderRegion"].as_str().expect("region").to_string();
        assert!(
            out.insert(region, i.clone()).is_none(),
            "one image per region: {step}"
        );
    }
    // exactly the AMIs of the artifact's id
    let id: BTreeMap<String, String> =
        amiforge_model::artifact::parse_id(step["id"].as_str().unwrap()).unwrap();
    let images: BTreeMap<String, String> = out
        .iter()
        .map(|(r, i)| (r.clone(), i["ImageID"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(images, id, "{step}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn replicate_then_validate_register_every_region_with_packers_registry_code() {
    let emu = Emulator::start(0.3);
    let ami = build_ami(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let replicate = format!(
        "regions = [\"eu-west-1\", \"us-west-2\"]\nfamily = \"web\"\ntags = {{ team = \"platform\" }}\n\
         deprecate_after = \"90d\"\nmanifest_path = \"{}/manifest.json\"",
        d.display()
    );
    let chain = json!({
        "input": {
            "builder_id": "mitchellh.amazonebs",
            "id": format!("{HOME_REGION}:{ami}"),
            "generated_data": {"SourceAMI": BASE_AMI, "BuildRegion": HOME_REGION, "PackerRunUUID": "run-1234"},
        },
        "steps": [
            {"name": "replicate", "hcl": replicate},
            {"name": "validate", "hcl": validate_hcl(d, "required_tags = { team = \"platform\" }")},
        ],
    });
    let steps = tokio::task::spawn_blocking(move || registry_chain(&emu, &chain))
        .await
        .unwrap();
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(d.join("manifest.json")).unwrap()).unwrap();
    let report = std::fs::read(d.join("validation.json")).unwrap();
    let report_json: Json = serde_json::from_slice(&report).unwrap();

    assert_eq!(steps[0]["builder_id"], "amiforge.replicate");
    let replicated = by_region(&steps[0], BASE_AMI);
    let regions: Vec<&str> = replicated.keys().map(String::as_str).collect();
    assert_eq!(regions, ["eu-west-1", "us-east-1", "us-west-2"]);
    assert_eq!(replicated[HOME_REGION]["ImageID"], ami.as_str());
    for (r, i) in &replicated {
        assert_eq!(i["ImageID"], manifest["regions"][r]["ami"], "{r}");
        let l = &i["Labels"];
        assert_eq!(l["amiforge_family"], "web", "{i}");
        assert_eq!(l["amiforge_strategy"], manifest["strategy"], "{i}");
        assert_eq!(l["amiforge_run_id"], "run-1234", "{i}");
        assert_eq!(
            l["amiforge_source_ami"],
            format!("{HOME_REGION}:{ami}"),
            "{i}"
        );
        assert_eq!(l["amiforge_built_at"], manifest["generated_at"], "{i}");
        assert_eq!(l["amiforge_manifest_sha256"], manifest["sha256"], "{i}");
        assert!(l.get("amiforge_dry_run").is_none(), "{i}");
    }

    // the gate hands on the same AMIs, with the release's labels and its verdict
    assert_eq!(steps[1]["builder_id"], "amiforge.validate");
    let validated = by_region(&steps[1], BASE_AMI);
    assert_eq!(validated.len(), 3);
    for (r, i) in &validated {
        assert_eq!(i["ImageID"], replicated[r]["ImageID"], "{r}");
        let l = i["Labels"].as_object().unwrap();
        for (k, v) in replicated[r]["Labels"].as_object().unwrap() {
            assert_eq!(&l[k], v, "{r}: {k}");
        }
        assert_eq!(l["amiforge_validation"], "passed", "{i}");
        assert_eq!(
            l["amiforge_validation_run_id"], report_json["run_id"],
            "{i}"
        );
        assert_eq!(l["amiforge_validated_at"], report_json["started_at"], "{i}");
        assert_eq!(
            l["amiforge_validation_report_sha256"],
            amiforge_model::sha256_hex(&report),
            "{i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gate_reads_what_a_go_builder_registered_and_adds_its_verdict() {
    let emu = Emulator::start(0.3);
    let ami = build_ami(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    // what amazon-ebs answers (a []*image.Image), with a label of the builder's; no SourceAMI in
    // generated_data, so the parent can only come from the registered image
    let chain = json!({
        "input": {
            "builder_id": "mitchellh.amazonebs",
            "id": format!("{HOME_REGION}:{ami}"),
            "generated_data": {"BuildRegion": HOME_REGION},
            "registry": [{"ImageID": ami, "ProviderName": "aws", "ProviderRegion": HOME_REGION,
                          "SourceImageID": "ami-0parent", "Labels": {"os": "debian-12"}}],
        },
        "steps": [{"name": "validate", "hcl": validate_hcl(dir.path(), "allow_no_deprecation = true")}],
    });
    let steps = tokio::task::spawn_blocking(move || registry_chain(&emu, &chain))
        .await
        .unwrap();
    let validated = by_region(&steps[0], "ami-0parent");
    let l = &validated[HOME_REGION]["Labels"];
    assert_eq!(l["os"], "debian-12", "{l}");
    assert_eq!(l["amiforge_validation"], "passed", "{l}");
}
