//! Preflight and the region plan it yields, computed once and used by every later step: the
//! build's own region (part of the release, never copied), its AMI (checked `available`), and the
//! regions copied to, each with its KMS key resolved to an ARN. Everything that can be checked is
//! checked before the first copy; every problem is reported at once, naming its attribute.

use amiforge_aws::client::Clients;
use amiforge_aws::images::{self, ImageInfo};
use amiforge_aws::kms;
use amiforge_model::Sharing;
use amiforge_model::cost::{self, Estimate};

use super::Input;
use super::error::PreflightError;
use crate::replicate::config::Settings;

/// One region the AMI is copied to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub region: String,
    /// The key ARN to encrypt the copy with (`None`: the region's default EBS key).
    pub kms_key: Option<String>,
}

/// What the run does, region by region.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The build's own region: its AMI is part of the release but is not copied.
    pub home: String,
    /// The build's AMI in `home`, as preflight found it (available).
    pub source: ImageInfo,
    /// The regions copied to, in the order of `regions` (without `home`).
    pub copies: Vec<Target>,
}

impl Plan {
    /// Every region of the release: the build's own first, then the copies.
    pub fn regions(&self) -> Vec<String> {
        std::iter::once(self.home.clone())
            .chain(self.copies.iter().map(|t| t.region.clone()))
            .collect()
    }

    /// The cost of the copies: their snapshot storage and the transfer.
    pub fn estimate(&self, s: &Settings) -> Estimate {
        let snapshot_gb: u64 = self.source.snapshots.iter().map(|x| x.size_gb).sum();
        cost::estimate(
            snapshot_gb,
            self.copies.len(),
            s.snapshot_price,
            s.transfer_price,
        )
    }

    /// The line announcing the run.
    pub fn announcement(&self, s: &Settings, estimate: &Estimate) -> String {
        format!(
            "amiforge-replicate: {} ({}) from {} to {} region(s), {} at a time; estimated cost: ${:.2}/month snapshot storage, ${:.2} transfer",
            self.source.id,
            self.source.name,
            self.home,
            self.copies.len(),
            s.max_parallel,
            estimate.monthly_storage_usd,
            estimate.transfer_usd
        )
    }
}

/// Checks everything that can be checked before a copy starts: the regions, then the source AMI,
/// then (only when those are fine) every copy's KMS key, concurrently.
pub(super) async fn preflight(
    clients: &Clients,
    s: &Settings,
    input: &Input,
) -> Result<Plan, Vec<PreflightError>> {
    let mut errs = check_regions(clients, s, &input.source_region).await;
    let source = match check_source(clients, input).await {
        Ok(img) => Some(img),
        Err(e) => {
            errs.push(e);
            None
        }
    };
    let Some(source) = source.filter(|_| errs.is_empty()) else {
        return Err(errs);
    };
    let copies = resolve_keys(clients, s, &input.source_region).await?;
    Ok(Plan {
        home: input.source_region.clone(),
        source,
        copies,
    })
}

/// Every listed region must be one this account can use.
async fn check_regions(clients: &Clients, s: &Settings, home: &str) -> Vec<PreflightError> {
    match images::regions(clients, home).await {
        Ok(known) => s
            .regions
            .iter()
            .enumerate()
            .filter(|(_, r)| !known.contains(r))
            .map(|(index, r)| PreflightError::UnknownRegion {
                index,
                region: r.clone(),
            })
            .collect(),
        Err(e) => vec![PreflightError::Regions(e)],
    }
}

/// The build's AMI must exist and be available.
async fn check_source(clients: &Clients, input: &Input) -> Result<ImageInfo, PreflightError> {
    match images::describe(clients, &input.source_region, &input.source_ami).await {
        Ok(Some(img)) if img.state == "available" => Ok(img),
        Ok(Some(img)) => Err(PreflightError::SourceNotAvailable {
            ami: img.id,
            state: img.state,
        }),
        Ok(None) => Err(PreflightError::SourceMissing {
            ami: input.source_ami.clone(),
            region: input.source_region.clone(),
        }),
        Err(e) => Err(PreflightError::Source(e)),
    }
}

/// Whether the release names accounts, organizations or OUs: those can only use copies
/// encrypted with a customer managed key (the default EBS key cannot be shared).
fn needs_shared_keys(sharing: &Sharing) -> bool {
    !(sharing.account_ids.is_empty() && sharing.org_arns.is_empty() && sharing.ou_arns.is_empty())
}

/// The regions copied to (every listed region but `home`), each with its key resolved in that
/// region.
async fn resolve_keys(
    clients: &Clients,
    s: &Settings,
    home: &str,
) -> Result<Vec<Target>, Vec<PreflightError>> {
    let checks = s.regions.iter().filter(|r| *r != home).map(|r| async move {
        let res = match s.kms.get(r) {
            Some(k) => kms::resolve(clients, r, k).await.map(Some),
            None => Ok(None),
        };
        (r.clone(), res)
    });
    let mut copies = Vec::new();
    let mut errs = Vec::new();
    for (region, res) in futures::future::join_all(checks).await {
        match res {
            Ok(None) if needs_shared_keys(&s.sharing) => {
                errs.push(PreflightError::KeyNeeded { region });
            }
            Ok(kms_key) => copies.push(Target { region, kms_key }),
            Err(source) => errs.push(PreflightError::KeyUnusable {
                key: s.kms.get(&region).cloned().unwrap_or_default(),
                region,
                source,
            }),
        }
    }
    if errs.is_empty() {
        Ok(copies)
    } else {
        Err(errs)
    }
}
