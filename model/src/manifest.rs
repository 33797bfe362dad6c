//! The replication manifest: the registry entry of one build's AMIs in every region (ids,
//! snapshots, KMS keys, tags, sharing, deprecation, cost, hardening evidence), versioned and
//! carrying its own sha256. Written on the Packer host; the validator reads it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cost::Estimate;
pub use crate::sharing::Sharing;
use crate::strategy::Strategy;

/// Version tag of the manifest format.
pub const SCHEMA: &str = "amiforge.replication-manifest/v1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    /// sha256 over this document serialized with `sha256` set to "" (see [`Manifest::seal`]).
    pub sha256: String,
    pub generated_at: String,
    pub build: BTreeMap<String, String>,
    pub source: SourceImage,
    /// Image family retention counts in (`amiforge:family`).
    pub family: String,
    pub strategy: Strategy,
    pub regions: BTreeMap<String, RegionImage>,
    /// Regions that failed, with the AWS error.
    pub failures: BTreeMap<String, String>,
    pub sharing: Sharing,
    pub cost: Estimate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardening: Option<Hardening>,
    pub ssm_parameter: Option<String>,
    pub retention: Vec<Retired>,
    pub dry_run: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceImage {
    pub region: String,
    pub ami: String,
    pub name: String,
    pub snapshots: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionImage {
    pub ami: String,
    pub snapshots: Vec<String>,
    pub kms_key: Option<String>,
    pub encrypted: bool,
    pub state: String,
    pub tags: BTreeMap<String, String>,
    pub deprecation_time: Option<String>,
    /// Whether this entry is the build's own AMI (not a copy).
    pub source: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hardening {
    pub report_sha256: String,
    pub profile: String,
    pub profile_sha256: String,
    pub results_sha256: String,
    pub sbom_sha256: String,
}

/// An AMI retention retired (or, on a dry run, would retire).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retired {
    pub region: String,
    pub ami: String,
    pub snapshots: Vec<String>,
    pub created: String,
    pub done: bool,
}

impl Manifest {
    /// Fills in `sha256` and returns the document's bytes (pretty JSON, newline-terminated).
    pub fn seal(&mut self) -> Vec<u8> {
        self.sha256 = String::new();
        let unsealed = serde_json::to_vec_pretty(self).unwrap_or_default();
        self.sha256 = crate::digest::sha256_hex(&unsealed);
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Recomputes the digest of a manifest read back (true when untouched).
    pub fn verify(&self) -> bool {
        let mut m = self.clone();
        let want = std::mem::take(&mut m.sha256);
        crate::digest::sha256_hex(&serde_json::to_vec_pretty(&m).unwrap_or_default()) == want
    }

    /// Packer's artifact id for every region in the manifest.
    pub fn artifact_id(&self) -> String {
        let m: BTreeMap<String, String> = self
            .regions
            .iter()
            .map(|(r, i)| (r.clone(), i.ami.clone()))
            .collect();
        crate::artifact::format_id(&m)
    }
}
