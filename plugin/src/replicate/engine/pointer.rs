//! The SSM pointers: after a successful run, `ssm_parameter` in every region of the release
//! points at that region's AMI. A pointer that cannot be moved is reported, not fatal.

use amiforge_aws::client::Clients;
use amiforge_aws::ssm;
use amiforge_model::manifest::Manifest;
use tokio::sync::mpsc;

use super::{Event, error, msg};
use crate::replicate::config::Settings;

/// Moves the pointer in every region of the manifest (nothing without `ssm_parameter`).
pub(super) async fn update(
    clients: &Clients,
    s: &Settings,
    manifest: &Manifest,
    ev: &mpsc::UnboundedSender<Event>,
) {
    let Some(p) = &s.ssm_parameter else {
        return;
    };
    for (r, img) in &manifest.regions {
        match ssm::put_image_parameter(clients, r, p, &img.ami).await {
            Ok(v) => msg(ev, format!("{r}: {p} -> {} (version {v})", img.ami)),
            Err(e) => error(ev, e.to_string()),
        }
    }
}
