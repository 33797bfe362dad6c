//! `amiforge-validate`'s HCL attributes: the validator's own settings structs ([`Policy`],
//! [`Launch`], [`Guest`], flattened, so every attribute has the same name as its CLI flag and
//! proto field) plus what only the gate has: where the validator is, where the reports go, what
//! a pass promotes and what a failure leaves. At `packer validate` the settings are checked with
//! the validator's own rules (one rule set for the CLI, the gRPC API and here); a problem is
//! named by its attribute.

use std::collections::BTreeMap;
use std::path::PathBuf;

use amiforge_model::tags;
use amiforge_validator_api::request::files;
use amiforge_validator_api::{FieldErrors, Guest, Launch, Policy, Request, Target};
use packer_sdk::{ConfigErrors, HclSpec, PackerConfig};
use serde::Deserialize;

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
    #[serde(flatten)]
    pub policy: Policy,
    #[serde(flatten)]
    pub launch: Launch,
    #[serde(flatten)]
    pub guest: Guest,
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
    pub guest: Guest,
    pub junit_path: PathBuf,
    pub report_path: PathBuf,
    pub validated_tags: BTreeMap<String, String>,
    pub approved_parameter: Option<String>,
    pub keep_failed: bool,
}

/// "" (an unset template variable) means unset.
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

/// The gate's own attributes (not the validator's settings).
fn gate_problems(c: &ValidateConfig, errs: &mut ConfigErrors) -> bool {
    if let Some(a) = given(c.address.clone())
        && amiforge_validator_api::client::parse(&a).is_err()
    {
        errs.push(
            "address",
            format!("{a:?}: write host:port, http://host:port or unix:/absolute/path"),
        );
    }
    for e in tags::check(&c.validated_tags) {
        errs.push(&e.field("validated_tags"), e.message);
    }
    if let Some(Err(e)) = given(c.approved_parameter.clone())
        .as_deref()
        .map(amiforge_model::ssm::check_parameter_name)
    {
        errs.push("approved_parameter", e);
    }
    match c.on_failure.as_deref() {
        None | Some("") | Some("delete") => false,
        Some("keep") => true,
        Some(o) => {
            errs.push("on_failure", format!("{o:?}: use delete or keep"));
            false
        }
    }
}

/// The validator's rules for what the gate will send, checked now with a placeholder AMI in
/// us-east-1 and in every region the settings name; each problem is put under its attribute
/// (the settings group dropped: `guest.check[1].name` is `check[1].name`).
fn request_problems(policy: &Policy, launch: &Launch, guest: &Guest, errs: &mut ConfigErrors) {
    let mut regions = std::collections::BTreeSet::from(["us-east-1".to_string()]);
    // region-shaped keys only: a bad key is named once, as its own attribute
    regions.extend(
        launch
            .subnets
            .keys()
            .chain(launch.security_groups.keys())
            .filter(|r| amiforge_model::artifact::is_region(r))
            .cloned(),
    );
    let probe = Request {
        targets: regions
            .into_iter()
            .map(|region| Target {
                region,
                ami: "ami-00000000".into(),
                expect: Default::default(),
            })
            .collect(),
        policy: policy.clone(),
        launch: launch.clone(),
        guest: guest.clone(),
        run_id: String::new(),
    };
    let mut found = probe.check().err().unwrap_or_default();
    found.extend(files::problems(&probe));
    for e in found.0 {
        errs.push(&attribute(&e), e.message);
    }
}

/// The HCL attribute of a request problem: its path without the settings group.
fn attribute(e: &amiforge_validator_api::FieldError) -> String {
    match e.path.head() {
        Some("policy" | "launch" | "guest") => e.path.tail().to_string(),
        _ => e.path.to_string(),
    }
}

pub fn validate(c: ValidateConfig, packer: &PackerConfig) -> Result<Settings, ConfigErrors> {
    let mut errs = ConfigErrors::new();
    let keep_failed = gate_problems(&c, &mut errs);
    request_problems(&c.policy, &c.launch, &c.guest, &mut errs);
    errs.into_result()?;
    let build = if packer.build_name.is_empty() {
        "amiforge".to_string()
    } else {
        packer.build_name.replace(['/', ' '], "_")
    };
    Ok(Settings {
        address: given(c.address),
        validator_path: c.validator_path.filter(|p| !p.as_os_str().is_empty()),
        policy: c.policy,
        launch: c.launch,
        guest: c.guest,
        junit_path: c
            .junit_path
            .unwrap_or_else(|| PathBuf::from(format!("amiforge-validation-{build}.xml"))),
        report_path: c
            .report_path
            .unwrap_or_else(|| PathBuf::from(format!("amiforge-validation-{build}.json"))),
        validated_tags: c.validated_tags,
        approved_parameter: given(c.approved_parameter),
        keep_failed,
    })
}

/// Field errors (as the validator words them) under the gate's attribute names.
pub fn as_attributes(e: &FieldErrors) -> ConfigErrors {
    let mut out = ConfigErrors::new();
    for f in &e.0 {
        out.push(&attribute(f), f.message.clone());
    }
    out
}
