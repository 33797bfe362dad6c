//! [`Launch`]: how test instances are launched (instance types, network, user data, timeouts,
//! concurrency). One struct is the `amiforge-validate` HCL attributes, the `amiforge-validator
//! run` flags and the proto `Launch`. The user data file is read where the request is made (CLI,
//! gate: [`crate::request::files`]); the API carries its content.

use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};
use packer_sdk::HclSpec;
use serde::{Deserialize, Serialize};

use super::maps::{SecurityGroups, Subnets};
use super::values::de;

/// Instance type test instances use when none is given.
pub const DEFAULT_INSTANCE_TYPE: &str = "t3.micro";
/// Per test instance, from RunInstances to the last check.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Test instances alive at once per run.
pub const DEFAULT_MAX_PARALLEL: u32 = 8;
/// Between polls while waiting.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

fn duration(s: &str) -> Result<Duration, String> {
    amiforge_model::duration::parse(s).map_err(|e| e.to_string())
}

/// How test instances are launched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, HclSpec, Args)]
#[serde(default)]
pub struct Launch {
    /// `false`: only the AMI attribute checks (no test instances). CLI: `--no-launch`.
    #[arg(long = "no-launch", action = ArgAction::SetFalse)]
    pub launch: bool,
    /// Instance types every AMI is launched on (default `["t3.micro"]`).
    #[arg(long, alias = "instance-type", value_delimiter = ',', default_value = DEFAULT_INSTANCE_TYPE)]
    pub instance_types: Vec<String>,
    /// Per test instance, from launch to the last check (default `15m`).
    #[arg(long, default_value = "15m", value_parser = duration)]
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Test instances at once for this run, 1–100 (default 8; a shared server's limit applies on
    /// top).
    #[arg(long, default_value_t = DEFAULT_MAX_PARALLEL)]
    pub max_parallel: u32,
    /// Poll interval while waiting for instances, at least 100ms (default `5s`).
    #[arg(long, alias = "poll", default_value = "5s", value_parser = duration)]
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Subnet per region for test instances (default: the default VPC).
    #[command(flatten)]
    pub subnets: Subnets,
    /// Security groups per region, comma-separated (default: a temporary group).
    #[command(flatten)]
    pub security_groups: SecurityGroups,
    /// User data file passed to every test launch (`hybrid`/`os-only` images configure at
    /// launch). Read by the CLI or the gate; the API carries the content.
    #[arg(long, alias = "user-data")]
    #[serde(
        deserialize_with = "de::empty_as_none",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_data_file: Option<PathBuf>,
    /// The user data itself (what the API carries; set from `user_data_file`).
    #[arg(skip)]
    #[hcl(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            launch: true,
            instance_types: vec![DEFAULT_INSTANCE_TYPE.to_string()],
            timeout: DEFAULT_TIMEOUT,
            max_parallel: DEFAULT_MAX_PARALLEL,
            poll_interval: DEFAULT_POLL_INTERVAL,
            subnets: Subnets::default(),
            security_groups: SecurityGroups::default(),
            user_data_file: None,
            user_data: None,
        }
    }
}
