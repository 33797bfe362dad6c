//! Test support shared by the validator's integration tests: emulator clients and KMS keys (from
//! the e2e harness), a replicated release like amiforge-replicate makes, the "nothing left"
//! assertion; [`guest`]: root shells in the sandbox and a sandbox hardened the way
//! amiforge-harden does it; [`grpc`]: a validator server in the test process and its clients;
//! [`process`]: the `serve` binary as a child process.
#![allow(dead_code)]

pub mod grpc;
pub mod guest;
pub mod process;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use amiforge_aws::client::Clients;
use amiforge_aws::images::{self, CopyRequest};
use amiforge_aws::instances;
// not every test binary that includes this module uses it (like `dead_code` above)
#[allow(unused_imports)]
pub use amiforge_e2e::emulator::clients;
use amiforge_e2e::emulator::{BASE_AMI, create_kms_key};
use amiforge_model::manifest::{Manifest, RegionImage, Sharing, SourceImage};
use amiforge_model::tags;

pub const HOME: &str = "us-east-1";
pub const ACCOUNT: &str = "111122223333";

/// A KMS key (ARN) in `region`.
pub async fn key(c: &Clients, region: &str) -> String {
    create_kms_key(c, region, None).await
}

/// What replicate would have made: per region an encrypted copy of the base AMI with its own
/// key, tagged, shared with one account, deprecated in 6 months; and its manifest.
pub async fn release(c: &Clients, regions: &[&str]) -> Manifest {
    let sharing = Sharing {
        account_ids: vec![ACCOUNT.into()],
        ..Sharing::default()
    };
    let tags = BTreeMap::from([("team".to_string(), "platform".to_string())]);
    release_with(c, regions, sharing, tags, None).await
}

/// A private, untagged release whose manifest records the build's hardening digests (what the
/// in-guest checks compare the image's evidence with).
pub async fn hardened_release(
    c: &Clients,
    regions: &[&str],
    hardening: Option<amiforge_model::manifest::Hardening>,
) -> Manifest {
    release_with(c, regions, Sharing::default(), BTreeMap::new(), hardening).await
}

/// Per region an encrypted copy of the base AMI with its own key, tagged `tags`, shared as
/// `sharing` says, deprecated in 6 months; and its sealed manifest.
pub async fn release_with(
    c: &Clients,
    regions: &[&str],
    sharing: Sharing,
    tags: BTreeMap<String, String>,
    hardening: Option<amiforge_model::manifest::Hardening>,
) -> Manifest {
    let mut m = Manifest {
        schema: amiforge_model::manifest::SCHEMA.into(),
        sha256: String::new(),
        generated_at: "2026-11-27T00:00:00Z".into(),
        build: BTreeMap::new(),
        source: SourceImage {
            region: HOME.into(),
            ami: BASE_AMI.into(),
            name: "base".into(),
            snapshots: Vec::new(),
        },
        family: "web".into(),
        strategy: amiforge_model::Strategy::Hybrid,
        regions: BTreeMap::new(),
        failures: BTreeMap::new(),
        sharing,
        cost: Default::default(),
        hardening,
        ssm_parameter: None,
        retention: Vec::new(),
        dry_run: false,
    };
    let deprecate = SystemTime::now() + Duration::from_secs(180 * 86400);
    for r in regions {
        let k = key(c, r).await;
        let ami = images::copy(
            c,
            r,
            &CopyRequest {
                source_region: HOME,
                source_ami: BASE_AMI,
                name: &format!("web-{r}"),
                description: "test release",
                kms_key: Some(&k),
                client_token: &format!("release-{r}"),
            },
        )
        .await
        .unwrap();
        let (_, snaps) = images::wait_available(c, r, &ami, Duration::from_secs(60), |_| {})
            .await
            .unwrap();
        let snap_ids: Vec<String> = snaps.iter().map(|s| s.id.clone()).collect();
        let t = tags.clone();
        let mut resources = vec![ami.clone()];
        resources.extend(snap_ids.clone());
        images::tag(c, r, &resources, &t).await.unwrap();
        images::share(c, r, &ami, &snap_ids, &m.sharing)
            .await
            .unwrap();
        images::deprecate(c, r, &ami, deprecate).await.unwrap();
        let info = images::describe(c, r, &ami).await.unwrap().unwrap();
        m.regions.insert(
            r.to_string(),
            RegionImage {
                ami,
                snapshots: snap_ids,
                kms_key: Some(k),
                encrypted: true,
                state: "available".into(),
                tags: t,
                deprecation_time: info.deprecation_time,
                source: false,
            },
        );
    }
    m.seal();
    m
}

/// Nothing of the validator's left in `regions` (once the emulator is consistent again: a
/// resource made a moment ago is not listed yet).
pub async fn assert_nothing_left(c: &Clients, regions: &[&str]) {
    tokio::time::sleep(amiforge_e2e::emulator::settle_time()).await;
    for r in regions {
        let t = instances::find_tagged(c, r, tags::MANAGED_BY, "amiforge-validator")
            .await
            .unwrap();
        assert!(t.is_empty(), "{r}: left behind: {t:#?}");
    }
}

/// Makes `ami` in `region` public (launch permission for group `all`): a deliberately wrong AMI.
pub async fn make_public(c: &Clients, region: &str, ami: &str) {
    c.ec2(region)
        .modify_image_attribute()
        .image_id(ami)
        .launch_permission(
            aws_sdk_ec2::types::LaunchPermissionModifications::builder()
                .add(
                    aws_sdk_ec2::types::LaunchPermission::builder()
                        .group(aws_sdk_ec2::types::PermissionGroup::All)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
}
