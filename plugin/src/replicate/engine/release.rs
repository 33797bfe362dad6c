//! The release: what every AMI of this run gets, decided once before the first copy: the build
//! time, the tags (the source AMI's, the user's, and amiforge's provenance), the deprecation time
//! and the cost estimate.

use std::collections::BTreeMap;
use std::time::SystemTime;

use amiforge_model::cost::Estimate;
use amiforge_model::manifest::Hardening;
use amiforge_model::tags;

use super::Input;
use super::plan::Plan;
use crate::replicate::config::Settings;

/// What the AMIs of this release share.
#[derive(Debug, Clone)]
pub struct Release {
    /// When the release was made (RFC 3339, seconds): the manifest's `generated_at` and the
    /// build-time tag.
    pub built_at: String,
    /// Tags of every copy, on images and snapshots.
    pub copy_tags: BTreeMap<String, String>,
    /// Tags added to the build's own AMI: the copies' without the `source-*` provenance.
    pub own_tags: BTreeMap<String, String>,
    pub deprecate_at: Option<SystemTime>,
    pub estimate: Estimate,
}

impl Release {
    pub fn new(s: &Settings, input: &Input, plan: &Plan, hardening: Option<&Hardening>) -> Release {
        let built_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let mut provenance = BTreeMap::from([
            (tags::MANAGED_BY.to_string(), "amiforge".to_string()),
            (tags::FAMILY.to_string(), s.family.clone()),
            (tags::SOURCE_REGION.to_string(), plan.home.clone()),
            (tags::SOURCE_AMI.to_string(), plan.source.id.clone()),
            (tags::BUILD_TIME.to_string(), built_at.clone()),
            (tags::RUN_ID.to_string(), input.run_id.clone()),
        ]);
        if let Some(b) = input.build.get("packer_build_name") {
            provenance.insert(tags::BUILD_NAME.to_string(), b.clone());
        }
        if let Some(h) = hardening {
            provenance.insert(tags::PROFILE_SHA256.to_string(), h.profile_sha256.clone());
            provenance.insert(tags::REPORT_SHA256.to_string(), h.report_sha256.clone());
        }
        let copy_tags = tags::for_copy(&plan.source.tags, &s.tags, &provenance);
        let mut own_tags = copy_tags.clone();
        own_tags.remove(tags::SOURCE_AMI);
        own_tags.remove(tags::SOURCE_REGION);
        Release {
            built_at,
            copy_tags,
            own_tags,
            deprecate_at: s.deprecate_after.map(|d| SystemTime::now() + d),
            estimate: plan.estimate(s),
        }
    }
}
