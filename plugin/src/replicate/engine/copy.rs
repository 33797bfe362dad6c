//! One region's copy: its turn (at most `max_parallel` in flight), the idempotent start (a
//! client token per run, source and region), the wait with progress in the UI, then tags on the
//! image and its snapshots, sharing and deprecation. Every started copy goes into the ledger
//! first, so cleanup finds it whatever happens next. The build's own AMI gets the same
//! finishing (without a copy).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use amiforge_aws::client::Clients;
use amiforge_aws::images::{self, CopyRequest, ImageInfo, SnapshotState};
use amiforge_model::Sharing;
use amiforge_model::manifest::RegionImage;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::cleanup::Ledger;
use super::error::RegionError;
use super::manifest::region_image;
use super::plan::{Plan, Target};
use super::release::Release;
use super::{Event, error, msg};
use crate::replicate::config::Settings;

/// Client token for one region's copy: stable across retries of this run, unique per run.
pub fn client_token(run_id: &str, source_ami: &str, region: &str) -> String {
    amiforge_model::sha256_hex(format!("{run_id}/{source_ami}/{region}").as_bytes())[..48]
        .to_string()
}

/// Everything the copies share.
pub(super) struct Job {
    pub clients: Arc<Clients>,
    pub settings: Settings,
    pub plan: Plan,
    pub run_id: String,
    /// Tags of every copy (images and snapshots).
    pub tags: BTreeMap<String, String>,
    pub deprecate_at: Option<SystemTime>,
    pub ledger: Ledger,
    pub ev: mpsc::UnboundedSender<Event>,
    pub cancel: CancellationToken,
}

/// The copies under way, one task per region of the plan.
pub(super) struct Copies {
    tasks: Vec<(String, JoinHandle<Result<RegionImage, RegionError>>)>,
}

/// Starts every copy of the plan (each waits for its turn).
pub(super) fn start(job: Job) -> Copies {
    let job = Arc::new(job);
    let turns = Arc::new(Semaphore::new(job.settings.max_parallel));
    let tasks = job
        .plan
        .copies
        .iter()
        .map(|target| {
            let region = target.region.clone();
            let (job, turns, target) = (job.clone(), turns.clone(), target.clone());
            let task = tokio::spawn(async move {
                let _turn = turns.acquire_owned().await?;
                copy_one(&job, &target).await
            });
            (region, task)
        })
        .collect();
    Copies { tasks }
}

impl Copies {
    /// Each region's outcome, in the plan's order; a failed copy is also reported to the UI.
    pub async fn join(
        self,
        ev: &mpsc::UnboundedSender<Event>,
    ) -> Vec<(String, Result<RegionImage, RegionError>)> {
        let mut out = Vec::new();
        for (region, task) in self.tasks {
            let outcome = match task.await {
                Ok(Err(e)) => {
                    error(ev, format!("{region}: {e}"));
                    Err(e)
                }
                Ok(done) => done,
                Err(e) => Err(RegionError::Task(e)),
            };
            out.push((region, outcome));
        }
        out
    }
}

/// One region: start, wait, finish.
async fn copy_one(job: &Job, target: &Target) -> Result<RegionImage, RegionError> {
    if job.cancel.is_cancelled() {
        return Err(RegionError::CancelledBeforeCopy);
    }
    let (r, source) = (&target.region, &job.plan.source);
    let token = client_token(&job.run_id, &source.id, r);
    let req = CopyRequest {
        source_region: &job.plan.home,
        source_ami: &source.id,
        name: &source.name,
        description: &source.description,
        kms_key: target.kms_key.as_deref(),
        client_token: &token,
    };
    let ami = images::copy(&job.clients, r, &req).await?;
    job.ledger.record(r, &ami);
    msg(&job.ev, format!("{r}: copying as {ami}"));
    let (img, details) = tokio::select! {
        done = wait(job, r, &ami) => done?,
        _ = job.cancel.cancelled() => return Err(RegionError::CancelledWhileCopying),
    };
    job.ledger.set_snapshots(&ami, snapshot_ids(&img));
    // the key actually used, as the snapshots report it (DescribeImages may not say)
    let used_key = details
        .into_iter()
        .find_map(|x| x.kms_key)
        .or_else(|| target.kms_key.clone());
    let s = &job.settings;
    finish(
        &job.clients,
        &s.sharing,
        r,
        &img,
        &job.tags,
        job.deprecate_at,
    )
    .await?;
    msg(
        &job.ev,
        format!(
            "{r}: {ami} available, tagged{}",
            if s.sharing.is_shared() {
                ", shared"
            } else {
                ""
            }
        ),
    );
    Ok(region_image(
        &img,
        used_key,
        job.tags.clone(),
        job.deprecate_at,
        false,
    ))
}

/// Waits for the copy, reporting its state (and every 25 % of progress) to the UI.
async fn wait(
    job: &Job,
    region: &str,
    ami: &str,
) -> Result<(ImageInfo, Vec<SnapshotState>), amiforge_aws::Error> {
    let mut last = None;
    images::wait_available(&job.clients, region, ami, job.settings.timeout, |p| {
        let step = p.percent.map(|x| x / 25);
        if last != Some((p.state.clone(), step)) {
            last = Some((p.state.clone(), step));
            let pct = p.percent.map(|x| format!(" {x}%")).unwrap_or_default();
            msg(&job.ev, format!("{region}: {ami} {}{pct}", p.state));
        }
    })
    .await
}

/// The build's own AMI: the release's tags (without the source provenance), sharing and
/// deprecation, like the copies.
pub(super) async fn finish_own(
    clients: &Clients,
    s: &Settings,
    plan: &Plan,
    release: &Release,
) -> Result<RegionImage, RegionError> {
    let source = &plan.source;
    finish(
        clients,
        &s.sharing,
        &plan.home,
        source,
        &release.own_tags,
        release.deprecate_at,
    )
    .await?;
    let mut tags = source.tags.clone();
    tags.extend(release.own_tags.clone());
    let key = source.snapshots.first().and_then(|x| x.kms_key.clone());
    Ok(region_image(source, key, tags, release.deprecate_at, true))
}

/// Tags (image and snapshots), sharing and deprecation for one region's AMI.
async fn finish(
    clients: &Clients,
    sharing: &Sharing,
    region: &str,
    img: &ImageInfo,
    tags: &BTreeMap<String, String>,
    deprecate_at: Option<SystemTime>,
) -> Result<(), amiforge_aws::Error> {
    let snaps = snapshot_ids(img);
    let mut resources = vec![img.id.clone()];
    resources.extend(snaps.iter().cloned());
    images::tag(clients, region, &resources, tags).await?;
    if sharing.is_shared() {
        images::share(clients, region, &img.id, &snaps, sharing).await?;
    }
    if let Some(at) = deprecate_at {
        images::deprecate(clients, region, &img.id, at).await?;
    }
    Ok(())
}

pub(super) fn snapshot_ids(img: &ImageInfo) -> Vec<String> {
    img.snapshots.iter().map(|x| x.id.clone()).collect()
}
