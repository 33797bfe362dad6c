//! What one validation run is asked to do: the AMIs (from a replicate manifest or `region:ami`
//! pairs) with what each is expected to be, the policy every AMI must meet, and how test
//! instances are launched. One model for the CLI, the gRPC API and the gate post-processor;
//! [`Request::check`] names the field and the fix for every bad input.

use std::collections::BTreeMap;
use std::time::Duration;

use amiforge_aws::manifest::{Manifest, Sharing};
use amiforge_aws::{artifact, lifecycle};
use serde::{Deserialize, Serialize};

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
pub struct Expect {
    /// The KMS key (ARN, id or alias) its snapshots must be encrypted with.
    pub kms_key: Option<String>,
    /// Exactly who may launch it; `None`: only "not public" is checked.
    pub sharing: Option<Sharing>,
    /// Tags it must carry with these values.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The deprecation time it must have (RFC 3339), when known.
    pub deprecation_time: Option<String>,
    /// Its strategy (full | hybrid | os-only): sets the shelf life.
    pub strategy: Option<String>,
    /// sha256 of the hardening profile it was built with (in-guest evidence must match).
    pub profile_sha256: Option<String>,
    /// sha256 of the hardening report the build wrote (the on-image evidence must be those bytes).
    #[serde(default)]
    pub report_sha256: Option<String>,
    /// The hardening profile it was built with (`linux-baseline`, or the profile's name).
    #[serde(default)]
    pub profile: Option<String>,
}

/// Rules every AMI must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    pub require_encrypted: bool,
    pub require_ena: bool,
    pub require_imds_v2: bool,
    pub require_deprecation: bool,
    /// `uefi` | `legacy-bios` | `uefi-preferred`; `None`: not checked.
    pub boot_mode: Option<String>,
    /// Tag keys every AMI must carry (a value, when given, must match).
    pub required_tags: BTreeMap<String, Option<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            require_encrypted: true,
            require_ena: true,
            require_imds_v2: true,
            require_deprecation: true,
            boot_mode: None,
            required_tags: BTreeMap::new(),
        }
    }
}

/// How test instances are launched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Launch {
    /// false: attribute checks only.
    pub enabled: bool,
    pub instance_types: Vec<String>,
    /// Subnet per region (default: the default VPC).
    pub subnets: BTreeMap<String, String>,
    /// Security groups per region (default: a temporary group with no ingress).
    pub security_groups: BTreeMap<String, Vec<String>>,
    /// User data passed to every test launch (required for hybrid/os-only images to be meaningful).
    pub user_data: Option<String>,
    /// From RunInstances to both status checks passed, per instance.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Instances running at once (across regions and instance types).
    pub max_parallel: usize,
    /// Seconds between polls while waiting (tests use short ones).
    #[serde(with = "humantime_serde_compat")]
    pub poll: Duration,
}

impl Default for Launch {
    fn default() -> Self {
        Launch {
            enabled: true,
            instance_types: vec!["t3.micro".into()],
            subnets: BTreeMap::new(),
            security_groups: BTreeMap::new(),
            user_data: None,
            timeout: Duration::from_secs(15 * 60),
            max_parallel: 8,
            poll: Duration::from_secs(5),
        }
    }
}

/// How in-guest checks reach a test instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// SSM Run Command (the instance needs the SSM agent and an instance profile).
    #[default]
    Ssm,
    /// SSH with a key pair made for the run (or given).
    Ssh,
    /// No in-guest checks.
    None,
}

/// A user's own in-guest check: a command, its expected exit code and output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCheck {
    pub name: String,
    pub command: String,
    #[serde(default)]
    pub expect_exit: i32,
    /// Regex stdout must match.
    #[serde(default)]
    pub expect_output: Option<String>,
}

/// In-guest checks: the hardening profile re-run in audit mode, evidence digests, user checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Guest {
    pub transport: Transport,
    /// SSH login user (default `ec2-user`).
    pub ssh_user: Option<String>,
    /// `host[:port]` every SSH connection goes to instead of the instance (bastion, tests).
    pub ssh_host: Option<String>,
    /// Private key of an existing key pair (`ssh_key_pair_name`) present in every region; unset:
    /// a key pair is made for the run and deleted after.
    pub ssh_private_key_file: Option<std::path::PathBuf>,
    pub ssh_key_pair_name: Option<String>,
    /// Profile file to audit with (default: the built-in the manifest names).
    pub profile_file: Option<std::path::PathBuf>,
    pub checks: Vec<UserCheck>,
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

/// Bad input: every problem, each naming its field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput(pub Vec<String>);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\n"))
    }
}

impl std::error::Error for BadInput {}

impl Request {
    /// Targets from a replicate manifest: every region's AMI with what the manifest recorded.
    pub fn targets_from_manifest(m: &Manifest) -> Vec<Target> {
        m.regions
            .iter()
            .map(|(region, r)| Target {
                region: region.clone(),
                ami: r.ami.clone(),
                expect: Expect {
                    kms_key: r.kms_key.clone(),
                    sharing: Some(m.sharing.clone()),
                    tags: r.tags.clone(),
                    deprecation_time: r.deprecation_time.clone(),
                    strategy: Some(m.strategy.clone()),
                    profile_sha256: m.hardening.as_ref().map(|h| h.profile_sha256.clone()),
                    report_sha256: m.hardening.as_ref().map(|h| h.report_sha256.clone()),
                    profile: m.hardening.as_ref().map(|h| h.profile.clone()),
                },
            })
            .collect()
    }

    /// Targets from `region:ami,region:ami` (Packer's artifact id form).
    pub fn targets_from_ids(ids: &str) -> Result<Vec<Target>, BadInput> {
        let amis = artifact::parse_id(ids).map_err(|e| BadInput(vec![format!("--ami: {e}")]))?;
        Ok(amis
            .into_iter()
            .map(|(region, ami)| Target {
                region,
                ami,
                expect: Expect::default(),
            })
            .collect())
    }

    /// Every problem with this request, each naming the field and the fix.
    pub fn check(&self) -> Result<(), BadInput> {
        let mut errs = Vec::new();
        if self.targets.is_empty() {
            errs.push("targets: nothing to validate; give a manifest or region:ami pairs".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in self.targets.iter().enumerate() {
            if !artifact::is_region(&t.region) {
                errs.push(format!(
                    "targets[{i}].region: {:?} is not a region name (like eu-west-1)",
                    t.region
                ));
            }
            if !artifact::is_ami_id(&t.ami) {
                errs.push(format!(
                    "targets[{i}].ami: {:?} is not an AMI id (ami- and 8 or 17 hex digits)",
                    t.ami
                ));
            }
            if !seen.insert((&t.region, &t.ami)) {
                errs.push(format!(
                    "targets[{i}]: {} in {} is listed twice",
                    t.ami, t.region
                ));
            }
            if let Some(s) = &t.expect.strategy
                && lifecycle::shelf_life(s).is_none()
            {
                errs.push(format!(
                    "targets[{i}].expect.strategy: {s:?}: use {}",
                    lifecycle::STRATEGIES.join(", ")
                ));
            }
        }
        if let Some(b) = &self.policy.boot_mode
            && !matches!(b.as_str(), "uefi" | "legacy-bios" | "uefi-preferred")
        {
            errs.push(format!(
                "policy.boot_mode: {b:?}: use uefi, legacy-bios or uefi-preferred"
            ));
        }
        for k in self.policy.required_tags.keys() {
            if k.is_empty() {
                errs.push("policy.required_tags: a tag key is empty".into());
            }
        }
        let l = &self.launch;
        if l.enabled {
            if l.instance_types.is_empty() {
                errs.push("launch.instance_types: name at least one (e.g. t3.micro)".into());
            }
            for (i, t) in l.instance_types.iter().enumerate() {
                if !is_instance_type(t) {
                    errs.push(format!(
                        "launch.instance_types[{i}]: {t:?} is not an instance type (like t3.micro)"
                    ));
                }
            }
            if l.max_parallel == 0 {
                errs.push("launch.max_parallel: must be at least 1".into());
            }
            if l.timeout < Duration::from_secs(1) {
                errs.push("launch.timeout: must be at least 1s".into());
            }
            let regions: std::collections::BTreeSet<&str> =
                self.targets.iter().map(|t| t.region.as_str()).collect();
            for r in l.subnets.keys().chain(l.security_groups.keys()) {
                if !regions.contains(r.as_str()) {
                    errs.push(format!(
                        "launch.subnets/security_groups[{r:?}]: no AMI to validate in {r}"
                    ));
                }
            }
            for (r, s) in &l.subnets {
                if !s.starts_with("subnet-") {
                    errs.push(format!(
                        "launch.subnets[{r:?}]: {s:?} is not a subnet id (subnet-…)"
                    ));
                }
            }
            for (r, gs) in &l.security_groups {
                for g in gs {
                    if !g.starts_with("sg-") {
                        errs.push(format!(
                            "launch.security_groups[{r:?}]: {g:?} is not a security group id (sg-…)"
                        ));
                    }
                }
            }
            if let Some(u) = &l.user_data
                && u.len() > 16 * 1024
            {
                errs.push(format!(
                    "launch.user_data: {} bytes; EC2 allows 16 KiB",
                    u.len()
                ));
            }
        }
        if !self.run_id.is_empty()
            && !self
                .run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            errs.push(format!(
                "run_id: {:?}: letters, digits, - and _ only",
                self.run_id
            ));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(BadInput(errs))
        }
    }
}

fn is_instance_type(s: &str) -> bool {
    let Some((family, size)) = s.split_once('.') else {
        return false;
    };
    !family.is_empty()
        && !size.is_empty()
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && size
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Durations as humantime strings (`15m`) in JSON, so requests read like the CLI.
mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        amiforge_aws::duration::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(region: &str, ami: &str) -> Request {
        Request {
            targets: vec![Target {
                region: region.into(),
                ami: ami.into(),
                expect: Expect::default(),
            }],
            policy: Policy::default(),
            launch: Launch::default(),
            guest: Guest::default(),
            run_id: String::new(),
        }
    }

    #[test]
    fn a_good_request_passes() {
        one("eu-west-1", "ami-0123456789abcdef0").check().unwrap();
    }

    #[test]
    fn every_problem_names_its_field() {
        let mut r = one("eu_west_1", "ami-xyz");
        r.launch.instance_types = vec!["t3micro".into()];
        r.launch.max_parallel = 0;
        r.launch
            .subnets
            .insert("us-west-2".into(), "subnet-1".into());
        r.policy.boot_mode = Some("bios".into());
        r.run_id = "a b".into();
        let e = r.check().unwrap_err().0;
        let want = [
            "targets[0].region: \"eu_west_1\"",
            "targets[0].ami: \"ami-xyz\"",
            "launch.instance_types[0]: \"t3micro\"",
            "launch.max_parallel",
            "launch.subnets/security_groups[\"us-west-2\"]",
            "policy.boot_mode: \"bios\"",
            "run_id: \"a b\"",
        ];
        for w in want {
            assert!(e.iter().any(|m| m.starts_with(w)), "{w} missing in {e:#?}");
        }
        assert_eq!(e.len(), want.len(), "{e:#?}");
    }

    #[test]
    fn ids_parse_like_packer_artifacts() {
        let t = Request::targets_from_ids(
            "us-east-1:ami-0123456789abcdef0,eu-west-1:ami-0123456789abcdef1",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].region, "eu-west-1");
        assert!(Request::targets_from_ids("nonsense").is_err());
    }

    #[test]
    fn requests_round_trip_as_json_with_readable_durations() {
        let r = one("eu-west-1", "ami-0123456789abcdef0");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["launch"]["timeout"], "15m");
        let back: Request = serde_json::from_value(j).unwrap();
        assert_eq!(back, r);
        let minimal: Request = serde_json::from_str(
            r#"{"targets":[{"region":"eu-west-1","ami":"ami-0123456789abcdef0"}]}"#,
        )
        .unwrap();
        assert_eq!(minimal.launch, Launch::default());
    }
}
