//! `amiforge-validate`'s HCL attributes: the validator's own settings structs ([`Policy`],
//! [`Launch`], [`Guest`], flattened, so every attribute has the same name as its CLI flag and
//! proto field) plus what only the gate has: where the validator is, where the reports go, what
//! a pass promotes and what a failure leaves. At `packer validate` the settings are checked with
//! the validator's own rules (one rule set for the CLI, the gRPC API and here); a problem is
//! named by its attribute.

use std::collections::BTreeMap;
use std::path::PathBuf;

use amiforge_model::tags;
use amiforge_validator_api::client::{Address, Credentials};
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
    /// For an `https://` address: the CA (PEM) the validator's certificate must chain to.
    pub tls_ca_file: Option<PathBuf>,
    /// For a validator that asks for client certificates: this client's certificate (PEM).
    pub tls_cert_file: Option<PathBuf>,
    /// The key (PEM) of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Sensitive: a bearer token the shared validator knows (default: the environment variable
    /// `AMIFORGE_VALIDATOR_TOKEN`). Never printed.
    pub token: Option<String>,
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
    /// How the gate checks a shared validator and proves who it is.
    pub credentials: Credentials,
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
    let address = given(c.address.clone());
    let parsed = address
        .as_deref()
        .map(amiforge_validator_api::client::parse);
    if let (Some(a), Some(Err(_))) = (&address, &parsed) {
        errs.push(
            "address",
            format!(
                "{a:?}: write host:port, http://host:port, https://host:port or unix:/absolute/path"
            ),
        );
    }
    let https = matches!(parsed, Some(Ok(Address::Https(_))));
    if https && c.tls_ca_file.is_none() {
        errs.push(
            "tls_ca_file",
            "an https:// address needs the CA the validator's certificate chains to",
        );
    }
    for (f, set) in [
        ("tls_ca_file", c.tls_ca_file.is_some()),
        ("tls_cert_file", c.tls_cert_file.is_some()),
        ("tls_key_file", c.tls_key_file.is_some()),
    ] {
        if set && !https {
            errs.push(f, "only used with an https:// address");
        }
    }
    if c.tls_cert_file.is_some() != c.tls_key_file.is_some() {
        errs.push(
            "tls_key_file",
            "give the client certificate and its key together",
        );
    }
    if address.is_some() && c.guest.ssh_private_key_file.is_some() {
        errs.push(
            "ssh_private_key_file",
            "a shared validator (address) reads no file a request names: give \
             ssh_private_key_name, a key its operator configured (serve --ssh-key), or neither",
        );
    }
    if address.is_none() && c.guest.ssh_private_key_name.is_some() {
        errs.push(
            "ssh_private_key_name",
            "names a key a shared validator's operator configured: set address, or give \
             ssh_private_key_file to the validator started for this build",
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
    let token = given(c.token.clone()).or_else(amiforge_validator_api::client::token_from_env);
    if let Some(t) = &token {
        packer_sdk::secrets::register(t);
    }
    Ok(Settings {
        credentials: Credentials {
            ca: c.tls_ca_file.clone(),
            cert: c.tls_cert_file.clone(),
            key: c.tls_key_file.clone(),
            server_name: None,
            token: token.map(Into::into),
        },
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
