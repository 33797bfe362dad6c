//! [`Guest`]: the in-guest checks on every test instance (the hardening evidence and a re-run
//! audit, user checks) and how they reach it (SSM, SSH). One struct is the `amiforge-validate`
//! HCL attributes (and `check` blocks), the `amiforge-validator run` flags and the proto `Guest`.

use std::path::PathBuf;

use clap::Args;
use packer_sdk::HclSpec;
use serde::{Deserialize, Serialize};

use super::user_check::UserCheck;
use super::values::{Transport, de};

/// SSH login user when none is given.
pub const DEFAULT_SSH_USERNAME: &str = "ec2-user";

/// In-guest checks and how they reach a test instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, HclSpec, Args)]
#[serde(default)]
pub struct Guest {
    /// How in-guest checks reach test instances: `ssm` (default: the agent with an instance
    /// profile or Default Host Management), `ssh` (a key pair made for the run unless
    /// `ssh_keypair_name`) or `none`.
    #[arg(long, default_value = "ssm")]
    #[serde(deserialize_with = "de::empty_as_default")]
    pub transport: Transport,
    /// SSH login user: root, or one with passwordless sudo (default `ec2-user`).
    #[arg(long, alias = "ssh-user")]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub ssh_username: Option<String>,
    /// `host[:port]` every SSH connection goes to instead of the test instance (a bastion's
    /// forwarded port, tests).
    #[arg(long)]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub ssh_host: Option<String>,
    /// Private key file of `ssh_keypair_name` (which must exist in every region), where the
    /// validator runs; unset: a key pair is made for the run and deleted after. A shared
    /// validator reads no file a request names: give `ssh_private_key_name` instead.
    #[arg(
        long,
        alias = "ssh-key-file",
        requires = "ssh_keypair_name",
        group = "ssh_private_key"
    )]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub ssh_private_key_file: Option<PathBuf>,
    /// The private key of `ssh_keypair_name` by the name a validator's operator gave it
    /// (`amiforge-validator serve --ssh-key NAME=FILE`): how a request to a shared validator
    /// names a key.
    #[arg(long, requires = "ssh_keypair_name", group = "ssh_private_key")]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub ssh_private_key_name: Option<String>,
    /// An existing key pair to launch with (give its `ssh_private_key_file` or
    /// `ssh_private_key_name`).
    #[arg(long, alias = "ssh-key-pair", requires = "ssh_private_key")]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub ssh_keypair_name: Option<String>,
    /// CIDR the temporary security group admits SSH (tcp/22) from, e.g. the runner's
    /// `203.0.113.7/32` (needed with `transport = "ssh"` unless `security_groups` allow it).
    #[arg(long)]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub ssh_cidr: Option<String>,
    /// Instance profile (name or ARN) test instances launch with, e.g. one allowing the SSM agent
    /// to register (`AmazonSSMManagedInstanceCore`); not needed with Default Host Management.
    #[arg(long)]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub instance_profile: Option<String>,
    /// Hardening profile file to audit with (default: the built-in the build's report names).
    /// Read by the CLI or the gate; the API carries its content (`profile`).
    #[arg(long)]
    #[serde(deserialize_with = "de::empty_as_none")]
    pub profile_file: Option<PathBuf>,
    /// The text of the profile to audit with (what the API carries; set from `profile_file`).
    #[arg(skip)]
    #[hcl(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Own in-guest checks. CLI: `--check NAME=COMMAND[,exit=N][,output=REGEX]` (repeatable;
    /// COMMAND runs with sh as root; the regex runs to the end of the value, so it may hold
    /// commas).
    #[arg(long = "check", value_name = "NAME=COMMAND[,exit=N][,output=REGEX]")]
    #[hcl(block)]
    pub check: Vec<UserCheck>,
}

impl Guest {
    /// The SSH login user (given, or `ec2-user`).
    pub fn ssh_username(&self) -> &str {
        self.ssh_username.as_deref().unwrap_or(DEFAULT_SSH_USERNAME)
    }
}
