//! The replication itself, independent of Packer (tested directly against the AWS emulator).
//! [`run`] reads as its steps: preflight turns the settings into one region plan, computed once
//! and used by every later step (nothing is copied until every region, the source and every KMS
//! key check out) → the release (tags, deprecation, cost) → concurrent idempotent copies, each
//! tagged, shared and deprecated, while the build's own AMI gets the same → the manifest from
//! each region's outcome → on failure or cancel, cleanup of every copy this run made (unless
//! `keep_on_error`) → otherwise retention and the SSM pointers.
//!
//! | module | owns |
//! |---|---|
//! | `plan` | preflight (regions, source AMI, KMS keys) → the plan: the build's own region, the regions copied to, each one's key |
//! | `release` | what every AMI of the release gets: provenance tags, deprecation time, build time, cost estimate |
//! | `copy` | one region's copy (client token, start, wait with progress, tag/share/deprecate), all of them concurrently, and finishing the build's own AMI |
//! | `manifest` | the manifest: started from the plan, filled in from each region's outcome |
//! | `dry_run` | what a dry run prints instead of copying |
//! | `retention` | `keep_releases`: retiring older releases of the family |
//! | `pointer` | the per-region SSM parameters |
//! | `cleanup` | the ledger of copies this run made; deleting them on failure/cancel (and for `Destroy`) |
//! | `error` | `PreflightError` (each naming its attribute), `RegionError` (cancelled, or AWS's error), and the failed run's message decided on those variants |

mod cleanup;
mod copy;
mod dry_run;
mod error;
mod manifest;
mod plan;
mod pointer;
mod release;
mod retention;

use std::collections::BTreeMap;
use std::sync::Arc;

use amiforge_aws::client::Clients;
use amiforge_model::manifest::{Hardening, Manifest};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::config::Settings;
use cleanup::Ledger;
use release::Release;

pub use cleanup::{Created, cleanup};
pub use copy::client_token;

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

fn say(ev: &mpsc::UnboundedSender<Event>, s: impl Into<String>) {
    let _ = ev.send(Event::Say(s.into()));
}

fn msg(ev: &mpsc::UnboundedSender<Event>, s: impl Into<String>) {
    let _ = ev.send(Event::Message(s.into()));
}

fn error(ev: &mpsc::UnboundedSender<Event>, s: impl Into<String>) {
    let _ = ev.send(Event::Error(s.into()));
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
    let plan = plan::preflight(&clients, s, input)
        .await
        .map_err(|errs| Failed {
            message: error::preflight_message(&errs),
            manifest: None,
            cleaned: Vec::new(),
            kept: Vec::new(),
        })?;
    let release = Release::new(s, input, &plan, hardening.as_ref());
    say(ev, plan.announcement(s, &release.estimate));
    let mut manifest = manifest::start(s, input, &plan, &release, hardening);
    if s.dry_run {
        for line in dry_run::lines(&plan.copies, release.copy_tags.len(), &s.sharing) {
            msg(ev, line);
        }
        manifest.retention = retention::apply(&clients, s, &plan.regions(), &[], ev, true).await;
        return Ok(Outcome {
            manifest,
            created: Vec::new(),
        });
    }

    let ledger = Ledger::default();
    let copies = copy::start(copy::Job {
        clients: clients.clone(),
        settings: s.clone(),
        plan: plan.clone(),
        run_id: input.run_id.clone(),
        tags: release.copy_tags.clone(),
        deprecate_at: release.deprecate_at,
        ledger: ledger.clone(),
        ev: ev.clone(),
        cancel: cancel.clone(),
    });
    // the build's own AMI is part of the release, finished meanwhile
    let own = copy::finish_own(&clients, s, &plan, &release).await;
    let outcomes = copies.join(ev).await;
    let failures = manifest::record(&mut manifest, &plan.home, own, outcomes);
    if !failures.is_empty() || cancel.is_cancelled() {
        let message = error::failure_message(&failures, cancel.is_cancelled());
        return Err(cleanup::after_failure(&clients, s, &ledger, manifest, message, ev).await);
    }
    let current: Vec<String> = manifest.regions.values().map(|i| i.ami.clone()).collect();
    manifest.retention = retention::apply(&clients, s, &plan.regions(), &current, ev, false).await;
    pointer::update(&clients, s, &manifest, ev).await;
    Ok(Outcome {
        manifest,
        created: ledger.created(),
    })
}
