//! Our copies and their removal: the [`Ledger`] every started copy is written into before
//! anything else happens to it, [`cleanup`] (deregister each copy, then delete its snapshots;
//! also what the artifact's `Destroy` calls), and the failed run's end: delete what the ledger
//! holds, or keep it (`keep_on_error`).

use std::sync::{Arc, Mutex, MutexGuard};

use amiforge_aws::client::Clients;
use amiforge_aws::images;
use amiforge_model::manifest::Manifest;
use tokio::sync::mpsc;

use super::copy::snapshot_ids;
use super::{Event, Failed, error, msg};
use crate::replicate::config::Settings;

/// A copy this run created (what cleanup and the artifact's Destroy remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub region: String,
    pub ami: String,
    pub snapshots: Vec<String>,
}

/// The copies this run started, in the order they started, shared by the copy tasks.
#[derive(Debug, Clone, Default)]
pub(super) struct Ledger(Arc<Mutex<Vec<Created>>>);

impl Ledger {
    /// A copy was started (its snapshots are not known yet).
    pub fn record(&self, region: &str, ami: &str) {
        self.lock().push(Created {
            region: region.to_string(),
            ami: ami.to_string(),
            snapshots: Vec::new(),
        });
    }

    /// The copy `ami` is available with these snapshots.
    pub fn set_snapshots(&self, ami: &str, snapshots: Vec<String>) {
        if let Some(c) = self.lock().iter_mut().find(|c| c.ami == ami) {
            c.snapshots = snapshots;
        }
    }

    pub fn created(&self) -> Vec<Created> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Created>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The end of a run that failed after preflight: every copy in the ledger deleted, or kept with
/// `keep_on_error`; the manifest (with its failures) goes along.
pub(super) async fn after_failure(
    clients: &Clients,
    s: &Settings,
    ledger: &Ledger,
    manifest: Manifest,
    message: String,
    ev: &mpsc::UnboundedSender<Event>,
) -> Failed {
    let created = ledger.created();
    let (cleaned, kept) = if s.keep_on_error {
        (Vec::new(), created)
    } else {
        (cleanup(clients, &created, ev).await, Vec::new())
    };
    Failed {
        message,
        manifest: Some(manifest),
        cleaned,
        kept,
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
            snaps = snapshot_ids(&img);
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
            Err(e) => error(
                ev,
                format!(
                    "{}: could not delete {}: {e} (delete it by hand)",
                    c.region, c.ami
                ),
            ),
        }
    }
    done
}
