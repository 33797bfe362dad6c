//! The plugin side of the modern protocol checked with HashiCorp's own client code, one case per
//! test: the SDK peer (`tests/modern/peer`, built from the same go.mod as Packer 1.16.0) starts
//! the component with Packer's `packer.PluginClient` (cookie, four-part handshake) and drives
//! it with the packer-plugin-sdk `rpc` client Packer 1.16.0 pins: ConfigSpec over protobuf and
//! gob, Prepare/Configure with cty values decoded from HCL the way Packer's HCL2 code does,
//! Provision with an SDK-served Ui and Communicator, PostProcess with an SDK-served artifact.
//! These are the cases an in-process peer checks better than a whole `packer build`.

use amiforge_e2e::modern::peer_case;
use amiforge_e2e::{amiforge_bin, scaffold_bin};

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
