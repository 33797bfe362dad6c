use std::collections::BTreeMap;

use super::*;
use crate::settings::{BootMode, Transport};

const AMI: &str = "ami-0123456789abcdef0";

fn one(region: &str, ami: &str) -> pb::Target {
    pb::Target {
        region: region.into(),
        ami: ami.into(),
        expect: None,
    }
}

#[test]
fn unset_fields_take_the_model_defaults() {
    let r = request(pb::ValidateRequest {
        targets: vec![one("eu-west-1", AMI)],
        ..Default::default()
    })
    .unwrap();
    assert_eq!(r.policy, Policy::default());
    assert_eq!(r.launch, Launch::default());
    assert_eq!(r.guest, Guest::default());
    assert_eq!(r.targets[0].expect, Expect::default());
}

#[test]
fn a_request_survives_the_round_trip() {
    let mut r = request(pb::ValidateRequest {
        targets: vec![one("eu-west-1", AMI), one("us-west-2", AMI)],
        ..Default::default()
    })
    .unwrap();
    r.targets[0].expect.kms_key = Some("alias/images".into());
    r.targets[0].expect.sharing = Some(Sharing {
        account_ids: vec!["111122223333".into()],
        ..Sharing::default()
    });
    r.targets[1].expect.tags = BTreeMap::from([("team".into(), "platform".into())]);
    r.targets[1].expect.strategy = Some(amiforge_model::Strategy::Hybrid);
    r.policy.allow_no_ena = true;
    r.policy.boot_mode = Some(BootMode::Uefi);
    r.policy.required_tags = BTreeMap::from([
        ("owner".into(), String::new()),
        ("team".into(), "platform".into()),
    ])
    .into();
    r.launch.instance_types = vec!["t3.micro".into(), "m7g.large".into()];
    r.launch.security_groups = BTreeMap::from([("eu-west-1".into(), "sg-1,sg-2".into())]).into();
    r.launch.subnets = BTreeMap::from([("us-west-2".into(), "subnet-1".into())]).into();
    r.launch.timeout = Duration::from_secs(300);
    r.launch.poll_interval = Duration::from_millis(250);
    r.launch.max_parallel = 3;
    r.launch.user_data = Some("#!/bin/sh\n".into());
    r.guest.transport = Transport::Ssh;
    r.guest.ssh_username = Some("admin".into());
    r.guest.ssh_private_key_file = Some("/keys/ci".into());
    r.guest.ssh_keypair_name = Some("ci-key".into());
    r.guest.ssh_cidr = Some("10.0.0.0/16".into());
    r.guest.instance_profile = Some("validator-ssm".into());
    r.guest.check = vec![UserCheck {
        name: "nginx".into(),
        command: "systemctl is-active nginx".into(),
        expect_exit: 0,
        expect_output: Some("^active".into()),
    }];
    r.run_id = "ci-42".into();
    assert_eq!(request(to_proto(&r)).unwrap(), r);
}

#[test]
fn every_bad_field_is_named_by_its_proto_name() {
    let e = request(pb::ValidateRequest {
        targets: vec![one("eu-west-1", AMI), one("eu_west_1", "ami-xyz")],
        launch: Some(pb::Launch {
            instance_types: vec!["t3micro".into()],
            security_groups: [("eu-west-1".to_string(), " , ".to_string())].into(),
            timeout: "soon".into(),
            ..Default::default()
        }),
        guest: Some(pb::Guest {
            transport: "telnet".into(),
            ..Default::default()
        }),
        policy: Some(pb::Policy {
            boot_mode: Some("bios".into()),
            ..Default::default()
        }),
        ..Default::default()
    })
    .unwrap_err()
    .lines();
    let want = [
        "launch.security_groups[\"eu-west-1\"]: empty",
        "guest.transport: \"telnet\"",
        "targets[1].region: \"eu_west_1\"",
        "targets[1].ami: \"ami-xyz\"",
        "policy.boot_mode: \"bios\"",
        "launch.instance_types[0]: \"t3micro\"",
        "launch.timeout: \"soon\" is not a duration",
    ];
    for w in want {
        assert!(e.iter().any(|m| m.starts_with(w)), "{w} missing in {e:#?}");
    }
    assert_eq!(e.len(), want.len(), "{e:#?}");
}

#[test]
fn a_bad_manifest_is_named_and_its_regions_too() {
    let e = request(pb::ValidateRequest {
        manifest_json: b"{\"not\": 1}".to_vec(),
        ..Default::default()
    })
    .unwrap_err()
    .lines();
    assert_eq!(e.len(), 1, "{e:#?}");
    assert!(
        e[0].starts_with("manifest_json: not a replicate manifest"),
        "{e:#?}"
    );
    let regions = ["eu-west-1".to_string(), "us-west-2".to_string()];
    let p = Path::fields(&["targets"]).index(1).field("ami");
    assert_eq!(
        proto_path(p, &regions).to_string(),
        "manifest_json.regions[\"us-west-2\"].ami"
    );
    let p = Path::fields(&["targets"]).index(3);
    assert_eq!(proto_path(p, &regions[..1]).to_string(), "targets[2]");
    let e = request(pb::ValidateRequest::default()).unwrap_err().lines();
    assert!(e[0].starts_with("targets: nothing to validate"), "{e:#?}");
}
