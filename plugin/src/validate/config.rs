//! `amiforge-validate`'s HCL attributes and their validation: where the validator is, what the
//! gate checks (policy, launches, in-guest), where the reports go, what a pass promotes and what
//! a failure leaves. Every error names its attribute.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use amiforge_model::{duration, tags};
use amiforge_validator::request::{Guest, Launch, Policy, Request, Target, Transport, UserCheck};
use packer_sdk::{ConfigErrors, HclSpec, PackerConfig};
use serde::Deserialize;

/// A user's own in-guest check (`check { … }` blocks).
#[derive(Debug, Clone, Deserialize, HclSpec)]
pub struct CheckBlock {
    /// Name in the reports (`guest.user:<name>`).
    pub name: String,
    /// Shell command run on the test instance (as root).
    pub command: String,
    /// Exit code it must return (default 0).
    pub expect_exit: Option<i64>,
    /// Regular expression its stdout must match.
    pub expect_output: Option<String>,
}

/// Configuration of the `amiforge-validate` post-processor.
#[derive(Debug, Clone, Deserialize, HclSpec)]
pub struct ValidateConfig {
    /// gRPC address of a running `amiforge-validator serve` (`host:port`, `http://host:port` or
    /// `unix:/path`). Unset: the post-processor starts one on a private unix socket and stops it
    /// afterwards.
    pub address: Option<String>,
    /// The `amiforge-validator` binary for the local server (default: beside the plugin binary,
    /// then on PATH).
    pub validator_path: Option<PathBuf>,
    /// Instance types every AMI is launched on (default `["t3.micro"]`).
    #[serde(default)]
    pub instance_types: Vec<String>,
    /// `false`: only the AMI attribute checks (no test instances).
    pub launch: Option<bool>,
    /// Per test instance, from launch to the last check (default `15m`).
    pub timeout: Option<String>,
    /// Test instances at once for this build (default 8; a shared server's limit applies on top).
    pub max_parallel: Option<u32>,
    /// Poll interval while waiting for instances (default `5s`).
    pub poll_interval: Option<String>,
    /// Subnet per region for test instances (default: the default VPC).
    #[serde(default)]
    pub subnets: BTreeMap<String, String>,
    /// Security groups per region, comma-separated (default: a temporary group).
    #[serde(default)]
    pub security_groups: BTreeMap<String, String>,
    /// User data file passed to every test launch (`hybrid`/`os-only` images configure at launch).
    pub user_data_file: Option<PathBuf>,
    /// Tags every AMI must carry; an empty value means any value.
    #[serde(default)]
    pub required_tags: BTreeMap<String, String>,
    /// `uefi` | `legacy-bios` | `uefi-preferred`; unset: not checked.
    pub boot_mode: Option<String>,
    #[serde(default)]
    pub allow_unencrypted: bool,
    #[serde(default)]
    pub allow_no_ena: bool,
    #[serde(default)]
    pub allow_imds_v1: bool,
    #[serde(default)]
    pub allow_no_deprecation: bool,
    /// In-guest checks: `ssm` (default) | `ssh` | `none`.
    pub transport: Option<String>,
    /// SSH login user (default `ec2-user`).
    pub ssh_username: Option<String>,
    /// `host[:port]` every SSH connection goes to instead of the test instance (bastion).
    pub ssh_host: Option<String>,
    /// Private key of `ssh_keypair_name` (which must exist in every region); unset: a key pair
    /// is made for the run and deleted after.
    pub ssh_private_key_file: Option<PathBuf>,
    pub ssh_keypair_name: Option<String>,
    /// CIDR the temporary security group admits SSH from (required with `transport = "ssh"`
    /// unless `security_groups` allow it), e.g. the runner's `203.0.113.7/32`.
    pub ssh_cidr: Option<String>,
    /// Instance profile test instances launch with (SSM needs one allowing the SSM agent, unless
    /// Default Host Management is on).
    pub instance_profile: Option<String>,
    /// Hardening profile file to audit with (default: the built-in the manifest names).
    pub profile_file: Option<PathBuf>,
    /// Own in-guest checks.
    #[serde(default)]
    #[hcl(block)]
    pub check: Vec<CheckBlock>,
    /// JUnit XML report on the Packer host (default `amiforge-validation-<build>.xml`).
    pub junit_path: Option<PathBuf>,
    /// JSON report on the Packer host (default `amiforge-validation-<build>.json`).
    pub report_path: Option<PathBuf>,
    /// Extra tags for every AMI that passes (on top of `amiforge:validation = passed`).
    #[serde(default)]
    pub validated_tags: BTreeMap<String, String>,
    /// SSM parameter pointed at each region's AMI when (and only when) the gate passes.
    pub approved_parameter: Option<String>,
    /// What a failed gate leaves: `delete` (default: every AMI of the release and its snapshots
    /// are deleted) or `keep` (kept for debugging, tagged `amiforge:validation = failed` and
    /// deprecated now). Either way the approved pointer does not move and the build fails.
    pub on_failure: Option<String>,
}

/// The validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub address: Option<String>,
    pub validator_path: Option<PathBuf>,
    pub policy: Policy,
    pub launch: Launch,
    pub user_data_file: Option<PathBuf>,
    pub guest: Guest,
    pub junit_path: PathBuf,
    pub report_path: PathBuf,
    pub validated_tags: BTreeMap<String, String>,
    pub approved_parameter: Option<String>,
    pub keep_failed: bool,
}

fn duration_field(
    errs: &mut ConfigErrors,
    field: &str,
    v: Option<&str>,
    default: Duration,
    min: Duration,
) -> Duration {
    match v.map(duration::parse) {
        None => default,
        Some(Ok(d)) if d >= min => d,
        Some(Ok(_)) => {
            errs.push(
                field,
                format!("at least {}", humantime::format_duration(min)),
            );
            default
        }
        Some(Err(e)) => {
            errs.push(field, e.to_string());
            default
        }
    }
}

pub fn validate(mut c: ValidateConfig, packer: &PackerConfig) -> Result<Settings, ConfigErrors> {
    let mut errs = ConfigErrors::new();
    // "" (an unset template variable) means unset
    for v in [
        &mut c.address,
        &mut c.ssh_host,
        &mut c.ssh_username,
        &mut c.ssh_keypair_name,
        &mut c.ssh_cidr,
        &mut c.instance_profile,
        &mut c.transport,
        &mut c.approved_parameter,
    ] {
        if v.as_deref().is_some_and(str::is_empty) {
            *v = None;
        }
    }
    for v in [
        &mut c.ssh_private_key_file,
        &mut c.profile_file,
        &mut c.user_data_file,
    ] {
        if v.as_ref().is_some_and(|p| p.as_os_str().is_empty()) {
            *v = None;
        }
    }
    if let Some(a) = &c.address
        && amiforge_validator::api::client::parse(a).is_err()
    {
        errs.push(
            "address",
            format!("{a:?}: write host:port, http://host:port or unix:/absolute/path"),
        );
    }
    let default_launch = Launch::default();
    let instance_types = if c.instance_types.is_empty() {
        default_launch.instance_types.clone()
    } else {
        c.instance_types.clone()
    };
    let timeout = duration_field(
        &mut errs,
        "timeout",
        c.timeout.as_deref(),
        default_launch.timeout,
        Duration::from_secs(1),
    );
    let poll = duration_field(
        &mut errs,
        "poll_interval",
        c.poll_interval.as_deref(),
        default_launch.poll,
        Duration::from_millis(100),
    );
    let max_parallel = c.max_parallel.unwrap_or(default_launch.max_parallel as u32);
    if !(1..=100).contains(&max_parallel) {
        errs.push("max_parallel", "between 1 and 100");
    }
    let region_map = |errs: &mut ConfigErrors, field: &str, m: &BTreeMap<String, String>| {
        for r in m.keys() {
            if !amiforge_model::artifact::is_region(r) {
                errs.push(
                    &format!("{field}[\"{r}\"]"),
                    "the key must be a region name like eu-west-1",
                );
            }
        }
    };
    region_map(&mut errs, "subnets", &c.subnets);
    region_map(&mut errs, "security_groups", &c.security_groups);
    let mut security_groups = BTreeMap::new();
    for (r, list) in &c.security_groups {
        let ids: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
        security_groups.insert(r.clone(), ids);
    }
    for e in tags::check(&c.validated_tags) {
        errs.push(&e.field("validated_tags"), e.message);
    }
    let transport = match c.transport.as_deref() {
        None | Some("ssm") => Transport::Ssm,
        Some("ssh") => Transport::Ssh,
        Some("none") => Transport::None,
        Some(o) => {
            errs.push("transport", format!("{o:?}: use ssm, ssh or none"));
            Transport::None
        }
    };
    let ssh_fields = [
        ("ssh_username", c.ssh_username.is_some()),
        ("ssh_host", c.ssh_host.is_some()),
        ("ssh_private_key_file", c.ssh_private_key_file.is_some()),
        ("ssh_keypair_name", c.ssh_keypair_name.is_some()),
    ];
    if transport != Transport::Ssh {
        for (f, set) in ssh_fields {
            if set {
                errs.push(
                    f,
                    "only used with transport = \"ssh\"; set it or remove this",
                );
            }
        }
    }
    if let Some(p) = &c.user_data_file
        && !p.is_file()
    {
        errs.push(
            "user_data_file",
            format!("{} does not exist or is not a file", p.display()),
        );
    }
    let checks: Vec<UserCheck> = c
        .check
        .iter()
        .map(|k| UserCheck {
            name: k.name.clone(),
            command: k.command.clone(),
            expect_exit: k
                .expect_exit
                .unwrap_or(0)
                .clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            expect_output: k.expect_output.clone(),
        })
        .collect();
    if !checks.is_empty() && (transport == Transport::None || c.launch == Some(false)) {
        errs.push(
            "check",
            "in-guest checks need test instances: set launch = true and transport = ssm or ssh",
        );
    }
    if let Some(Err(e)) = c
        .approved_parameter
        .as_deref()
        .map(amiforge_model::ssm::check_parameter_name)
    {
        errs.push("approved_parameter", e);
    }
    let keep_failed = match c.on_failure.as_deref() {
        None | Some("delete") => false,
        Some("keep") => true,
        Some(o) => {
            errs.push("on_failure", format!("{o:?}: use delete or keep"));
            false
        }
    };
    errs.into_result()?;
    let build = if packer.build_name.is_empty() {
        "amiforge".to_string()
    } else {
        packer.build_name.replace(['/', ' '], "_")
    };
    let s = Settings {
        address: c.address,
        validator_path: c.validator_path,
        policy: Policy {
            require_encrypted: !c.allow_unencrypted,
            require_ena: !c.allow_no_ena,
            require_imds_v2: !c.allow_imds_v1,
            require_deprecation: !c.allow_no_deprecation,
            boot_mode: c.boot_mode,
            required_tags: c
                .required_tags
                .into_iter()
                .map(|(k, v)| (k, (!v.is_empty()).then_some(v)))
                .collect(),
        },
        launch: Launch {
            enabled: c.launch.unwrap_or(true),
            instance_types,
            subnets: c.subnets,
            security_groups,
            user_data: None,
            timeout,
            max_parallel: max_parallel as usize,
            poll,
        },
        user_data_file: c.user_data_file,
        guest: Guest {
            transport,
            ssh_user: c.ssh_username,
            ssh_host: c.ssh_host,
            ssh_private_key_file: c.ssh_private_key_file,
            ssh_key_pair_name: c.ssh_keypair_name,
            profile_file: c.profile_file,
            ssh_cidr: c.ssh_cidr,
            instance_profile: c.instance_profile,
            checks,
        },
        junit_path: c
            .junit_path
            .unwrap_or_else(|| PathBuf::from(format!("amiforge-validation-{build}.xml"))),
        report_path: c
            .report_path
            .unwrap_or_else(|| PathBuf::from(format!("amiforge-validation-{build}.json"))),
        validated_tags: c.validated_tags,
        approved_parameter: c.approved_parameter,
        keep_failed,
    };
    // the validator's own rules for what it is sent (one set of rules for CLI, gRPC and here),
    // checked now with a placeholder AMI so `packer validate` names the attribute
    // a placeholder AMI in us-east-1 and in every region the settings name
    let mut regions = std::collections::BTreeSet::from(["us-east-1".to_string()]);
    regions.extend(s.launch.subnets.keys().cloned());
    regions.extend(s.launch.security_groups.keys().cloned());
    let probe = Request {
        targets: regions
            .into_iter()
            .map(|region| Target {
                region,
                ami: "ami-00000000".into(),
                expect: Default::default(),
            })
            .collect(),
        policy: s.policy.clone(),
        launch: s.launch.clone(),
        guest: s.guest.clone(),
        run_id: String::new(),
    };
    if let Err(bad) = probe.check() {
        let mut errs = ConfigErrors::new();
        for e in &bad.0 {
            let (field, msg) = e.split_once(": ").unwrap_or(("", e));
            errs.push(&attribute(field), msg.to_string());
        }
        errs.into_result()?;
    }
    Ok(s)
}

/// The HCL attribute a validator request field comes from (`guest.checks[1].name` → `check[1].name`).
fn attribute(field: &str) -> String {
    let f = ["guest.", "launch.", "policy."]
        .iter()
        .find_map(|p| field.strip_prefix(p))
        .unwrap_or(field);
    let j = f.find(['[', '.']).unwrap_or(f.len());
    let (head, rest) = (&f[..j], &f[j..]);
    let name = match head {
        "ssh_user" => "ssh_username",
        "ssh_key_pair_name" => "ssh_keypair_name",
        "checks" => "check",
        "poll" => "poll_interval",
        "user_data" => "user_data_file",
        other => other,
    };
    format!("{name}{rest}")
}
