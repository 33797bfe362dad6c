//! Cost estimate of a replication: snapshot storage per month in every target region and the
//! one-off inter-region transfer (the seed's "Cost Considerations"). List prices, overridable.

use serde::{Deserialize, Serialize};

/// EBS snapshot storage, standard tier, USD per GB-month (us-east-1 list price).
pub const SNAPSHOT_GB_MONTH: f64 = 0.05;
/// Inter-region data transfer, USD per GB (most region pairs).
pub const TRANSFER_GB: f64 = 0.02;

/// The estimate recorded in the manifest and printed in Packer's UI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// Sum of the source AMI's snapshot sizes (what each copy stores; snapshots are incremental
    /// in practice, so this is an upper bound).
    pub snapshot_gb: u64,
    pub regions: usize,
    pub snapshot_price_gb_month: f64,
    pub transfer_price_gb: f64,
    /// Added storage per month for the copies.
    pub monthly_storage_usd: f64,
    /// Transfer for this replication, once.
    pub transfer_usd: f64,
}

/// Estimates copying `snapshot_gb` to `regions` regions.
pub fn estimate(
    snapshot_gb: u64,
    regions: usize,
    storage_price: Option<f64>,
    transfer_price: Option<f64>,
) -> Estimate {
    let s = storage_price.unwrap_or(SNAPSHOT_GB_MONTH);
    let t = transfer_price.unwrap_or(TRANSFER_GB);
    let gb = snapshot_gb as f64 * regions as f64;
    Estimate {
        snapshot_gb,
        regions,
        snapshot_price_gb_month: s,
        transfer_price_gb: t,
        monthly_storage_usd: round2(gb * s),
        transfer_usd: round2(gb * t),
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn eight_gb_to_three_regions() {
        let e = super::estimate(8, 3, None, None);
        assert_eq!((e.monthly_storage_usd, e.transfer_usd), (1.2, 0.48));
        let e = super::estimate(100, 16, Some(0.0125), Some(0.09));
        assert_eq!((e.monthly_storage_usd, e.transfer_usd), (20.0, 144.0));
    }
}
