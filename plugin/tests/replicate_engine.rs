//! The replication engine against the AWS emulator (moto + pending copies, KMS on copies, client
//! tokens, deprecation, faults): region counts, encryption per region, tags on images and
//! snapshots, exact sharing, retention, dry run, failures and cancel without orphans, and
//! throttling without duplicate copies. Every test lists what exists afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_aws::images;
use amiforge_e2e::emulator::{self, Emulator, create_kms_key};
use amiforge_model::tags;
use amiforge_plugin::replicate::engine::{self, Event, Input};
use amiforge_plugin::replicate::{ReplicateConfig, settings};
use packer_sdk::PackerConfig;
use tokio_util::sync::CancellationToken;

const HOME: &str = "us-east-1";

const REGIONS: [&str; 16] = [
    "eu-west-1",
    "us-west-2",
    "ap-southeast-2",
    "eu-central-1",
    "us-east-2",
    "us-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-north-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ca-central-1",
    "sa-east-1",
    "eu-south-1",
];

async fn clients(emu: &Emulator) -> Arc<Clients> {
    Arc::new(emulator::clients(emu).await)
}

/// A source AMI in `HOME`, registered the way a builder leaves one (one EBS snapshot).
async fn source_ami(c: &Clients, name: &str) -> String {
    let out = c
        .ec2(HOME)
        .register_image()
        .name(name)
        .description("base image")
        .root_device_name("/dev/sda1")
        .architecture(aws_sdk_ec2::types::ArchitectureValues::X8664)
        .virtualization_type("hvm")
        .ena_support(true)
        .block_device_mappings(
            aws_sdk_ec2::types::BlockDeviceMapping::builder()
                .device_name("/dev/sda1")
                .ebs(
                    aws_sdk_ec2::types::EbsBlockDevice::builder()
                        .volume_size(8)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("RegisterImage");
    out.image_id().unwrap().to_string()
}

/// A customer managed key with an alias in `region`; returns the key ARN.
async fn kms_key(c: &Clients, region: &str, alias: &str) -> String {
    create_kms_key(c, region, Some(alias)).await
}

fn config(v: serde_json::Value) -> amiforge_plugin::replicate::Settings {
    let c: ReplicateConfig = serde_json::from_value(v).expect("config shape");
    let packer = PackerConfig {
        build_name: "web".into(),
        ..Default::default()
    };
    settings(c, &packer).unwrap_or_else(|e| panic!("{e}"))
}

fn input(ami: &str, run: &str) -> Input {
    Input {
        source_region: HOME.into(),
        source_ami: ami.into(),
        build: BTreeMap::from([("packer_build_name".to_string(), "web".to_string())]),
        run_id: run.into(),
    }
}

async fn run(
    c: &Arc<Clients>,
    s: &amiforge_plugin::replicate::Settings,
    i: &Input,
    cancel: &CancellationToken,
) -> (Result<engine::Outcome, engine::Failed>, Vec<Event>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = engine::run(c.clone(), s, i, None, &tx, cancel).await;
    drop(tx);
    let mut ev = Vec::new();
    while let Some(e) = rx.recv().await {
        ev.push(e);
    }
    (r, ev)
}

/// Every AMI and snapshot this account owns in `regions` (for leak checks; once the emulator is
/// consistent again, so a copy made a moment ago is listed).
async fn inventory(c: &Clients, regions: &[&str]) -> BTreeSet<String> {
    tokio::time::sleep(emulator::settle_time()).await;
    let mut out = BTreeSet::new();
    for r in regions {
        let ec2 = c.ec2(r);
        for i in ec2
            .describe_images()
            .owners("self")
            .send()
            .await
            .unwrap()
            .images()
        {
            out.insert(format!("{r}:{}", i.image_id().unwrap()));
        }
        for s in ec2
            .describe_snapshots()
            .owner_ids("self")
            .send()
            .await
            .unwrap()
            .snapshots()
        {
            out.insert(format!("{r}:{}", s.snapshot_id().unwrap()));
        }
    }
    out
}

async fn copies_to(n: usize) {
    // a copy outlasts the emulator's eventual-consistency window (a new copy's id answers
    // NotFound for up to that long), so the engine sees it pending and reports progress
    let emu = Emulator::start(emulator::settle_time().as_secs_f64() + 0.5);
    let c = clients(&emu).await;
    let src = source_ami(&c, &format!("web-{n}")).await;
    let targets = &REGIONS[..n];
    let mut keys = BTreeMap::new();
    for r in targets {
        keys.insert(r.to_string(), kms_key(&c, r, "alias/images").await);
    }
    let s = config(serde_json::json!({
        "regions": targets,
        "region_kms_key_ids": targets.iter().map(|r| (r.to_string(), "alias/images".to_string())).collect::<BTreeMap<_, _>>(),
        "tags": {"team": "platform", "Name": "web"},
        "account_ids": ["111122223333"],
        "org_arns": ["arn:aws:organizations::123456789012:organization/o-abcdef1234"],
        "ou_arns": ["arn:aws:organizations::123456789012:ou/o-abcdef1234/ou-ab12-cdef5678"],
        "deprecate_after": "30d",
        "max_parallel": 4,
    }));
    let (r, ev) = run(
        &c,
        &s,
        &input(&src, &format!("run-{n}")),
        &CancellationToken::new(),
    )
    .await;
    let out = r.unwrap_or_else(|f| panic!("{}", f.message));
    assert_eq!(
        out.manifest.regions.len(),
        n + 1,
        "source region + {n} copies"
    );
    assert!(out.manifest.failures.is_empty());
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Message(m) if m.contains("pending"))),
        "progress reported"
    );
    for r in targets {
        let entry = &out.manifest.regions[*r];
        let img = images::describe(&c, r, &entry.ami)
            .await
            .unwrap()
            .expect("the copy exists");
        assert_eq!(img.state, "available");
        // encrypted with that region's key, on every snapshot
        let snaps = images::snapshots(&c, r, &entry.snapshots).await.unwrap();
        assert!(!snaps.is_empty());
        for sn in &snaps {
            assert!(sn.encrypted, "{r}: {sn:?}");
            assert_eq!(sn.kms_key.as_deref(), Some(keys[*r].as_str()), "{r}");
        }
        assert_eq!(entry.kms_key.as_deref(), Some(keys[*r].as_str()));
        // tags on the image and on its snapshots
        assert_eq!(img.tags.get("team").map(String::as_str), Some("platform"));
        assert_eq!(img.tags.get(tags::SOURCE_AMI), Some(&src));
        assert_eq!(img.tags.get(tags::FAMILY).map(String::as_str), Some("web"));
        let snap_tags = c
            .ec2(r)
            .describe_tags()
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("resource-id")
                    .values(&entry.snapshots[0])
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let st: BTreeMap<String, String> = snap_tags
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect();
        assert_eq!(
            st.get(tags::RUN_ID).map(String::as_str),
            Some(format!("run-{n}").as_str()),
            "{r} snapshot tags: {st:?}"
        );
        // sharing exactly as configured, and not public
        let perms = images::launch_permissions(&c, r, &entry.ami).await.unwrap();
        assert_eq!(perms.account_ids, ["111122223333"]);
        assert_eq!(perms.org_arns.len(), 1);
        assert_eq!(perms.ou_arns.len(), 1);
        assert!(!perms.public);
        assert!(img.deprecation_time.is_some(), "{r}: deprecation set");
    }
    // the source AMI got the release's tags and sharing too
    let src_img = images::describe(&c, HOME, &src).await.unwrap().unwrap();
    assert_eq!(
        src_img.tags.get(tags::FAMILY).map(String::as_str),
        Some("web")
    );
    assert!(
        !images::launch_permissions(&c, HOME, &src)
            .await
            .unwrap()
            .public
    );
    // exactly one copy per region
    for r in targets {
        assert_eq!(
            images::tagged(&c, r, tags::RUN_ID, &format!("run-{n}"))
                .await
                .unwrap()
                .len(),
            1,
            "{r}"
        );
    }
    assert!(out.manifest.cost.transfer_usd > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_to_1_region() {
    copies_to(1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_to_4_regions() {
    copies_to(4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn copies_to_16_regions() {
    copies_to(16).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_kms_key_or_unknown_region_fails_before_any_copy() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let src = source_ami(&c, "web").await;
    kms_key(&c, "us-west-2", "alias/images").await;
    let s = config(serde_json::json!({
        "regions": ["us-west-2", "eu-west-1", "xx-nowhere-1"],
        "region_kms_key_ids": {"us-west-2": "alias/images", "eu-west-1": "alias/images"},
    }));
    let (r, _) = run(&c, &s, &input(&src, "r"), &CancellationToken::new()).await;
    let f = r.expect_err("must fail");
    assert!(
        f.message
            .contains("regions[2]: xx-nowhere-1 is not a region"),
        "{}",
        f.message
    );
    let s = config(serde_json::json!({
        "regions": ["us-west-2", "eu-west-1"],
        "region_kms_key_ids": {"us-west-2": "alias/images", "eu-west-1": "alias/images"},
    }));
    let (r, _) = run(&c, &s, &input(&src, "r"), &CancellationToken::new()).await;
    let f = r.expect_err("must fail");
    assert!(
        f.message.contains("region_kms_key_ids[\"eu-west-1\"]"),
        "{}",
        f.message
    );
    assert!(f.message.contains("nothing was copied"));
    assert_eq!(
        emu.count("CopyImage", None),
        0,
        "no copy may start before every check passed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_keeps_n_releases_and_dry_run_changes_nothing() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let regions = ["us-west-2", "eu-west-1"];
    let cfg = |dry: bool| {
        config(
            serde_json::json!({"regions": regions, "keep_releases": 2, "dry_run": dry, "deprecate_after": "never"}),
        )
    };
    let mut releases = Vec::new();
    for n in 0..3 {
        let src = source_ami(&c, &format!("web-{n}")).await;
        let (r, _) = run(
            &c,
            &cfg(false),
            &input(&src, &format!("release-{n}")),
            &CancellationToken::new(),
        )
        .await;
        releases.push(r.unwrap_or_else(|f| panic!("{}", f.message)).manifest);
        tokio::time::sleep(Duration::from_millis(1100)).await; // distinct creation times
    }
    for r in ["us-west-2", "eu-west-1", HOME] {
        let family = images::family(&c, r, "web").await.unwrap();
        assert_eq!(family.len(), 2, "{r}: keep_releases = 2: {family:?}");
        let oldest = &releases[0].regions[r];
        assert!(
            images::describe(&c, r, &oldest.ami)
                .await
                .unwrap()
                .is_none(),
            "{r}: release 0 retired"
        );
        let left = images::snapshots(&c, r, &oldest.snapshots).await;
        assert!(
            left.map(|v| v.is_empty()).unwrap_or(true),
            "{r}: its snapshots deleted"
        );
    }
    assert_eq!(
        releases[2].retention.len(),
        3,
        "release 2 retired release 0 in 3 regions"
    );
    // a dry run: prints the plan, changes nothing anywhere
    let before = inventory(&c, &[HOME, "us-west-2", "eu-west-1"]).await;
    let src = source_ami(&c, "web-3").await;
    let before_with_src = inventory(&c, &[HOME, "us-west-2", "eu-west-1"]).await;
    assert!(before_with_src.len() > before.len());
    let (r, ev) = run(
        &c,
        &cfg(true),
        &input(&src, "release-3"),
        &CancellationToken::new(),
    )
    .await;
    let m = r.unwrap().manifest;
    assert!(m.dry_run);
    assert!(m.retention.iter().all(|x| !x.done));
    assert!(
        !m.retention.is_empty(),
        "the dry run lists what it would retire"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Message(m) if m.starts_with("dry run: would copy to")))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Message(m) if m.ends_with(", share with nobody else"))),
        "sharing in words: {ev:?}"
    );
    assert_eq!(
        inventory(&c, &[HOME, "us-west-2", "eu-west-1"]).await,
        before_with_src,
        "dry run changed something"
    );
    assert_eq!(emu.count("CopyImage", None), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_region_leaves_no_orphans() {
    let emu = Emulator::start(1.0);
    let c = clients(&emu).await;
    let src = source_ami(&c, "web").await;
    let regions = ["us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"];
    let before = inventory(
        &c,
        &[HOME, "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"],
    )
    .await;
    emu.configure(&serde_json::json!({"faults": [
        {"action": "CopyImage", "region": "eu-central-1", "kind": "error", "code": "InvalidParameterValue", "status": 400, "message": "injected"}
    ]}));
    let s = config(serde_json::json!({"regions": regions}));
    let (r, ev) = run(&c, &s, &input(&src, "fail-run"), &CancellationToken::new()).await;
    let f = r.expect_err("must fail");
    assert!(
        f.message
            .contains("eu-central-1: CopyImage: InvalidParameterValue: injected"),
        "{}",
        f.message
    );
    let m = f.manifest.expect("manifest with failures");
    assert!(m.failures.contains_key("eu-central-1"));
    assert_eq!(
        f.cleaned.len(),
        3,
        "the three copies that were made are deleted"
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Message(m) if m.contains("deleted")))
    );
    let after = inventory(
        &c,
        &[HOME, "us-west-2", "eu-west-1", "eu-central-1", "ap-south-1"],
    )
    .await;
    assert_eq!(
        after,
        before,
        "orphaned AMIs or snapshots: {:?}",
        after.difference(&before).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_while_copying_leaves_no_orphans_unless_kept() {
    let emu = Emulator::start(30.0);
    let c = clients(&emu).await;
    let src = source_ami(&c, "web").await;
    let regions = ["us-west-2", "eu-west-1"];
    let all = [HOME, "us-west-2", "eu-west-1"];
    let before = inventory(&c, &all).await;
    for keep in [false, true] {
        let s = config(serde_json::json!({"regions": regions, "keep_on_error": keep}));
        let cancel = CancellationToken::new();
        let trip = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            trip.cancel();
        });
        let started = std::time::Instant::now();
        let (r, _) = run(&c, &s, &input(&src, &format!("cancel-{keep}")), &cancel).await;
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "cancel must stop the 30 s wait"
        );
        let f = r.expect_err("cancelled");
        assert!(f.message.contains("cancelled"), "{}", f.message);
        if keep {
            assert_eq!(f.kept.len(), 2);
            for k in &f.kept {
                assert!(
                    images::describe(&c, &k.region, &k.ami)
                        .await
                        .unwrap()
                        .is_some()
                );
                images::delete(&c, &k.region, &k.ami, &[]).await.unwrap();
            }
        } else {
            assert_eq!(f.cleaned.len(), 2);
            let after = inventory(&c, &all).await;
            assert_eq!(
                after,
                before,
                "orphans: {:?}",
                after.difference(&before).collect::<Vec<_>>()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_percent_throttling_completes_with_exactly_one_copy_per_region() {
    let emu = Emulator::start(0.3);
    let c = clients(&emu).await;
    let src = source_ami(&c, "web").await;
    let regions = &REGIONS[..8];
    emu.configure(&serde_json::json!({"seed": 3, "faults": [{"action": "*", "region": "*", "kind": "throttle", "rate": 0.2}]}));
    let s = config(serde_json::json!({"regions": regions, "max_parallel": 8}));
    let (r, _) = run(&c, &s, &input(&src, "throttled"), &CancellationToken::new()).await;
    let out = r.unwrap_or_else(|f| panic!("{}", f.message));
    assert_eq!(out.manifest.regions.len(), 9);
    emu.configure(&serde_json::json!({"faults": []}));
    for r in regions {
        assert_eq!(
            images::tagged(&c, r, tags::RUN_ID, "throttled")
                .await
                .unwrap()
                .len(),
            1,
            "{r}"
        );
    }
    assert!(
        emu.count("CopyImage", Some("throttle")) + emu.count("DescribeImages", Some("throttle"))
            > 0,
        "throttling really happened"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_copy_response_is_retried_without_a_second_copy() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let src = source_ami(&c, "web").await;
    // the copy happens, but its answer never arrives: the SDK retries with the same ClientToken
    emu.configure(&serde_json::json!({"faults": [{"action": "CopyImage", "region": "us-west-2", "kind": "drop", "after": true, "times": 1}]}));
    let s = config(serde_json::json!({"regions": ["us-west-2"]}));
    let (r, _) = run(&c, &s, &input(&src, "lost"), &CancellationToken::new()).await;
    r.unwrap_or_else(|f| panic!("{}", f.message));
    let owned = c
        .ec2("us-west-2")
        .describe_images()
        .owners("self")
        .send()
        .await
        .unwrap();
    assert_eq!(
        owned.images().len(),
        1,
        "exactly one copy despite the retry"
    );
    assert_eq!(emu.count("CopyImage", None), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_right_after_the_copies_deletes_them_for_real() {
    let emu = Emulator::start(30.0);
    let c = clients(&emu).await;
    let src = source_ami(&c, "web").await;
    let regions = ["us-west-2", "eu-west-1", "eu-central-1"];
    let all = [HOME, "us-west-2", "eu-west-1", "eu-central-1"];
    let before = inventory(&c, &all).await;
    // every new copy stays invisible for 2 s: the rollback's deletes first hear "not found"
    emu.configure(&serde_json::json!({"consistency": {"min_seconds": 2, "max_seconds": 2}}));
    let s = config(serde_json::json!({"regions": regions}));
    let cancel = CancellationToken::new();
    // cancelled the moment the three copies started: the rollback runs inside their window
    let trip = async {
        while emu.count("CopyImage", Some("ok")) < 3 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cancel.cancel();
    };
    let i = input(&src, "rollback");
    let ((r, _), ()) = tokio::join!(run(&c, &s, &i, &cancel), trip);
    let f = r.expect_err("cancelled");
    assert_eq!(f.cleaned.len(), 3, "{}", f.message);
    let hidden = ["DescribeImages", "DeregisterImage"]
        .iter()
        .map(|a| emu.count(a, Some("consistency")))
        .sum::<usize>();
    assert!(
        hidden >= 1,
        "the rollback came while EC2 did not show the copies yet"
    );
    emu.settle();
    let after = inventory(&c, &all).await;
    assert_eq!(
        after,
        before,
        "\"deleted\" copies that still exist: {:?}",
        after.difference(&before).collect::<Vec<_>>()
    );
}
