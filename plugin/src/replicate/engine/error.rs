//! The engine's errors: what preflight found wrong ([`PreflightError`], each naming the
//! attribute), why one region failed ([`RegionError`]: cancelled, or what AWS said), and the
//! message of a failed run, decided on those variants (never on their text).

use std::collections::BTreeMap;

/// A problem found before the first copy; its text names the attribute.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("regions[{index}]: {region} is not a region this account can use")]
    UnknownRegion { index: usize, region: String },
    #[error("cannot list regions: {0}")]
    Regions(#[source] amiforge_aws::Error),
    #[error("source AMI {ami} is {state}, not available")]
    SourceNotAvailable { ami: String, state: String },
    #[error("source AMI {ami} does not exist in {region}")]
    SourceMissing { ami: String, region: String },
    #[error(transparent)]
    Source(amiforge_aws::Error),
    #[error(
        "region_kms_key_ids[\"{region}\"]: missing; copies shared with other accounts need a customer managed key (the default EBS key cannot be shared)"
    )]
    KeyNeeded { region: String },
    #[error("region_kms_key_ids[\"{region}\"]: {key} not usable in {region}: {source}")]
    KeyUnusable {
        region: String,
        key: String,
        source: amiforge_aws::Error,
    },
}

/// Why one region of the release failed.
#[derive(Debug, thiserror::Error)]
pub enum RegionError {
    /// The run was cancelled while this copy waited for its turn.
    #[error("cancelled before the copy started")]
    CancelledBeforeCopy,
    /// The run was cancelled while the copy was under way.
    #[error("cancelled while copying")]
    CancelledWhileCopying,
    /// An AWS call failed (starting, waiting, tagging, sharing, deprecating).
    #[error(transparent)]
    Aws(#[from] amiforge_aws::Error),
    /// No turn could be had (the limit of copies in flight was closed).
    #[error(transparent)]
    Turn(#[from] tokio::sync::AcquireError),
    /// The region's task ended without an answer (it panicked).
    #[error("task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

impl RegionError {
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            RegionError::CancelledBeforeCopy | RegionError::CancelledWhileCopying
        )
    }
}

/// The message of a run that failed before anything was copied.
pub(super) fn preflight_message(errs: &[PreflightError]) -> String {
    let lines: Vec<String> = errs.iter().map(ToString::to_string).collect();
    format!(
        "amiforge-replicate: nothing was copied:\n* {}",
        lines.join("\n* ")
    )
}

/// The message of a run that failed after preflight: `cancelled` when it was cancelled and every
/// failure is a cancellation, otherwise every region's failure.
pub(super) fn failure_message(failures: &BTreeMap<String, RegionError>, cancelled: bool) -> String {
    let why = if cancelled && failures.values().all(RegionError::is_cancelled) {
        "cancelled".to_string()
    } else {
        failures
            .iter()
            .map(|(r, e)| format!("{r}: {e}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!("amiforge-replicate failed ({why})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use amiforge_aws::{Error, ErrorKind};

    fn aws(message: &str) -> RegionError {
        RegionError::Aws(Error::new("CopyImage", ErrorKind::Other, message))
    }

    #[test]
    fn a_cancelled_run_says_so_only_when_every_failure_is_a_cancellation() {
        let only_cancelled = BTreeMap::from([
            ("eu-west-1".to_string(), RegionError::CancelledWhileCopying),
            ("us-west-2".to_string(), RegionError::CancelledBeforeCopy),
        ]);
        assert_eq!(
            failure_message(&only_cancelled, true),
            "amiforge-replicate failed (cancelled)"
        );
        assert_eq!(
            failure_message(&BTreeMap::new(), true),
            "amiforge-replicate failed (cancelled)"
        );
        // an AWS error that merely mentions cancelling is not a cancellation
        let mixed = BTreeMap::from([
            ("eu-west-1".to_string(), RegionError::CancelledWhileCopying),
            ("us-west-2".to_string(), aws("copy cancelled by AWS")),
        ]);
        assert_eq!(
            failure_message(&mixed, true),
            "amiforge-replicate failed (eu-west-1: cancelled while copying; us-west-2: CopyImage: copy cancelled by AWS)"
        );
        // without a cancel, cancellations are listed like any failure
        assert_eq!(
            failure_message(&only_cancelled, false),
            "amiforge-replicate failed (eu-west-1: cancelled while copying; us-west-2: cancelled before the copy started)"
        );
    }

    #[test]
    fn preflight_problems_are_listed_by_attribute() {
        let errs = [
            PreflightError::UnknownRegion {
                index: 2,
                region: "xx-nowhere-1".into(),
            },
            PreflightError::KeyUnusable {
                region: "eu-west-1".into(),
                key: "alias/images".into(),
                source: Error::new("DescribeKey", ErrorKind::NotFound, "no such alias"),
            },
        ];
        assert_eq!(
            preflight_message(&errs),
            "amiforge-replicate: nothing was copied:\n\
             * regions[2]: xx-nowhere-1 is not a region this account can use\n\
             * region_kms_key_ids[\"eu-west-1\"]: alias/images not usable in eu-west-1: DescribeKey: no such alias"
        );
    }
}
