//! [`Policy`]: what every AMI must be (encrypted, ENA, IMDSv2, a deprecation time, a boot mode,
//! tags). One struct is the `amiforge-validate` HCL attributes, the `amiforge-validator run`
//! flags and the proto `Policy`; everything is required unless allowed.

use clap::Args;
use packer_sdk::HclSpec;
use serde::{Deserialize, Serialize};

use super::maps::RequiredTags;
use super::values::{BootMode, de};

/// Rules every AMI must meet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, HclSpec, Args)]
#[serde(default)]
pub struct Policy {
    /// Do not require encrypted snapshots.
    #[arg(long)]
    pub allow_unencrypted: bool,
    /// Do not require ENA support.
    #[arg(long)]
    pub allow_no_ena: bool,
    /// Do not require the AMI to demand IMDSv2 (test instances always require it).
    #[arg(long)]
    pub allow_imds_v1: bool,
    /// Do not require a deprecation time.
    #[arg(long)]
    pub allow_no_deprecation: bool,
    /// Boot mode every AMI must have: `uefi`, `legacy-bios` or `uefi-preferred`; unset: not
    /// checked.
    #[arg(long)]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub boot_mode: Option<BootMode>,
    /// Tags every AMI must carry; an empty value means any value.
    #[command(flatten)]
    pub required_tags: RequiredTags,
}
