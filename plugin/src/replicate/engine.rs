//! The replication itself, independent of Packer (tested directly against the AWS emulator):
//! preflight (regions exist, the source is available, every KMS key exists in its region — all
//! before the first copy), concurrent idempotent copies with progress, tags on images and
//! snapshots, sharing, deprecation, SSM pointers, retention, the manifest — and cleanup of every
//! copy it made when a region fails or the run is cancelled (unless told to keep them).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use amiforge_aws::client::Clients;
use amiforge_aws::images::{self, CopyRequest, ImageInfo};
use amiforge_aws::{kms, ssm};
use amiforge_model::manifest::{Hardening, Manifest, RegionImage, Retired, SourceImage};
use amiforge_model::{cost, tags};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;

use super::config::Settings;

/// What the input artifact gives us.
#[derive(Debug, Clone)]
pub struct Input {
    pub source_region: String,
    pub source_ami: String,
    pub build: BTreeMap<String, String>,
    /// Unique per Packer run: client tokens and the run-id tag derive from it.
    pub run_id: String,
}

/// Progress for Packer's UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Say(String),
    Message(String),
    Error(String),
}

/// A copy this run created (what cleanup and the artifact's Destroy remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub region: String,
    pub ami: String,
    pub snapshots: Vec<String>,
}

/// A run that did not complete.
#[derive(Debug)]
pub struct Failed {
    pub message: String,
    /// The manifest so far (failures filled in), when the run got past preflight.
    pub manifest: Option<Manifest>,
    /// Copies that were deleted again / kept (`keep_on_error`).
    pub cleaned: Vec<Created>,
    pub kept: Vec<Created>,
}

/// A completed run.
#[derive(Debug)]
pub struct Outcome {
    pub manifest: Manifest,
    pub created: Vec<Created>,
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn say(ev: &mpsc::UnboundedSender<Event>, s: impl Into<String>) {
    let _ = ev.send(Event::Say(s.into()));
}

fn msg(ev: &mpsc::UnboundedSender<Event>, s: impl Into<String>) {
    let _ = ev.send(Event::Message(s.into()));
}

/// Checks everything that can be checked before a copy starts. Errors name the attribute.
async fn preflight(
    clients: &Clients,
    s: &Settings,
    input: &Input,
) -> Result<(ImageInfo, BTreeMap<String, Option<String>>), Vec<String>> {
    let mut errs = Vec::new();
    match images::regions(clients, &input.source_region).await {
        Ok(known) => {
            for (i, r) in s.regions.iter().enumerate() {
                if !known.contains(r) {
                    errs.push(format!(
                        "regions[{i}]: {r} is not a region this account can use"
                    ));
                }
            }
        }
        Err(e) => errs.push(format!("cannot list regions: {e}")),
    }
    let source = match images::describe(clients, &input.source_region, &input.source_ami).await {
        Ok(Some(img)) if img.state == "available" => Some(img),
        Ok(Some(img)) => {
            errs.push(format!(
                "source AMI {} is {}, not available",
                img.id, img.state
            ));
            None
        }
        Ok(None) => {
            errs.push(format!(
                "source AMI {} does not exist in {}",
                input.source_ami, input.source_region
            ));
            None
        }
        Err(e) => {
            errs.push(e.to_string());
            None
        }
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let shared = !(s.sharing.account_ids.is_empty()
        && s.sharing.org_arns.is_empty()
        && s.sharing.ou_arns.is_empty());
    let mut keys = BTreeMap::new();
    let checks = s
        .regions
        .iter()
        .filter(|r| **r != input.source_region)
        .map(|r| async move {
            let res = match s.kms.get(r) {
                Some(k) => kms::resolve(clients, r, k).await.map(Some),
                None => Ok(None),
            };
            (r.clone(), res)
        });
    for (r, res) in futures::future::join_all(checks).await {
        match res {
            Ok(Some(arn)) => {
                keys.insert(r, Some(arn));
            }
            Ok(None) if shared => errs.push(format!(
                "region_kms_key_ids[\"{r}\"]: missing; copies shared with other accounts need a customer managed key (the default EBS key cannot be shared)"
            )),
            Ok(None) => {
                keys.insert(r, None);
            }
            Err(e) => errs.push(format!(
                "region_kms_key_ids[\"{r}\"]: {} not usable in {r}: {e}",
                s.kms.get(&r).map(String::as_str).unwrap_or("")
            )),
        }
    }
    match (source, errs.is_empty()) {
        (Some(src), true) => Ok((src, keys)),
        (_, _) => Err(errs),
    }
}

/// Client token for one region's copy: stable across retries of this run, unique per run.
pub fn client_token(run_id: &str, source_ami: &str, region: &str) -> String {
    amiforge_model::sha256_hex(format!("{run_id}/{source_ami}/{region}").as_bytes())[..48]
        .to_string()
}

/// Runs the whole replication.
pub async fn run(
    clients: Arc<Clients>,
    s: &Settings,
    input: &Input,
    hardening: Option<Hardening>,
    ev: &mpsc::UnboundedSender<Event>,
    cancel: &CancellationToken,
) -> Result<Outcome, Failed> {
    let fail = |message: String| Failed {
        message,
        manifest: None,
        cleaned: Vec::new(),
        kept: Vec::new(),
    };
    let (source, keys) = preflight(&clients, s, input).await.map_err(|errs| {
        fail(format!(
            "amiforge-replicate: nothing was copied:\n* {}",
            errs.join("\n* ")
        ))
    })?;
    let targets: Vec<String> = s
        .regions
        .iter()
        .filter(|r| **r != input.source_region)
        .cloned()
        .collect();
    let snapshot_gb: u64 = source.snapshots.iter().map(|x| x.size_gb).sum();
    let estimate = cost::estimate(
        snapshot_gb,
        targets.len(),
        s.snapshot_price,
        s.transfer_price,
    );
    say(
        ev,
        format!(
            "amiforge-replicate: {} ({}) from {} to {} region(s), {} at a time; estimated cost: ${:.2}/month snapshot storage, ${:.2} transfer",
            source.id,
            source.name,
            input.source_region,
            targets.len(),
            s.max_parallel,
            estimate.monthly_storage_usd,
            estimate.transfer_usd
        ),
    );
    let built_at = now_rfc3339();
    let mut provenance = BTreeMap::from([
        (tags::MANAGED_BY.to_string(), "amiforge".to_string()),
        (tags::FAMILY.to_string(), s.family.clone()),
        (tags::SOURCE_REGION.to_string(), input.source_region.clone()),
        (tags::SOURCE_AMI.to_string(), source.id.clone()),
        (tags::BUILD_TIME.to_string(), built_at.clone()),
        (tags::RUN_ID.to_string(), input.run_id.clone()),
    ]);
    if let Some(b) = input.build.get("packer_build_name") {
        provenance.insert(tags::BUILD_NAME.to_string(), b.clone());
    }
    if let Some(h) = &hardening {
        provenance.insert(tags::PROFILE_SHA256.to_string(), h.profile_sha256.clone());
        provenance.insert(tags::REPORT_SHA256.to_string(), h.report_sha256.clone());
    }
    let copy_tags = tags::for_copy(&source.tags, &s.tags, &provenance);
    let deprecate_at = s.deprecate_after.map(|d| SystemTime::now() + d);
    let mut manifest = Manifest {
        schema: amiforge_model::manifest::SCHEMA.to_string(),
        sha256: String::new(),
        generated_at: built_at.clone(),
        build: input.build.clone(),
        source: SourceImage {
            region: input.source_region.clone(),
            ami: source.id.clone(),
            name: source.name.clone(),
            snapshots: source.snapshots.iter().map(|x| x.id.clone()).collect(),
        },
        family: s.family.clone(),
        strategy: s.strategy,
        regions: BTreeMap::new(),
        failures: BTreeMap::new(),
        sharing: s.sharing.clone(),
        cost: estimate,
        hardening,
        ssm_parameter: s.ssm_parameter.clone(),
        retention: Vec::new(),
        dry_run: s.dry_run,
    };
    if s.dry_run {
        for r in &targets {
            let key = keys.get(r).cloned().flatten();
            msg(
                ev,
                format!(
                    "dry run: would copy to {r} encrypted with {}",
                    key.as_deref().unwrap_or("the default EBS key")
                ),
            );
        }
        msg(
            ev,
            format!(
                "dry run: would tag with {} tags, share with {:?}",
                copy_tags.len(),
                s.sharing
            ),
        );
        let all: Vec<String> = std::iter::once(input.source_region.clone())
            .chain(targets.iter().cloned())
            .collect();
        manifest.retention = plan_retention(&clients, s, &all, &[], ev, true).await;
        return Ok(Outcome {
            manifest,
            created: Vec::new(),
        });
    }

    // the source AMI is part of the release: same tags (minus its own provenance), sharing,
    // deprecation and pointer as the copies
    let created: Arc<Mutex<Vec<Created>>> = Arc::new(Mutex::new(Vec::new()));
    let sem = Arc::new(Semaphore::new(s.max_parallel));
    let mut tasks = Vec::new();
    for r in targets.clone() {
        let clients = clients.clone();
        let sem = sem.clone();
        let created = created.clone();
        let ev = ev.clone();
        let cancel = cancel.clone();
        let key = keys.get(&r).cloned().flatten();
        let token = client_token(&input.run_id, &source.id, &r);
        let (src_region, src_ami, name, desc) = (
            input.source_region.clone(),
            source.id.clone(),
            source.name.clone(),
            source.description.clone(),
        );
        let s = s.clone();
        let copy_tags = copy_tags.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.map_err(|e| e.to_string())?;
            if cancel.is_cancelled() {
                return Err("cancelled before the copy started".to_string());
            }
            let req = CopyRequest {
                source_region: &src_region,
                source_ami: &src_ami,
                name: &name,
                description: &desc,
                kms_key: key.as_deref(),
                client_token: &token,
            };
            let ami = images::copy(&clients, &r, &req)
                .await
                .map_err(|e| e.to_string())?;
            lock(&created).push(Created {
                region: r.clone(),
                ami: ami.clone(),
                snapshots: Vec::new(),
            });
            msg(&ev, format!("{r}: copying as {ami}"));
            let mut last = None;
            let wait = images::wait_available(&clients, &r, &ami, s.timeout, |p| {
                let step = p.percent.map(|x| x / 25);
                if last != Some((p.state.clone(), step)) {
                    last = Some((p.state.clone(), step));
                    let pct = p.percent.map(|x| format!(" {x}%")).unwrap_or_default();
                    msg(&ev, format!("{r}: {ami} {}{pct}", p.state));
                }
            });
            let (img, details) = tokio::select! {
                r = wait => r.map_err(|e| e.to_string())?,
                _ = cancel.cancelled() => return Err("cancelled while copying".to_string()),
            };
            let snaps: Vec<String> = img.snapshots.iter().map(|x| x.id.clone()).collect();
            if let Some(c) = lock(&created).iter_mut().find(|c| c.ami == ami) {
                c.snapshots = snaps.clone();
            }
            // the key actually used, as the snapshots report it (DescribeImages may not say)
            let used_key = details.into_iter().find_map(|x| x.kms_key).or(key);
            finish_region(&clients, &s, &r, &img, &copy_tags, deprecate_at)
                .await
                .map_err(|e| e.to_string())?;
            msg(
                &ev,
                format!(
                    "{r}: {ami} available, tagged{}",
                    if shares(&s) { ", shared" } else { "" }
                ),
            );
            Ok::<RegionImage, String>(region_image(&img, used_key, copy_tags, deprecate_at, false))
        }));
    }
    // the source region, meanwhile
    let mut source_tags = copy_tags.clone();
    source_tags.remove(tags::SOURCE_AMI);
    source_tags.remove(tags::SOURCE_REGION);
    let source_done = finish_region(
        &clients,
        s,
        &input.source_region,
        &source,
        &source_tags,
        deprecate_at,
    )
    .await;
    match source_done {
        Ok(()) => {
            let mut merged = source.tags.clone();
            merged.extend(source_tags.clone());
            manifest.regions.insert(
                input.source_region.clone(),
                region_image(
                    &source,
                    source.snapshots.first().and_then(|x| x.kms_key.clone()),
                    merged,
                    deprecate_at,
                    true,
                ),
            );
        }
        Err(e) => {
            manifest
                .failures
                .insert(input.source_region.clone(), e.to_string());
        }
    }
    for (r, t) in targets.iter().zip(tasks) {
        match t.await {
            Ok(Ok(img)) => {
                manifest.regions.insert(r.clone(), img);
            }
            Ok(Err(e)) => {
                let _ = ev.send(Event::Error(format!("{r}: {e}")));
                manifest.failures.insert(r.clone(), e);
            }
            Err(e) => {
                manifest
                    .failures
                    .insert(r.clone(), format!("task failed: {e}"));
            }
        }
    }
    let created: Vec<Created> = lock(&created).clone();
    if !manifest.failures.is_empty() || cancel.is_cancelled() {
        let why = if cancel.is_cancelled()
            && manifest.failures.values().all(|e| e.contains("cancelled"))
        {
            "cancelled".to_string()
        } else {
            manifest
                .failures
                .iter()
                .map(|(r, e)| format!("{r}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let (cleaned, kept) = if s.keep_on_error {
            (Vec::new(), created)
        } else {
            (cleanup(&clients, &created, ev).await, Vec::new())
        };
        return Err(Failed {
            message: format!("amiforge-replicate failed ({why})"),
            manifest: Some(manifest),
            cleaned,
            kept,
        });
    }
    let all: Vec<String> = std::iter::once(input.source_region.clone())
        .chain(targets.iter().cloned())
        .collect();
    let current: Vec<String> = manifest.regions.values().map(|i| i.ami.clone()).collect();
    manifest.retention = plan_retention(&clients, s, &all, &current, ev, false).await;
    if let Some(p) = &s.ssm_parameter {
        for (r, img) in &manifest.regions {
            match ssm::put_image_parameter(&clients, r, p, &img.ami).await {
                Ok(v) => msg(ev, format!("{r}: {p} -> {} (version {v})", img.ami)),
                Err(e) => {
                    let _ = ev.send(Event::Error(e.to_string()));
                }
            }
        }
    }
    Ok(Outcome { manifest, created })
}

fn shares(s: &Settings) -> bool {
    s.sharing.public
        || !s.sharing.account_ids.is_empty()
        || !s.sharing.org_arns.is_empty()
        || !s.sharing.ou_arns.is_empty()
}

/// Tags (image and snapshots), sharing and deprecation for one region's AMI.
async fn finish_region(
    clients: &Clients,
    s: &Settings,
    region: &str,
    img: &ImageInfo,
    t: &BTreeMap<String, String>,
    deprecate_at: Option<SystemTime>,
) -> Result<(), amiforge_aws::Error> {
    let snaps: Vec<String> = img.snapshots.iter().map(|x| x.id.clone()).collect();
    let mut resources = vec![img.id.clone()];
    resources.extend(snaps.iter().cloned());
    images::tag(clients, region, &resources, t).await?;
    if shares(s) {
        images::share(clients, region, &img.id, &snaps, &s.sharing).await?;
    }
    if let Some(at) = deprecate_at {
        images::deprecate(clients, region, &img.id, at).await?;
    }
    Ok(())
}

fn region_image(
    img: &ImageInfo,
    kms_key: Option<String>,
    tags: BTreeMap<String, String>,
    deprecate_at: Option<SystemTime>,
    source: bool,
) -> RegionImage {
    RegionImage {
        ami: img.id.clone(),
        snapshots: img.snapshots.iter().map(|x| x.id.clone()).collect(),
        kms_key: img
            .snapshots
            .first()
            .and_then(|x| x.kms_key.clone())
            .or(kms_key),
        encrypted: !img.snapshots.is_empty() && img.snapshots.iter().all(|x| x.encrypted),
        state: "available".into(),
        tags,
        deprecation_time: deprecate_at.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
        source,
    }
}

/// Deletes every copy in `created` (AMI, then snapshots); returns what was removed.
pub async fn cleanup(
    clients: &Clients,
    created: &[Created],
    ev: &mpsc::UnboundedSender<Event>,
) -> Vec<Created> {
    let mut done = Vec::new();
    for c in created {
        // snapshots of a copy that never became available are only known to AWS
        let mut snaps = c.snapshots.clone();
        if snaps.is_empty()
            && let Ok(Some(img)) = images::describe(clients, &c.region, &c.ami).await
        {
            snaps = img.snapshots.iter().map(|x| x.id.clone()).collect();
        }
        match images::delete(clients, &c.region, &c.ami, &snaps).await {
            Ok(()) => {
                msg(
                    ev,
                    format!(
                        "{}: deleted {} and {} snapshot(s)",
                        c.region,
                        c.ami,
                        snaps.len()
                    ),
                );
                done.push(Created {
                    snapshots: snaps,
                    ..c.clone()
                });
            }
            Err(e) => {
                let _ = ev.send(Event::Error(format!(
                    "{}: could not delete {}: {e} (delete it by hand)",
                    c.region, c.ami
                )));
            }
        }
    }
    done
}

/// Retention: per region, keep `keep_releases` newest AMIs of the family (the release just made
/// always counts as kept), retire the rest with their snapshots (or only list them on a dry run).
async fn plan_retention(
    clients: &Clients,
    s: &Settings,
    regions: &[String],
    current: &[String],
    ev: &mpsc::UnboundedSender<Event>,
    dry_run: bool,
) -> Vec<Retired> {
    let Some(keep) = s.keep_releases else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for r in regions {
        let family = match images::family(clients, r, &s.family).await {
            Ok(f) => f,
            Err(e) => {
                let _ = ev.send(Event::Error(format!("{r}: retention skipped: {e}")));
                continue;
            }
        };
        // the release being made is one of the kept; the newest keep-1 others stay too
        let mut kept_others = 0;
        for img in family {
            if current.contains(&img.id)
                || img.tags.get(tags::MANAGED_BY).map(String::as_str) != Some("amiforge")
            {
                continue;
            }
            if kept_others + 1 < keep as usize {
                kept_others += 1;
                continue;
            }
            let snaps: Vec<String> = img.snapshots.iter().map(|x| x.id.clone()).collect();
            let done = if dry_run {
                msg(
                    ev,
                    format!(
                        "dry run: {r}: would retire {} ({})",
                        img.id, img.creation_date
                    ),
                );
                false
            } else {
                match images::delete(clients, r, &img.id, &snaps).await {
                    Ok(()) => {
                        msg(
                            ev,
                            format!(
                                "{r}: retired {} ({}) and {} snapshot(s)",
                                img.id,
                                img.creation_date,
                                snaps.len()
                            ),
                        );
                        true
                    }
                    Err(e) => {
                        let _ = ev.send(Event::Error(format!(
                            "{r}: could not retire {}: {e}",
                            img.id
                        )));
                        false
                    }
                }
            };
            out.push(Retired {
                region: r.clone(),
                ami: img.id.clone(),
                snapshots: snaps,
                created: img.creation_date.clone(),
                done,
            });
        }
    }
    out
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
