//! The manifest of a run: started from the plan and the release before the first copy, then
//! filled in from each region's outcome (its image entry, or its failure as text).

use std::collections::BTreeMap;
use std::time::SystemTime;

use amiforge_aws::images::ImageInfo;
use amiforge_model::manifest::{Hardening, Manifest, RegionImage, SourceImage};

use super::Input;
use super::copy::snapshot_ids;
use super::error::RegionError;
use super::plan::Plan;
use super::release::Release;
use crate::replicate::config::Settings;

/// The manifest before any region is done: no regions, no failures, no retention yet.
pub(super) fn start(
    s: &Settings,
    input: &Input,
    plan: &Plan,
    release: &Release,
    hardening: Option<Hardening>,
) -> Manifest {
    Manifest {
        schema: amiforge_model::manifest::SCHEMA.to_string(),
        sha256: String::new(),
        generated_at: release.built_at.clone(),
        build: input.build.clone(),
        source: SourceImage {
            region: plan.home.clone(),
            ami: plan.source.id.clone(),
            name: plan.source.name.clone(),
            snapshots: snapshot_ids(&plan.source),
        },
        family: s.family.clone(),
        strategy: s.strategy,
        regions: BTreeMap::new(),
        failures: BTreeMap::new(),
        sharing: s.sharing.clone(),
        cost: release.estimate.clone(),
        hardening,
        ssm_parameter: s.ssm_parameter.clone(),
        retention: Vec::new(),
        dry_run: s.dry_run,
    }
}

/// One region's entry for an available AMI (`source`: the build's own, not a copy). The key is
/// the first snapshot's when AWS reports it, else `kms_key`.
pub(super) fn region_image(
    img: &ImageInfo,
    kms_key: Option<String>,
    tags: BTreeMap<String, String>,
    deprecate_at: Option<SystemTime>,
    source: bool,
) -> RegionImage {
    RegionImage {
        ami: img.id.clone(),
        snapshots: snapshot_ids(img),
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

/// Records the build's own region (`home`) and every copy's outcome; returns the failures,
/// typed, for deciding what the run's outcome is.
pub(super) fn record(
    manifest: &mut Manifest,
    home: &str,
    own: Result<RegionImage, RegionError>,
    copies: Vec<(String, Result<RegionImage, RegionError>)>,
) -> BTreeMap<String, RegionError> {
    let mut failures = BTreeMap::new();
    for (region, outcome) in std::iter::once((home.to_string(), own)).chain(copies) {
        match outcome {
            Ok(img) => {
                manifest.regions.insert(region, img);
            }
            Err(e) => {
                manifest.failures.insert(region.clone(), e.to_string());
                failures.insert(region, e);
            }
        }
    }
    failures
}
