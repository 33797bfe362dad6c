//! AMIs and their snapshots across regions: describe, copy (idempotent with a client token),
//! wait with progress, tag, share, deprecate, and delete (deregister, then its snapshots). A copy's
//! new ids are recorded in [`crate::consistency`]: calls naming them ride out EC2's eventual
//! consistency, and deletes are confirmed, never counted on a NotFound alone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_ec2::types::{
    Filter, LaunchPermission, LaunchPermissionModifications, OperationType, PermissionGroup,
    SnapshotAttributeName, Tag,
};

use crate::client::Clients;
use crate::consistency;
use crate::error::{Error, ErrorKind, Result};
use amiforge_model::Sharing;

/// One snapshot behind an AMI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRef {
    pub id: String,
    pub size_gb: u64,
    pub encrypted: bool,
    pub kms_key: Option<String>,
}

/// What amiforge needs to know about an AMI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub region: String,
    pub name: String,
    pub description: String,
    pub state: String,
    pub creation_date: String,
    pub snapshots: Vec<SnapshotRef>,
    pub tags: BTreeMap<String, String>,
    pub deprecation_time: Option<String>,
    pub public: bool,
    /// `EnaSupport` (None: not reported).
    pub ena_support: Option<bool>,
    /// `uefi`, `legacy-bios`, `uefi-preferred`.
    pub boot_mode: Option<String>,
    /// `v2.0` when instances launched from it require IMDSv2.
    pub imds_support: Option<String>,
    pub architecture: Option<String>,
    /// `windows` for Windows AMIs.
    pub platform: Option<String>,
}

fn info(region: &str, i: &aws_sdk_ec2::types::Image) -> ImageInfo {
    ImageInfo {
        id: i.image_id().unwrap_or_default().to_string(),
        region: region.to_string(),
        name: i.name().unwrap_or_default().to_string(),
        description: i.description().unwrap_or_default().to_string(),
        state: i
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        creation_date: i.creation_date().unwrap_or_default().to_string(),
        snapshots: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| m.ebs())
            .filter_map(|e| {
                Some(SnapshotRef {
                    id: e.snapshot_id()?.to_string(),
                    size_gb: e.volume_size().unwrap_or(0).max(0) as u64,
                    encrypted: e.encrypted().unwrap_or(false),
                    kms_key: e.kms_key_id().map(str::to_string),
                })
            })
            .collect(),
        tags: i
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        deprecation_time: i.deprecation_time().map(str::to_string),
        public: i.public().unwrap_or(false),
        ena_support: i.ena_support(),
        boot_mode: i.boot_mode().map(|b| b.as_str().to_string()),
        imds_support: i.imds_support().map(|b| b.as_str().to_string()),
        architecture: i.architecture().map(|a| a.as_str().to_string()),
        platform: i.platform().map(|p| p.as_str().to_string()),
    }
}

/// The region names this account can use (DescribeRegions, all regions).
pub async fn regions(clients: &Clients, home: &str) -> Result<Vec<String>> {
    let out = clients
        .ec2(home)
        .describe_regions()
        .all_regions(true)
        .send()
        .await
        .map_err(|e| Error::sdk("DescribeRegions", &e))?;
    Ok(out
        .regions()
        .iter()
        .filter_map(|r| r.region_name().map(str::to_string))
        .collect())
}

/// Describes `ami` in `region`; `None` when it does not exist (or is deregistered). A copy this
/// process just started is waited for within the consistency window first.
pub async fn describe(clients: &Clients, region: &str, ami: &str) -> Result<Option<ImageInfo>> {
    let ec2 = &clients.ec2(region);
    match consistency::retry(clients.consistency(), region, &[ami], || async move {
        ec2.describe_images()
            .image_ids(ami)
            .send()
            .await
            .map_err(|e| Error::sdk("DescribeImages", &e))
    })
    .await
    {
        Ok(out) => Ok(out.images().first().map(|i| info(region, i))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Snapshot details (size, encryption, key) for the snapshots of an image.
pub async fn snapshots(
    clients: &Clients,
    region: &str,
    ids: &[String],
) -> Result<Vec<SnapshotState>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let ec2 = &clients.ec2(region);
    let named: Vec<&str> = ids.iter().map(String::as_str).collect();
    let out = consistency::retry(clients.consistency(), region, &named, || async move {
        ec2.describe_snapshots()
            .set_snapshot_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(|e| Error::sdk("DescribeSnapshots", &e))
    })
    .await?;
    Ok(out
        .snapshots()
        .iter()
        .map(|s| SnapshotState {
            id: s.snapshot_id().unwrap_or_default().to_string(),
            state: s
                .state()
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
            progress: s.progress().unwrap_or_default().to_string(),
            size_gb: s.volume_size().unwrap_or(0).max(0) as u64,
            encrypted: s.encrypted().unwrap_or(false),
            kms_key: s.kms_key_id().map(str::to_string),
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotState {
    pub id: String,
    pub state: String,
    /// As AWS reports it, e.g. `"42%"`.
    pub progress: String,
    pub size_gb: u64,
    pub encrypted: bool,
    pub kms_key: Option<String>,
}

/// Parameters of one copy.
pub struct CopyRequest<'a> {
    pub source_region: &'a str,
    pub source_ami: &'a str,
    pub name: &'a str,
    pub description: &'a str,
    /// Key ARN in the destination region (`None`: the region's default EBS key).
    pub kms_key: Option<&'a str>,
    /// Same token → same copy, however often the call is retried (≤ 64 ASCII characters).
    pub client_token: &'a str,
}

/// Starts an encrypted copy into `dest`; returns the new AMI id.
pub async fn copy(clients: &Clients, dest: &str, r: &CopyRequest<'_>) -> Result<String> {
    let out = clients
        .ec2(dest)
        .copy_image()
        .source_region(r.source_region)
        .source_image_id(r.source_ami)
        .name(r.name)
        .description(r.description)
        .encrypted(true)
        .set_kms_key_id(r.kms_key.map(str::to_string))
        .client_token(r.client_token)
        .send()
        .await
        .map_err(|e| Error::sdk("CopyImage", &e))?;
    let id = out
        .image_id()
        .ok_or_else(|| Error::bad_answer("CopyImage", "image id"))?;
    clients.consistency().born(dest, id);
    Ok(id.to_string())
}

/// Progress of a copy being waited on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub state: String,
    /// Mean snapshot progress in percent, when AWS reports it.
    pub percent: Option<u32>,
}

/// The next poll: half the time the progress so far predicts is left (so polls get denser as a
/// copy nears its end and the finish is seen within a second), between 1 s and 15 s; without
/// progress, a geometric backoff to 15 s.
pub fn next_poll(elapsed: Duration, percent: Option<u32>, previous: Duration) -> Duration {
    const MIN: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(15);
    match percent {
        Some(p) if p > 0 && p < 100 => {
            let eta = elapsed.mul_f64(f64::from(100 - p) / f64::from(p));
            (eta / 2).clamp(MIN, MAX)
        }
        _ => (previous * 3 / 2).clamp(MIN, MAX),
    }
}

/// Waits until `ami` in `region` is `available` (error on `failed`/`error`/vanished or after
/// `timeout`); returns it with its snapshots' final state (encryption, key). While the snapshots
/// are being copied it polls only DescribeSnapshots (one call per poll), and DescribeImages once
/// they are done; `on_progress` sees each poll.
pub async fn wait_available(
    clients: &Clients,
    region: &str,
    ami: &str,
    timeout: Duration,
    mut on_progress: impl FnMut(&Progress),
) -> Result<(ImageInfo, Vec<SnapshotState>)> {
    let start = Instant::now();
    // a copy takes minutes on AWS: the first look only needs to find its snapshots
    let mut delay = Duration::from_millis(1300);
    let mut snaps: Vec<String> = Vec::new();
    let mut snaps_done = false;
    loop {
        let (state, percent) = if snaps.is_empty() || snaps_done {
            let img = describe(clients, region, ami).await?.ok_or_else(|| {
                Error::new(
                    "waiting for the copy",
                    ErrorKind::NotFound,
                    format!("{ami} disappeared while copying"),
                )
            })?;
            // the copy's snapshots are as new as the copy
            if let Some(born) = clients.consistency().born_when(region, ami) {
                for s in &img.snapshots {
                    clients.consistency().born_at(region, &s.id, born);
                }
            }
            match img.state.as_str() {
                "available" => {
                    on_progress(&Progress {
                        state: img.state.clone(),
                        percent: Some(100),
                    });
                    let ids: Vec<String> = img.snapshots.iter().map(|x| x.id.clone()).collect();
                    let details = snapshots(clients, region, &ids).await?;
                    return Ok((img, details));
                }
                "failed" | "error" | "invalid" | "deregistered" => {
                    return Err(Error::new(
                        "waiting for the copy",
                        ErrorKind::Unusable,
                        format!("{ami} ended in state {}", img.state),
                    ));
                }
                _ => {}
            }
            snaps = img.snapshots.iter().map(|x| x.id.clone()).collect();
            snaps_done = false;
            (img.state, None)
        } else {
            let st = snapshots(clients, region, &snaps).await?;
            if st.iter().any(|x| x.state == "error") {
                return Err(Error::new(
                    "waiting for the copy",
                    ErrorKind::Unusable,
                    format!("a snapshot of {ami} failed to copy"),
                ));
            }
            let vals: Vec<u32> = st
                .iter()
                .filter_map(|x| x.progress.trim_end_matches('%').parse::<u32>().ok())
                .collect();
            snaps_done = !st.is_empty() && st.iter().all(|x| x.state == "completed");
            let pct = (!vals.is_empty()).then(|| vals.iter().sum::<u32>() / vals.len() as u32);
            ("pending".to_string(), pct)
        };
        on_progress(&Progress { state, percent });
        if start.elapsed() >= timeout {
            return Err(Error::new(
                "waiting for the copy",
                ErrorKind::Timeout,
                format!(
                    "{ami} not available after {}",
                    humantime::format_duration(timeout)
                ),
            ));
        }
        if snaps_done {
            continue; // snapshots are done: look at the image right away
        }
        delay = next_poll(start.elapsed(), percent, delay);
        tokio::time::sleep(delay.min(timeout.saturating_sub(start.elapsed()))).await;
    }
}

/// Tags `resources` (images and snapshots) in `region`.
pub async fn tag(
    clients: &Clients,
    region: &str,
    resources: &[String],
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    if resources.is_empty() || tags.is_empty() {
        return Ok(());
    }
    let ec2 = &clients.ec2(region);
    let named: Vec<&str> = resources.iter().map(String::as_str).collect();
    let tags: &Vec<Tag> = &tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    consistency::retry(clients.consistency(), region, &named, || async move {
        ec2.create_tags()
            .set_resources(Some(resources.to_vec()))
            .set_tags(Some(tags.clone()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::sdk("CreateTags", &e))
    })
    .await
}

/// Shares the AMI (launch permissions) and its snapshots (create-volume permission, accounts
/// only) exactly as `s` says; `public` only when it is set.
pub async fn share(
    clients: &Clients,
    region: &str,
    ami: &str,
    snapshots: &[String],
    s: &Sharing,
) -> Result<()> {
    let mut perms: Vec<LaunchPermission> = Vec::new();
    perms.extend(
        s.account_ids
            .iter()
            .map(|a| LaunchPermission::builder().user_id(a).build()),
    );
    perms.extend(
        s.org_arns
            .iter()
            .map(|a| LaunchPermission::builder().organization_arn(a).build()),
    );
    perms.extend(s.ou_arns.iter().map(|a| {
        LaunchPermission::builder()
            .organizational_unit_arn(a)
            .build()
    }));
    if s.public {
        perms.push(
            LaunchPermission::builder()
                .group(PermissionGroup::All)
                .build(),
        );
    }
    let (ec2, c) = (&clients.ec2(region), clients.consistency());
    if !perms.is_empty() {
        let add = &LaunchPermissionModifications::builder()
            .set_add(Some(perms))
            .build();
        consistency::retry(c, region, &[ami], || async move {
            ec2.modify_image_attribute()
                .image_id(ami)
                .launch_permission(add.clone())
                .send()
                .await
                .map_err(|e| Error::sdk("ModifyImageAttribute", &e))
        })
        .await?;
    }
    if !s.account_ids.is_empty() {
        for snap in snapshots {
            consistency::retry(c, region, &[snap], || async move {
                ec2.modify_snapshot_attribute()
                    .snapshot_id(snap)
                    .attribute(SnapshotAttributeName::CreateVolumePermission)
                    .operation_type(OperationType::Add)
                    .set_user_ids(Some(s.account_ids.clone()))
                    .send()
                    .await
                    .map_err(|e| Error::sdk("ModifySnapshotAttribute", &e))
            })
            .await?;
        }
    }
    Ok(())
}

/// Who may launch `ami`, as AWS reports it.
pub async fn launch_permissions(clients: &Clients, region: &str, ami: &str) -> Result<Sharing> {
    let ec2 = &clients.ec2(region);
    let out = consistency::retry(clients.consistency(), region, &[ami], || async move {
        ec2.describe_image_attribute()
            .image_id(ami)
            .attribute(aws_sdk_ec2::types::ImageAttributeName::LaunchPermission)
            .send()
            .await
            .map_err(|e| Error::sdk("DescribeImageAttribute", &e))
    })
    .await?;
    let mut s = Sharing::default();
    for p in out.launch_permissions() {
        if let Some(u) = p.user_id() {
            s.account_ids.push(u.to_string());
        }
        if let Some(o) = p.organization_arn() {
            s.org_arns.push(o.to_string());
        }
        if let Some(o) = p.organizational_unit_arn() {
            s.ou_arns.push(o.to_string());
        }
        if p.group() == Some(&PermissionGroup::All) {
            s.public = true;
        }
    }
    s.account_ids.sort();
    s.org_arns.sort();
    s.ou_arns.sort();
    Ok(s)
}

/// Sets the deprecation time of `ami`.
pub async fn deprecate(clients: &Clients, region: &str, ami: &str, at: SystemTime) -> Result<()> {
    let ec2 = &clients.ec2(region);
    consistency::retry(clients.consistency(), region, &[ami], || async move {
        ec2.enable_image_deprecation()
            .image_id(ami)
            .deprecate_at(aws_smithy_types::DateTime::from(at))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::sdk("EnableImageDeprecation", &e))
    })
    .await
}

/// Deregisters `ami` and deletes its snapshots (retrying while AWS still sees them in use).
/// Really gone resources count as deleted; a copy this process just made that EC2 does not show
/// yet is waited for, not counted as deleted ([`consistency::delete`]).
pub async fn delete(
    clients: &Clients,
    region: &str,
    ami: &str,
    snapshots: &[String],
) -> Result<()> {
    let (ec2, c) = (&clients.ec2(region), clients.consistency());
    consistency::delete(c, region, ami, || async move {
        ec2.deregister_image()
            .image_id(ami)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::sdk("DeregisterImage", &e))
    })
    .await?;
    for snap in snapshots {
        consistency::delete(c, region, snap, || delete_snapshot(ec2, snap)).await?;
    }
    Ok(())
}

/// DeleteSnapshot, retried while AWS still sees the snapshot in use by the AMI just deregistered.
async fn delete_snapshot(ec2: &aws_sdk_ec2::Client, snap: &str) -> Result<()> {
    let mut tries = 0;
    loop {
        match ec2.delete_snapshot().snapshot_id(snap).send().await {
            Ok(_) => return Ok(()),
            Err(e) => {
                let e = Error::sdk("DeleteSnapshot", &e);
                tries += 1;
                if e.is(ErrorKind::DependencyViolation) && tries < 20 {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                return Err(e);
            }
        }
    }
}

/// AMIs of `family` owned by this account in `region`, newest first.
pub async fn family(clients: &Clients, region: &str, family: &str) -> Result<Vec<ImageInfo>> {
    let out = clients
        .ec2(region)
        .describe_images()
        .owners("self")
        .filters(
            Filter::builder()
                .name(format!("tag:{}", amiforge_model::tags::FAMILY))
                .values(family)
                .build(),
        )
        .send()
        .await
        .map_err(|e| Error::sdk("DescribeImages", &e))?;
    let mut v: Vec<ImageInfo> = out.images().iter().map(|i| info(region, i)).collect();
    v.sort_by(|a, b| b.creation_date.cmp(&a.creation_date).then(b.id.cmp(&a.id)));
    Ok(v)
}

/// Every AMI owned by this account in `region` carrying tag `key` = `value` (leak checks, sweep).
pub async fn tagged(
    clients: &Clients,
    region: &str,
    key: &str,
    value: &str,
) -> Result<Vec<ImageInfo>> {
    let out = clients
        .ec2(region)
        .describe_images()
        .owners("self")
        .filters(
            Filter::builder()
                .name(format!("tag:{key}"))
                .values(value)
                .build(),
        )
        .send()
        .await
        .map_err(|e| Error::sdk("DescribeImages", &e))?;
    Ok(out.images().iter().map(|i| info(region, i)).collect())
}

#[cfg(test)]
mod tests {
    use super::next_poll;
    use std::time::Duration;

    #[test]
    fn polls_get_denser_near_the_end() {
        let s = Duration::from_secs;
        // 10 % after 30 s: 4.5 min left, poll at the 15 s cap
        assert_eq!(next_poll(s(30), Some(10), s(1)), s(15));
        // 80 % after 40 s: 10 s left, poll in 5 s
        assert_eq!(next_poll(s(40), Some(80), s(15)), s(5));
        // 99 %: at the 1 s floor
        assert_eq!(next_poll(s(100), Some(99), s(5)), s(1));
        // no progress: backoff 1 -> 1.5 -> ... -> 15 s
        assert_eq!(next_poll(s(1), None, Duration::from_millis(500)), s(1));
        assert_eq!(next_poll(s(1), None, s(2)), s(3));
        assert_eq!(next_poll(s(1), None, s(12)), s(15));
    }
}
