//! What one validation run is asked to do ([`Request`]): the AMIs ([`Target`]s, from a replicate
//! manifest or `region:ami` pairs) with what each is expected to be ([`Expect`]), and the
//! settings ([`Policy`], [`Launch`], [`Guest`]). One model for the CLI, the gRPC API and the gate.
//!
//! | module | owns |
//! |---|---|
//! | [`check`] | every rule a request must meet, pure (no I/O), each problem named by its field |
//! | [`manifest`] | taking a replicate manifest: its own sha256, dry runs, its targets |
//! | [`files`] | what the request's files hold (user data, key, profile), read where the request is made |

pub mod check;
pub mod files;
pub mod manifest;

use amiforge_model::{Sharing, Strategy, artifact};
use serde::{Deserialize, Serialize};

use crate::field::{FieldErrors, Path};
use crate::settings::{Guest, Launch, Policy};

/// One AMI to validate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub region: String,
    pub ami: String,
    #[serde(default)]
    pub expect: Expect,
}

/// What a target is expected to be (from the manifest, or given).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Expect {
    /// The KMS key (ARN, id or alias) its snapshots must be encrypted with.
    pub kms_key: Option<String>,
    /// Exactly who may launch it; `None`: only "not public" is checked.
    pub sharing: Option<Sharing>,
    /// Tags it must carry with these values.
    pub tags: std::collections::BTreeMap<String, String>,
    /// The deprecation time it must have (RFC 3339), when known.
    pub deprecation_time: Option<String>,
    /// Its strategy: sets the shelf life, and whether launches must exercise user data.
    pub strategy: Option<Strategy>,
    /// sha256 of the hardening profile it was built with (in-guest evidence must match).
    pub profile_sha256: Option<String>,
    /// sha256 of the hardening report the build wrote (the on-image evidence must be those bytes).
    pub report_sha256: Option<String>,
    /// The hardening profile it was built with (`linux-baseline`, or the profile's name).
    pub profile: Option<String>,
}

impl Expect {
    /// Whether the build recorded hardening to find on the image.
    pub fn hardened(&self) -> bool {
        self.report_sha256.is_some() || self.profile_sha256.is_some() || self.profile.is_some()
    }
}

/// A whole validation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub targets: Vec<Target>,
    #[serde(default)]
    pub policy: Policy,
    #[serde(default)]
    pub launch: Launch,
    #[serde(default)]
    pub guest: Guest,
    /// Names this run's resources (tag `amiforge:validator-run`); generated when empty.
    #[serde(default)]
    pub run_id: String,
}

impl Request {
    /// A request for `targets` with every setting at its default.
    pub fn new(targets: Vec<Target>) -> Request {
        Request {
            targets,
            policy: Policy::default(),
            launch: Launch::default(),
            guest: Guest::default(),
            run_id: String::new(),
        }
    }

    /// Targets from `region:ami,region:ami` (Packer's artifact id form); a bad id is named by
    /// `field`.
    pub fn targets_from_ids(ids: &str, field: &str) -> Result<Vec<Target>, FieldErrors> {
        let amis = artifact::parse_id(ids)
            .map_err(|e| FieldErrors::one(Path::fields(&[field]), e.to_string()))?;
        Ok(amis
            .into_iter()
            .map(|(region, ami)| Target {
                region,
                ami,
                expect: Expect::default(),
            })
            .collect())
    }

    /// Whether any AMI's test instances are to be reached from inside (SSH or SSM): something
    /// is to be checked in the guest and the run launches.
    pub fn connects_to_guests(&self) -> bool {
        self.launch.launch
            && self.guest.transport != crate::settings::Transport::None
            && (!self.guest.check.is_empty()
                || self.launch.user_data.is_some()
                || self.launch.user_data_file.is_some()
                || self.targets.iter().any(|t| t.expect.hardened()))
    }
}
