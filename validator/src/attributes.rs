//! The cheap gate, run before anything is launched: what AWS says about an AMI (state, snapshot
//! encryption and key, ENA, boot mode, IMDS support, launch permissions, tags, deprecation, age)
//! against what it is expected to be. [`fetch`] asks AWS; [`evaluate`] is pure.

use std::time::{Duration, SystemTime};

use amiforge_aws::client::Clients;
use amiforge_aws::images::{self, ImageInfo, SnapshotState};
use amiforge_model::manifest::Sharing;

use amiforge_validator_api::report::{Check, Status};
use amiforge_validator_api::{Policy, Target};

/// What AWS said about one AMI.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// `None`: the AMI does not exist in that region.
    pub image: Option<ImageInfo>,
    pub snapshots: Vec<SnapshotState>,
    pub sharing: Sharing,
}

/// Asks AWS about `t` (DescribeImages, DescribeSnapshots, DescribeImageAttribute).
pub async fn fetch(clients: &Clients, t: &Target) -> Result<Facts, String> {
    let Some(image) = images::describe(clients, &t.region, &t.ami)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(Facts {
            image: None,
            snapshots: Vec::new(),
            sharing: Sharing::default(),
        });
    };
    let ids: Vec<String> = image.snapshots.iter().map(|s| s.id.clone()).collect();
    let snapshots = images::snapshots(clients, &t.region, &ids)
        .await
        .map_err(|e| e.to_string())?;
    let sharing = images::launch_permissions(clients, &t.region, &t.ami)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Facts {
        image: Some(image),
        snapshots,
        sharing,
    })
}

const CHECKS: [&str; 9] = [
    "ami.available",
    "ami.encrypted",
    "ami.ena",
    "ami.boot-mode",
    "ami.imds-v2",
    "ami.launch-permissions",
    "ami.tags",
    "ami.deprecation",
    "ami.shelf-life",
];

/// Every attribute check of `t`, in a fixed order. `kms_key` is the expected key already resolved
/// to an ARN (or as given, when it could not be).
pub fn evaluate(t: &Target, policy: &Policy, facts: &Facts, now: SystemTime) -> Vec<Check> {
    let Some(img) = &facts.image else {
        let mut v = vec![
            Check::new("ami.available", Status::Failed, "available", "not found").with_message(
                "the AMI does not exist in this region (deregistered, or never copied)",
            ),
        ];
        v.extend(CHECKS[1..].iter().map(|n| {
            Check::new(n, Status::Skipped, "", "").with_message("the AMI does not exist")
        }));
        return v;
    };
    vec![
        available(img),
        encrypted(t, policy, facts),
        ena(policy, img),
        boot_mode(policy, img),
        imds(policy, img),
        launch_permissions(t, facts),
        tags(t, policy, img),
        deprecation(t, policy, img, now),
        shelf_life(t, img, now),
    ]
}

fn pass_or_fail(
    name: &str,
    ok: bool,
    expected: impl Into<String>,
    found: impl Into<String>,
) -> Check {
    Check::new(
        name,
        if ok { Status::Passed } else { Status::Failed },
        expected,
        found,
    )
}

fn skipped(name: &str, why: &str) -> Check {
    Check::new(name, Status::Skipped, "", "").with_message(why)
}

fn available(img: &ImageInfo) -> Check {
    pass_or_fail(
        "ami.available",
        img.state == "available",
        "available",
        img.state.as_str(),
    )
}

/// A key reference matches an ARN when it is that ARN, or its key id.
fn same_key(found: &str, expected: &str) -> bool {
    found == expected || found.rsplit('/').next() == Some(expected)
}

fn encrypted(t: &Target, policy: &Policy, facts: &Facts) -> Check {
    const N: &str = "ami.encrypted";
    if policy.allow_unencrypted && t.expect.kms_key.is_none() {
        return skipped(N, "encryption not required");
    }
    if facts.snapshots.is_empty() {
        return Check::new(N, Status::Failed, "encrypted snapshots", "no snapshots")
            .with_message("the AMI has no EBS snapshots");
    }
    let expected = t
        .expect
        .kms_key
        .as_deref()
        .map(|k| format!("encrypted with {k}"))
        .unwrap_or_else(|| "encrypted".into());
    for s in &facts.snapshots {
        if !s.encrypted {
            return Check::new(N, Status::Failed, expected, "unencrypted")
                .with_message(format!("snapshot {}", s.id));
        }
        if let Some(want) = &t.expect.kms_key {
            let got = s.kms_key.as_deref().unwrap_or("the default EBS key");
            if !same_key(got, want) {
                return Check::new(N, Status::Failed, expected, format!("encrypted with {got}"))
                    .with_message(format!("snapshot {}", s.id));
            }
        }
    }
    let keys: Vec<&str> = facts
        .snapshots
        .iter()
        .filter_map(|s| s.kms_key.as_deref())
        .collect();
    Check::new(
        N,
        Status::Passed,
        expected,
        format!("encrypted with {}", keys.join(", ")),
    )
}

fn ena(policy: &Policy, img: &ImageInfo) -> Check {
    if policy.allow_no_ena {
        return skipped("ami.ena", "ENA not required");
    }
    let found = match img.ena_support {
        Some(true) => "enabled",
        Some(false) => "disabled",
        None => "not set",
    };
    pass_or_fail("ami.ena", img.ena_support == Some(true), "enabled", found)
}

fn boot_mode(policy: &Policy, img: &ImageInfo) -> Check {
    let Some(want) = &policy.boot_mode else {
        return skipped("ami.boot-mode", "no boot mode required");
    };
    let found = img.boot_mode.as_deref().unwrap_or("not set");
    pass_or_fail(
        "ami.boot-mode",
        found == want.as_str(),
        want.as_str(),
        found,
    )
}

fn imds(policy: &Policy, img: &ImageInfo) -> Check {
    if policy.allow_imds_v1 {
        return skipped("ami.imds-v2", "IMDSv2 not required");
    }
    let found = img
        .imds_support
        .as_deref()
        .unwrap_or("not set (IMDSv1 allowed)");
    pass_or_fail(
        "ami.imds-v2",
        img.imds_support.as_deref() == Some("v2.0"),
        "v2.0",
        found,
    )
}

fn sharing_text(s: &Sharing) -> String {
    let mut parts = Vec::new();
    if s.public {
        parts.push("PUBLIC".to_string());
    }
    parts.extend(s.account_ids.iter().map(|a| format!("account {a}")));
    parts.extend(s.org_arns.iter().map(|a| format!("org {a}")));
    parts.extend(s.ou_arns.iter().map(|a| format!("ou {a}")));
    if parts.is_empty() {
        "private".into()
    } else {
        parts.join(", ")
    }
}

fn sorted(s: &Sharing) -> Sharing {
    let mut s = s.clone();
    s.account_ids.sort();
    s.org_arns.sort();
    s.ou_arns.sort();
    s
}

fn launch_permissions(t: &Target, facts: &Facts) -> Check {
    const N: &str = "ami.launch-permissions";
    let found = sorted(&facts.sharing);
    match &t.expect.sharing {
        Some(want) => {
            let want = sorted(want);
            let c = pass_or_fail(N, found == want, sharing_text(&want), sharing_text(&found));
            if found.public && !want.public {
                c.with_message("the AMI is public: anyone can launch it")
            } else {
                c
            }
        }
        None => pass_or_fail(N, !found.public, "not public", sharing_text(&found)),
    }
}

fn tags(t: &Target, policy: &Policy, img: &ImageInfo) -> Check {
    let mut want: Vec<(String, Option<String>)> = t
        .expect
        .tags
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    for (k, v) in policy.required_tags.iter() {
        if !t.expect.tags.contains_key(k) {
            want.push((k.clone(), (!v.is_empty()).then(|| v.clone())));
        }
    }
    if want.is_empty() {
        return skipped("ami.tags", "no tags required");
    }
    let mut problems = Vec::new();
    for (k, v) in &want {
        match (img.tags.get(k), v) {
            (None, _) => problems.push(format!("{k} missing")),
            (Some(got), Some(v)) if got != v => problems.push(format!("{k}={got}")),
            _ => {}
        }
    }
    let expected = want
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => k.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    if problems.is_empty() {
        Check::new(
            "ami.tags",
            Status::Passed,
            expected,
            format!("{} tag(s) present", want.len()),
        )
    } else {
        Check::new("ami.tags", Status::Failed, expected, problems.join(", "))
    }
}

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(s.trim_end_matches('Z').trim_end_matches(".000"))
        .ok()
        .or_else(|| humantime::parse_rfc3339(s).ok())
}

fn deprecation(t: &Target, policy: &Policy, img: &ImageInfo, now: SystemTime) -> Check {
    const N: &str = "ami.deprecation";
    if policy.allow_no_deprecation && t.expect.deprecation_time.is_none() {
        return skipped(N, "deprecation not required");
    }
    let Some(found) = img.deprecation_time.as_deref() else {
        return Check::new(
            N,
            Status::Failed,
            t.expect
                .deprecation_time
                .as_deref()
                .unwrap_or("a deprecation time"),
            "none",
        )
        .with_message("an AMI without a deprecation time is never retired");
    };
    let Some(at) = parse_time(found) else {
        return Check::new(N, Status::Error, "an RFC 3339 time", found);
    };
    if at <= now {
        return Check::new(N, Status::Failed, "a time in the future", found)
            .with_message("the AMI is already deprecated");
    }
    if let Some(want) = &t.expect.deprecation_time {
        // AWS rounds deprecation times to the minute
        let close = parse_time(want).is_some_and(|w| {
            let d = if w > at {
                w.duration_since(at)
            } else {
                at.duration_since(w)
            };
            d.unwrap_or_default() <= Duration::from_secs(60)
        });
        return pass_or_fail(N, close, want.as_str(), found);
    }
    Check::new(N, Status::Passed, "a deprecation time", found)
}

fn shelf_life(t: &Target, img: &ImageInfo, now: SystemTime) -> Check {
    const N: &str = "ami.shelf-life";
    let Some(strategy) = t.expect.strategy else {
        return skipped(N, "no strategy given (full, hybrid or os-only)");
    };
    let life = strategy.shelf_life();
    let Some(created) = parse_time(&img.creation_date) else {
        return Check::new(
            N,
            Status::Error,
            "a creation date",
            img.creation_date.as_str(),
        );
    };
    let age = now.duration_since(created).unwrap_or_default();
    let days = |d: Duration| d.as_secs() / 86400;
    pass_or_fail(
        N,
        age <= life,
        format!("at most {} days old ({strategy})", days(life)),
        format!("{} days old (created {})", days(age), img.creation_date),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use amiforge_validator_api::request::Expect;

    const KEY: &str = "arn:aws:kms:eu-west-1:123456789012:key/k1";

    fn good() -> (Target, Facts) {
        let tags = BTreeMap::from([("team".to_string(), "platform".to_string())]);
        let t = Target {
            region: "eu-west-1".into(),
            ami: "ami-1".into(),
            expect: Expect {
                kms_key: Some(KEY.into()),
                sharing: Some(Sharing {
                    account_ids: vec!["111122223333".into()],
                    ..Sharing::default()
                }),
                tags: tags.clone(),
                deprecation_time: Some("2027-05-01T00:00:00.000Z".into()),
                strategy: Some(amiforge_model::Strategy::Hybrid),
                profile_sha256: None,
                ..Expect::default()
            },
        };
        let f = Facts {
            image: Some(ImageInfo {
                id: "ami-1".into(),
                region: "eu-west-1".into(),
                name: "web".into(),
                description: String::new(),
                state: "available".into(),
                creation_date: "2026-11-01T00:00:00.000Z".into(),
                snapshots: Vec::new(),
                tags,
                deprecation_time: Some("2027-05-01T00:00:00.000Z".into()),
                public: false,
                ena_support: Some(true),
                boot_mode: Some("uefi".into()),
                imds_support: Some("v2.0".into()),
                architecture: Some("x86_64".into()),
                platform: None,
            }),
            snapshots: vec![SnapshotState {
                id: "snap-1".into(),
                state: "completed".into(),
                progress: "100%".into(),
                size_gb: 8,
                encrypted: true,
                kms_key: Some(KEY.into()),
            }],
            sharing: Sharing {
                account_ids: vec!["111122223333".into()],
                ..Sharing::default()
            },
        };
        (t, f)
    }

    fn now() -> SystemTime {
        humantime::parse_rfc3339("2026-11-27T00:00:00Z").unwrap()
    }

    fn status_of(checks: &[Check], name: &str) -> Status {
        checks.iter().find(|c| c.name == name).unwrap().status
    }

    #[test]
    fn a_good_ami_passes_everything_but_unrequested_boot_mode() {
        let (t, f) = good();
        let c = evaluate(&t, &Policy::default(), &f, now());
        assert_eq!(c.len(), CHECKS.len());
        for x in &c {
            let want = if x.name == "ami.boot-mode" {
                Status::Skipped
            } else {
                Status::Passed
            };
            assert_eq!(x.status, want, "{x:?}");
        }
    }

    #[test]
    fn each_wrong_attribute_fails_only_its_check() {
        type Spoil = Box<dyn Fn(&mut Target, &mut Facts)>;
        let cases: Vec<(&str, Spoil)> = vec![
            (
                "ami.available",
                Box::new(|_, f| f.image.as_mut().unwrap().state = "pending".into()),
            ),
            (
                "ami.encrypted",
                Box::new(|_, f| f.snapshots[0].encrypted = false),
            ),
            (
                "ami.encrypted",
                Box::new(|_, f| {
                    f.snapshots[0].kms_key =
                        Some("arn:aws:kms:eu-west-1:123456789012:key/other".into())
                }),
            ),
            (
                "ami.ena",
                Box::new(|_, f| f.image.as_mut().unwrap().ena_support = None),
            ),
            (
                "ami.imds-v2",
                Box::new(|_, f| f.image.as_mut().unwrap().imds_support = None),
            ),
            (
                "ami.launch-permissions",
                Box::new(|_, f| f.sharing.public = true),
            ),
            (
                "ami.launch-permissions",
                Box::new(|_, f| f.sharing.account_ids.push("444455556666".into())),
            ),
            (
                "ami.tags",
                Box::new(|_, f| {
                    f.image.as_mut().unwrap().tags.clear();
                }),
            ),
            (
                "ami.deprecation",
                Box::new(|_, f| f.image.as_mut().unwrap().deprecation_time = None),
            ),
            (
                "ami.deprecation",
                Box::new(|_, f| {
                    f.image.as_mut().unwrap().deprecation_time =
                        Some("2026-01-01T00:00:00.000Z".into())
                }),
            ),
            (
                "ami.shelf-life",
                Box::new(|_, f| {
                    f.image.as_mut().unwrap().creation_date = "2026-01-01T00:00:00.000Z".into()
                }),
            ),
            (
                "ami.shelf-life",
                Box::new(|t, _| t.expect.strategy = Some(amiforge_model::Strategy::Full)),
            ),
        ];
        for (name, mutate) in cases {
            let (mut t, mut f) = good();
            if name == "ami.shelf-life" {
                // 118 days old: within hybrid's 180 days, beyond full's 90
                f.image.as_mut().unwrap().creation_date = "2026-08-01T00:00:00.000Z".into();
            }
            mutate(&mut t, &mut f);
            let c = evaluate(&t, &Policy::default(), &f, now());
            let failed: Vec<&str> = c
                .iter()
                .filter(|x| x.status == Status::Failed)
                .map(|x| x.name.as_str())
                .collect();
            assert_eq!(failed, [name], "{c:#?}");
        }
    }

    #[test]
    fn a_public_ami_says_so_and_a_key_id_matches_its_arn() {
        let (mut t, mut f) = good();
        f.sharing.public = true;
        let c = evaluate(&t, &Policy::default(), &f, now());
        let lp = c
            .iter()
            .find(|x| x.name == "ami.launch-permissions")
            .unwrap();
        assert!(
            lp.found.contains("PUBLIC") && lp.message.contains("public"),
            "{lp:?}"
        );
        t.expect.kms_key = Some("k1".into());
        f.sharing.public = false;
        assert_eq!(
            status_of(
                &evaluate(&t, &Policy::default(), &f, now()),
                "ami.encrypted"
            ),
            Status::Passed
        );
    }

    #[test]
    fn a_missing_ami_fails_once_and_skips_the_rest() {
        let (t, mut f) = good();
        f.image = None;
        let c = evaluate(&t, &Policy::default(), &f, now());
        assert_eq!(c[0].status, Status::Failed);
        assert!(c[1..].iter().all(|x| x.status == Status::Skipped));
        assert_eq!(c.len(), CHECKS.len());
    }

    #[test]
    fn policy_switches_turn_checks_off_and_required_tags_add_to_expected_ones() {
        let (mut t, mut f) = good();
        t.expect = Expect::default();
        f.image.as_mut().unwrap().ena_support = Some(false);
        let p = Policy {
            allow_no_ena: true,
            required_tags: BTreeMap::from([("owner".into(), String::new())]).into(),
            boot_mode: Some(amiforge_validator_api::settings::BootMode::LegacyBios),
            ..Policy::default()
        };
        let c = evaluate(&t, &p, &f, now());
        assert_eq!(status_of(&c, "ami.ena"), Status::Skipped);
        assert_eq!(status_of(&c, "ami.tags"), Status::Failed);
        assert_eq!(status_of(&c, "ami.boot-mode"), Status::Failed);
        assert_eq!(status_of(&c, "ami.shelf-life"), Status::Skipped);
        assert_eq!(status_of(&c, "ami.launch-permissions"), Status::Passed);
    }
}
