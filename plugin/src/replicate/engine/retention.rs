//! Retention (`keep_releases`): per region, the newest `keep_releases` AMIs of the family stay
//! (the release just made always counts as one of them); older ones amiforge made
//! (`amiforge:managed-by`) are retired with their snapshots, or only listed on a dry run. Images
//! without that tag are never touched; a region whose family cannot be listed is skipped.

use amiforge_aws::client::Clients;
use amiforge_aws::images::{self, ImageInfo};
use amiforge_model::manifest::Retired;
use amiforge_model::tags;
use tokio::sync::mpsc;

use super::copy::snapshot_ids;
use super::{Event, error, msg};
use crate::replicate::config::Settings;

/// Applies retention in `regions` (`current`: the AMIs of the release just made); returns what
/// was (or, on a dry run, would be) retired.
pub(super) async fn apply(
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
                error(ev, format!("{r}: retention skipped: {e}"));
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
            out.push(retire(clients, r, &img, ev, dry_run).await);
        }
    }
    out
}

/// Deregisters one old release's AMI in `r` with its snapshots (a dry run only says so).
async fn retire(
    clients: &Clients,
    r: &str,
    img: &ImageInfo,
    ev: &mpsc::UnboundedSender<Event>,
    dry_run: bool,
) -> Retired {
    let snaps = snapshot_ids(img);
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
                error(ev, format!("{r}: could not retire {}: {e}", img.id));
                false
            }
        }
    };
    Retired {
        region: r.to_string(),
        ami: img.id.clone(),
        snapshots: snaps,
        created: img.creation_date.clone(),
        done,
    }
}
