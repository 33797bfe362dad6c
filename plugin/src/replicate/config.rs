//! `amiforge-replicate`'s HCL attributes and their validation (every error names its
//! attribute; existence checks against AWS happen before the first copy, see `engine`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use amiforge_model::manifest::Sharing;
use amiforge_model::{Strategy, artifact, duration, sharing, tags};
use packer_sdk::{ConfigErrors, HclSpec, PackerConfig};
use serde::Deserialize;

/// Configuration of the `amiforge-replicate` post-processor.
#[derive(Debug, Clone, Deserialize, HclSpec)]
pub struct ReplicateConfig {
    /// Regions to copy the AMI to (the build's own region may be listed; it is not copied).
    pub regions: Vec<String>,
    /// KMS key per region (key id, `alias/…` or ARN in that region) to encrypt the copy with;
    /// regions without one use their default EBS key (which cannot be shared with other accounts).
    #[serde(default)]
    pub region_kms_key_ids: BTreeMap<String, String>,
    /// Tags for every AMI and snapshot of the release (on top of the source AMI's tags).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// AWS accounts that may launch the AMIs (and create volumes from their snapshots).
    #[serde(default)]
    pub account_ids: Vec<String>,
    /// AWS Organizations that may launch the AMIs.
    #[serde(default)]
    pub org_arns: Vec<String>,
    /// Organizational units that may launch the AMIs.
    #[serde(default)]
    pub ou_arns: Vec<String>,
    /// Make the AMIs public. Only when written explicitly; never combined with other sharing.
    #[serde(default)]
    pub public: bool,
    /// `full` | `hybrid` | `os-only`: the kind of image, which sets its shelf life (3, 6, 12
    /// months) unless `deprecate_after` is given.
    pub strategy: Option<String>,
    /// Deprecate the AMIs this long after the build (`90d`, `2160h`); `never` turns it off.
    pub deprecate_after: Option<String>,
    /// Keep this many releases of the image family per region; older ones are deregistered and
    /// their snapshots deleted.
    pub keep_releases: Option<u32>,
    /// Check everything and print the plan (copies, sharing, retention) but change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Where the replication manifest goes on the Packer host (default
    /// `amiforge-manifest-<build>.json`, with a `.sha256` beside it).
    pub manifest_path: Option<PathBuf>,
    /// SSM parameter to point at each region's AMI (`data_type = aws:ec2:image`); unset: none moves.
    pub ssm_parameter: Option<String>,
    /// An amiforge-harden report whose digests are recorded in the manifest and tags.
    pub hardening_report: Option<PathBuf>,
    /// Keep copies that finished when another region fails or the build is cancelled.
    #[serde(default)]
    pub keep_on_error: bool,
    /// How long one region's copy may take (default `2h`).
    pub timeout: Option<String>,
    /// Copies in flight at once (default 10, at most 100: CopyImage's concurrent limit per region).
    pub max_parallel: Option<u32>,
    /// Image family for `keep_releases` (default: the Packer build name).
    pub family: Option<String>,
    /// Snapshot storage price, USD per GB-month, for the cost estimate (default 0.05).
    pub snapshot_price_gb_month: Option<f64>,
    /// Inter-region transfer price, USD per GB, for the cost estimate (default 0.02).
    pub transfer_price_gb: Option<f64>,
}

/// The validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub regions: Vec<String>,
    pub kms: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub sharing: Sharing,
    pub strategy: Strategy,
    pub deprecate_after: Option<Duration>,
    pub keep_releases: Option<u32>,
    pub dry_run: bool,
    pub manifest_path: PathBuf,
    pub ssm_parameter: Option<String>,
    pub hardening_report: Option<PathBuf>,
    pub keep_on_error: bool,
    pub timeout: Duration,
    pub max_parallel: usize,
    pub family: String,
    pub snapshot_price: Option<f64>,
    pub transfer_price: Option<f64>,
}

/// Regions to copy to and their KMS keys.
fn check_regions(c: &ReplicateConfig, errs: &mut ConfigErrors) {
    if c.regions.is_empty() {
        errs.push("regions", "name at least one region to copy to");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, r) in c.regions.iter().enumerate() {
        if !artifact::is_region(r) {
            errs.push(
                &format!("regions[{i}]"),
                format!("{r:?} is not a region name like eu-west-1"),
            );
        } else if !seen.insert(r) {
            errs.push(&format!("regions[{i}]"), format!("{r} is listed twice"));
        }
    }
    for (r, k) in &c.region_kms_key_ids {
        let field = format!("region_kms_key_ids[\"{r}\"]");
        if !c.regions.contains(r) {
            errs.push(&field, format!("{r} is not in regions"));
        }
        if !sharing::is_kms_key_ref(k) {
            errs.push(
                &field,
                format!("{k:?} is not a KMS key id, alias/NAME or key ARN"),
            );
        } else if let Some(kr) = sharing::kms_arn_region(k)
            && kr != r
        {
            errs.push(
                &field,
                format!("the key ARN is in {kr}; KMS keys are regional, use one in {r}"),
            );
        }
    }
}

/// Who may launch the copies.
fn check_sharing(c: &ReplicateConfig, errs: &mut ConfigErrors) {
    for (i, a) in c.account_ids.iter().enumerate() {
        if !sharing::is_account_id(a) {
            errs.push(
                &format!("account_ids[{i}]"),
                format!("{a:?} is not a 12-digit AWS account id"),
            );
        }
    }
    for (i, a) in c.org_arns.iter().enumerate() {
        if !sharing::is_org_arn(a) {
            errs.push(
                &format!("org_arns[{i}]"),
                format!("{a:?} is not an organization ARN (arn:aws:organizations::ACCOUNT:organization/o-…)"),
            );
        }
    }
    for (i, a) in c.ou_arns.iter().enumerate() {
        if !sharing::is_ou_arn(a) {
            errs.push(
                &format!("ou_arns[{i}]"),
                format!("{a:?} is not an OU ARN (arn:aws:organizations::ACCOUNT:ou/o-…/ou-…)"),
            );
        }
    }
    if c.public && !(c.account_ids.is_empty() && c.org_arns.is_empty() && c.ou_arns.is_empty()) {
        errs.push(
            "public",
            "public = true shares with everyone; remove account_ids/org_arns/ou_arns or set public = false",
        );
    }
}

/// The strategy, when the copies are deprecated, and how long one copy may take.
fn lifetimes(
    c: &ReplicateConfig,
    errs: &mut ConfigErrors,
) -> (Strategy, Option<Duration>, Duration) {
    let strategy = match c.strategy.as_deref().map(str::parse::<Strategy>) {
        None => Strategy::default(),
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            errs.push("strategy", e.to_string());
            Strategy::default()
        }
    };
    let deprecate_after = match c.deprecate_after.as_deref() {
        Some("never") => None,
        Some(s) => match duration::parse(s) {
            Ok(d) if d.as_secs() >= 3600 => Some(d),
            Ok(_) => {
                errs.push("deprecate_after", "at least 1h");
                None
            }
            Err(e) => {
                errs.push("deprecate_after", e.to_string());
                None
            }
        },
        None => Some(strategy.shelf_life()),
    };
    if c.keep_releases == Some(0) {
        errs.push(
            "keep_releases",
            "at least 1 (the release being built is always kept)",
        );
    }
    let timeout = match c.timeout.as_deref().map(duration::parse) {
        None => Duration::from_secs(2 * 3600),
        Some(Ok(d)) if d.as_secs() >= 1 => d,
        Some(Ok(_)) => {
            errs.push("timeout", "at least 1s");
            Duration::from_secs(1)
        }
        Some(Err(e)) => {
            errs.push("timeout", e.to_string());
            Duration::from_secs(1)
        }
    };
    (strategy, deprecate_after, timeout)
}

pub fn validate(c: ReplicateConfig, packer: &PackerConfig) -> Result<Settings, ConfigErrors> {
    let mut errs = ConfigErrors::new();
    check_regions(&c, &mut errs);
    check_sharing(&c, &mut errs);
    for e in tags::check(&c.tags) {
        errs.push(&e.field("tags"), e.message);
    }
    let (strategy, deprecate_after, timeout) = lifetimes(&c, &mut errs);
    let max_parallel = c.max_parallel.unwrap_or(10);
    if !(1..=100).contains(&max_parallel) {
        errs.push("max_parallel", "between 1 and 100");
    }
    if let Some(Err(e)) = c
        .ssm_parameter
        .as_deref()
        .map(amiforge_model::ssm::check_parameter_name)
    {
        errs.push("ssm_parameter", e);
    }
    // the report is usually written during this very build (by amiforge-harden), so it is
    // read when the post-processor runs, not when the template is validated
    if c.hardening_report
        .as_ref()
        .is_some_and(|r| r.as_os_str().is_empty())
    {
        errs.push(
            "hardening_report",
            "an empty path; point it at amiforge-harden's report_path",
        );
    }
    for (f, v) in [
        ("snapshot_price_gb_month", c.snapshot_price_gb_month),
        ("transfer_price_gb", c.transfer_price_gb),
    ] {
        if v.is_some_and(|p| !(0.0..1000.0).contains(&p)) {
            errs.push(f, "a price in USD, 0 or more");
        }
    }
    let family = c.family.clone().unwrap_or_else(|| {
        if packer.build_name.is_empty() {
            "amiforge".into()
        } else {
            packer.build_name.clone()
        }
    });
    if family.is_empty() || family.len() > 200 {
        errs.push("family", "1 to 200 characters");
    }
    errs.into_result()?;
    let build = family.replace(['/', ' '], "_");
    Ok(Settings {
        regions: c.regions,
        kms: c.region_kms_key_ids,
        tags: c.tags,
        sharing: Sharing {
            account_ids: c.account_ids,
            org_arns: c.org_arns,
            ou_arns: c.ou_arns,
            public: c.public,
        },
        strategy,
        deprecate_after,
        keep_releases: c.keep_releases,
        dry_run: c.dry_run,
        manifest_path: c
            .manifest_path
            .unwrap_or_else(|| PathBuf::from(format!("amiforge-manifest-{build}.json"))),
        ssm_parameter: c.ssm_parameter,
        hardening_report: c.hardening_report,
        keep_on_error: c.keep_on_error,
        timeout,
        max_parallel: max_parallel as usize,
        family,
        snapshot_price: c.snapshot_price_gb_month,
        transfer_price: c.transfer_price_gb,
    })
}
