//! The validator against the AWS emulator (moto + image attributes, launch and status-check
//! timing, impaired/stuck instances, faults): the pass path, each attribute check failing on a
//! deliberately wrong AMI, status-check failure, timeout, throttling; and after every test,
//! nothing of the validator's is left (instances, key pairs, security groups).

mod support;

use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_e2e::emulator::{BASE_AMI, Emulator};
use amiforge_model::manifest::Manifest;
use amiforge_validator::events::Sink;
use amiforge_validator_api::report::{Report, Status, Verdict};
use amiforge_validator_api::{Launch, Policy, Request};
use support::{HOME, assert_nothing_left, clients, key, release};
use tokio_util::sync::CancellationToken;

fn request(m: &Manifest) -> Request {
    Request {
        targets: amiforge_validator_api::request::manifest::targets(m),
        policy: Policy::default(),
        launch: Launch {
            poll_interval: Duration::from_millis(200),
            timeout: Duration::from_secs(30),
            ..Launch::default()
        },
        guest: Default::default(),
        run_id: String::new(),
    }
}

async fn validate(c: &Clients, req: Request) -> Report {
    amiforge_validator::run::run(c, req, Sink::none(), CancellationToken::new())
        .await
        .unwrap()
}

fn check<'a>(
    r: &'a Report,
    region: &str,
    itype: Option<&str>,
    name: &str,
) -> &'a amiforge_validator_api::report::Check {
    r.suites
        .iter()
        .filter(|s| s.region == region && s.instance_type.as_deref() == itype)
        .flat_map(|s| &s.checks)
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in {region} {itype:?}: {r:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_release_passes_in_every_region_and_leaves_nothing() {
    let emu = Emulator::start(0.0);
    emu.configure(&serde_json::json!({"launch_seconds": 0.5, "status_seconds": 0.5}));
    let c = clients(&emu).await;
    let regions = ["eu-west-1", "us-west-2"];
    let m = release(&c, &regions).await;
    let mut req = request(&m);
    req.launch.instance_types = vec!["t3.micro".into(), "m5.large".into()];
    let r = validate(&c, req).await;
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    // 2 attribute suites + 2 regions × 2 types
    assert_eq!(r.suites.len(), 6);
    for s in &r.suites {
        for c in &s.checks {
            let ok = c.status == Status::Passed
                || (c.name == "ami.boot-mode" && c.status == Status::Skipped);
            assert!(ok, "{} {c:?}", s.name());
        }
    }
    assert_eq!(r.cleanup.instances.len(), 4);
    assert_eq!(
        r.cleanup.security_groups.len(),
        2,
        "one temporary group per region"
    );
    assert!(r.cleanup.errors.is_empty());
    // the instances were launched as asked (calls EC2 refused while the new security group was
    // not visible yet launched nothing)
    let runs: Vec<_> = emu
        .log()
        .into_iter()
        .filter(|e| e["action"] == "RunInstances" && e["status"] == 200)
        .collect();
    assert_eq!(runs.len(), 4);
    assert_nothing_left(&c, &regions).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_wrong_ami_fails_its_own_check_and_is_not_launched() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let regions = [
        "eu-west-1",
        "us-west-2",
        "ap-southeast-2",
        "eu-central-1",
        "us-east-2",
    ];
    let m = release(&c, &regions).await;
    let ami = |r: &str| m.regions[r].ami.clone();
    // eu-west-1: public
    support::make_public(&c, "eu-west-1", &ami("eu-west-1")).await;
    // us-west-2: the manifest says another key
    let mut m2 = m.clone();
    let other = key(&c, "us-west-2").await;
    m2.regions.get_mut("us-west-2").unwrap().kms_key = Some(other.clone());
    // ap-southeast-2: too old for its strategy
    emu.post(
        "image",
        &serde_json::json!({"region": "ap-southeast-2", "image_id": ami("ap-southeast-2"), "creation_date": "2025-01-01T00:00:00.000Z"}),
    );
    // eu-central-1: a tag the manifest recorded is gone
    c.ec2("eu-central-1")
        .delete_tags()
        .resources(ami("eu-central-1"))
        .tags(aws_sdk_ec2::types::Tag::builder().key("team").build())
        .send()
        .await
        .unwrap();
    // us-east-2: unencrypted (a copy without encryption replaces the manifest's AMI)
    let plain = c
        .ec2("us-east-2")
        .copy_image()
        .source_region(HOME)
        .source_image_id(BASE_AMI)
        .name("plain")
        .send()
        .await
        .unwrap()
        .image_id()
        .unwrap()
        .to_string();
    // made here, behind amiforge's back: wait until EC2 shows it (eventual consistency)
    emu.settle();
    m2.regions.get_mut("us-east-2").unwrap().ami = plain.clone();
    let r = validate(&c, request(&m2)).await;
    assert_eq!(r.verdict, Verdict::GateFailed);
    let failed = |region: &str| -> Vec<String> {
        r.suites
            .iter()
            .filter(|s| s.region == region && s.instance_type.is_none())
            .flat_map(|s| &s.checks)
            .filter(|c| c.status == Status::Failed)
            .map(|c| c.name.clone())
            .collect()
    };
    assert_eq!(failed("eu-west-1"), ["ami.launch-permissions"]);
    assert!(
        check(&r, "eu-west-1", None, "ami.launch-permissions")
            .found
            .contains("PUBLIC")
    );
    assert_eq!(failed("us-west-2"), ["ami.encrypted"]);
    assert!(
        check(&r, "us-west-2", None, "ami.encrypted")
            .expected
            .contains(&other)
    );
    assert_eq!(failed("ap-southeast-2"), ["ami.shelf-life"]);
    assert_eq!(failed("eu-central-1"), ["ami.tags"]);
    // the plain copy: unencrypted, not shared, no tags, no deprecation
    assert_eq!(
        failed("us-east-2"),
        [
            "ami.encrypted",
            "ami.launch-permissions",
            "ami.tags",
            "ami.deprecation"
        ]
    );
    for region in regions {
        let l = check(&r, region, Some("t3.micro"), "instance.launch");
        assert_eq!(
            l.status,
            Status::Skipped,
            "{region}: a failed AMI is not launched"
        );
    }
    assert_eq!(emu.count("RunInstances", None), 0);
    assert_nothing_left(&c, &regions).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ena_and_imds_support_missing_on_the_ami_fail() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let m = release(&c, &["eu-west-1"]).await;
    emu.post(
        "image",
        &serde_json::json!({"region": "eu-west-1", "image_id": m.regions["eu-west-1"].ami, "ena_support": false, "imds_support": null}),
    );
    let mut req = request(&m);
    req.launch.launch = false;
    let r = validate(&c, req).await;
    assert_eq!(r.verdict, Verdict::GateFailed);
    assert_eq!(check(&r, "eu-west-1", None, "ami.ena").found, "disabled");
    assert_eq!(
        check(&r, "eu-west-1", None, "ami.imds-v2").status,
        Status::Failed
    );
    assert_eq!(
        check(&r, "eu-west-1", None, "ami.encrypted").status,
        Status::Passed
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_impaired_instance_fails_the_status_checks_and_is_cleaned_up() {
    let emu = Emulator::start(0.0);
    emu.configure(&serde_json::json!({"status_seconds": 0.5,
        "instance_faults": [{"region": "us-west-2", "ami": "*", "status": "impaired"}]}));
    let c = clients(&emu).await;
    let regions = ["eu-west-1", "us-west-2"];
    let m = release(&c, &regions).await;
    let r = validate(&c, request(&m)).await;
    assert_eq!(r.verdict, Verdict::GateFailed);
    assert_eq!(
        check(&r, "eu-west-1", Some("t3.micro"), "instance.status-checks").status,
        Status::Passed
    );
    let s = check(&r, "us-west-2", Some("t3.micro"), "instance.status-checks");
    assert_eq!(s.status, Status::Failed);
    assert!(s.found.contains("impaired"), "{s:?}");
    assert_nothing_left(&c, &regions).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_instance_times_out_and_is_cleaned_up() {
    let emu = Emulator::start(0.0);
    emu.configure(
        &serde_json::json!({"instance_faults": [{"region": "*", "ami": "*", "status": "stuck"}]}),
    );
    let c = clients(&emu).await;
    let m = release(&c, &["eu-west-1"]).await;
    let mut req = request(&m);
    req.launch.timeout = Duration::from_secs(2);
    let r = validate(&c, req).await;
    assert_eq!(r.verdict, Verdict::GateFailed);
    let s = check(&r, "eu-west-1", Some("t3.micro"), "instance.status-checks");
    assert_eq!(s.status, Status::Failed);
    assert!(s.message.contains("timed out after 2s"), "{s:?}");
    assert_nothing_left(&c, &["eu-west-1"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn throttling_is_absorbed_and_nothing_is_launched_twice() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let regions = ["eu-west-1", "us-west-2", "ap-southeast-2"];
    let m = release(&c, &regions).await;
    emu.configure(&serde_json::json!({"launch_seconds": 0.3, "status_seconds": 0.3, "seed": 7,
        "faults": [
                   {"action": "DescribeImages", "region": "eu-west-1", "kind": "throttle", "times": 1},
                   {"action": "DescribeSnapshots", "region": "us-west-2", "kind": "throttle", "times": 1},
                   {"action": "RunInstances", "region": "eu-west-1", "kind": "throttle", "times": 1},
                   {"action": "DescribeInstanceStatus", "region": "ap-southeast-2", "kind": "throttle", "times": 2},
                   {"action": "TerminateInstances", "region": "us-west-2", "kind": "throttle", "times": 1},
                   {"action": "RunInstances", "region": "us-west-2", "kind": "drop", "after": true, "times": 1}]}));
    let r = validate(&c, request(&m)).await;
    emu.configure(&serde_json::json!({"faults": []}));
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    let throttled = emu
        .log()
        .iter()
        .filter(|e| e["outcome"] == "throttle")
        .count();
    assert_eq!(throttled, 6, "every injected throttle was met and retried");
    assert_eq!(emu.count("RunInstances", Some("drop-after")), 1);
    assert_eq!(
        r.cleanup.instances.len(),
        3,
        "one instance per region, the lost answer included"
    );
    assert_nothing_left(&c, &regions).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_expected_key_is_an_error_not_a_pass() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let m = release(&c, &["eu-west-1"]).await;
    let mut req = request(&m);
    req.targets[0].expect.kms_key = Some("alias/nope".into());
    req.launch.launch = false;
    let r = validate(&c, req).await;
    assert_eq!(r.verdict, Verdict::InfrastructureError);
    let e = check(&r, "eu-west-1", None, "ami.encrypted");
    assert_eq!(e.status, Status::Error);
    assert!(e.message.contains("alias/nope"), "{e:?}");
}
