//! What one validation run is asked to do: the AMIs (from a replicate manifest or `region:ami`
//! pairs) with what each is expected to be, the policy every AMI must meet, and how test
//! instances are launched. One model for the CLI, the gRPC API and the gate post-processor;
//! [`Request::check`] names the field and the fix for every bad input.

use std::collections::BTreeMap;
use std::time::Duration;

use amiforge_model::manifest::{Manifest, Sharing};
use amiforge_model::{Strategy, artifact};
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
    pub strategy: Option<Strategy>,
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

impl std::str::FromStr for UserCheck {
    type Err = String;

    /// `NAME=COMMAND[,exit=N][,output=REGEX]` (exit before output; the regex runs to the end, so
    /// it may hold commas). Commands containing `,exit=` or `,output=` belong in a checks file.
    fn from_str(s: &str) -> Result<UserCheck, String> {
        let form = "write NAME=COMMAND[,exit=N][,output=REGEX]";
        let (name, rest) = s.split_once('=').ok_or_else(|| format!("{s:?}: {form}"))?;
        let mut command = rest;
        let mut expect_output = None;
        if let Some(i) = command.rfind(",output=") {
            expect_output = Some(command[i + ",output=".len()..].to_string());
            command = &command[..i];
        }
        let mut expect_exit = 0;
        if let Some(i) = command.rfind(",exit=") {
            let n = &command[i + ",exit=".len()..];
            expect_exit = n
                .parse::<i32>()
                .map_err(|_| format!("{s:?}: exit={n:?} is not an exit code; {form}"))?;
            command = &command[..i];
        }
        if name.trim().is_empty() || command.trim().is_empty() {
            return Err(format!("{s:?}: {form}"));
        }
        Ok(UserCheck {
            name: name.trim().to_string(),
            command: command.to_string(),
            expect_exit,
            expect_output,
        })
    }
}

/// A checks file entry (unknown keys are refused, so a typo never drops an expectation).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckEntry {
    name: String,
    command: String,
    #[serde(default)]
    expect_exit: i32,
    #[serde(default)]
    expect_output: Option<String>,
}

/// Reads user checks from `path`: JSON (`.json`: a list of `{name, command, expect_exit,
/// expect_output}`) or TOML (`[[check]]` tables with the same keys).
pub fn user_checks_from_file(path: &std::path::Path) -> Result<Vec<UserCheck>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let entries: Vec<CheckEntry> = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            #[serde(default)]
            check: Vec<CheckEntry>,
        }
        toml::from_str::<File>(&text)
            .map_err(|e| format!("{}: {}", path.display(), e.to_string().trim()))?
            .check
    };
    Ok(entries
        .into_iter()
        .map(|e| UserCheck {
            name: e.name,
            command: e.command,
            expect_exit: e.expect_exit,
            expect_output: e.expect_output,
        })
        .collect())
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
    /// CIDR the temporary security group admits SSH (tcp/22) from (SSH runs without
    /// `launch.security_groups`), e.g. the runner's `203.0.113.7/32`.
    #[serde(default)]
    pub ssh_cidr: Option<String>,
    /// Instance profile (name or ARN) test instances launch with, e.g. one allowing the SSM agent
    /// to register (`AmazonSSMManagedInstanceCore`); not needed with Default Host Management.
    #[serde(default)]
    pub instance_profile: Option<String>,
}

impl Guest {
    /// Every problem with the in-guest settings, each naming its field.
    fn problems(&self, launching: bool, ssh_group_needed: bool) -> Vec<String> {
        let mut errs = Vec::new();
        errs.extend(user_check_problems(&self.checks, "guest.checks"));
        if let Some(u) = &self.ssh_user
            && let Err(e) = crate::guest::ssh::check_user(u)
        {
            errs.push(format!("guest.ssh_user: {e}"));
        }
        if let Some(h) = &self.ssh_host
            && let Err(e) = crate::guest::ssh::Address::parse(h)
        {
            errs.push(format!("guest.ssh_host: {e}"));
        }
        if let Some(c) = &self.ssh_cidr
            && !is_cidr(c)
        {
            errs.push(format!(
                "guest.ssh_cidr: {c:?} is not a CIDR (like 203.0.113.7/32 or 10.0.0.0/16)"
            ));
        }
        match (&self.ssh_key_pair_name, &self.ssh_private_key_file) {
            (Some(_), None) => errs.push(
                "guest.ssh_private_key_file: give the private key of guest.ssh_key_pair_name"
                    .into(),
            ),
            (None, Some(_)) => errs.push(
                "guest.ssh_key_pair_name: give the key pair guest.ssh_private_key_file belongs to \
                 (or neither: a key pair is made for the run)"
                    .into(),
            ),
            (Some(n), Some(f)) => {
                if n.is_empty() {
                    errs.push("guest.ssh_key_pair_name: empty".into());
                }
                if let Err(e) = std::fs::File::open(f) {
                    errs.push(format!(
                        "guest.ssh_private_key_file: cannot read {}: {e}",
                        f.display()
                    ));
                }
            }
            (None, None) => {}
        }
        if let Some(p) = &self.profile_file {
            match std::fs::read_to_string(p) {
                Err(e) => errs.push(format!(
                    "guest.profile_file: cannot read {}: {e}",
                    p.display()
                )),
                Ok(text) => {
                    let src = amiforge_profile::Source::File(p.clone());
                    if let Err(e) = amiforge_profile::load::parse(src, text) {
                        errs.push(format!("guest.profile_file: {e}"));
                    }
                }
            }
        }
        if launching
            && ssh_group_needed
            && self.transport == Transport::Ssh
            && self.ssh_cidr.is_none()
        {
            errs.push(
                "guest.ssh_cidr: SSH to test instances needs ingress on tcp/22; give the CIDR this \
                 runner connects from (e.g. 203.0.113.7/32), or launch.security_groups that allow it"
                    .into(),
            );
        }
        errs
    }
}

/// Problems with user checks, named `{field}[i].name` etc.: names (letters, digits, `.`, `_`, `-`;
/// unique), commands (non-empty), regexes (must compile).
pub fn user_check_problems(checks: &[UserCheck], field: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, c) in checks.iter().enumerate() {
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
        {
            errs.push(format!(
                "{field}[{i}].name: {:?}: use letters, digits, '.', '_' and '-'",
                c.name
            ));
        } else if !names.insert(c.name.as_str()) {
            errs.push(format!(
                "{field}[{i}].name: {:?} is used twice; names must be unique",
                c.name
            ));
        }
        if c.command.trim().is_empty() {
            errs.push(format!("{field}[{i}].command: empty; give a shell command"));
        }
        if let Some(r) = &c.expect_output
            && let Err(e) = regex::Regex::new(r)
        {
            errs.push(format!(
                "{field}[{i}].expect_output: not a regex: {}",
                e.to_string().replace('\n', " ")
            ));
        }
    }
    errs
}

/// `a.b.c.d/n` or an IPv6 address with a prefix.
fn is_cidr(s: &str) -> bool {
    let Some((ip, len)) = s.split_once('/') else {
        return false;
    };
    let Ok(len) = len.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len <= 32,
        Ok(std::net::IpAddr::V6(_)) => len <= 128,
        Err(_) => false,
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

/// Why bytes are not a manifest the validator can take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestProblem {
    /// Not a replicate manifest at all (the JSON error).
    NotAManifest(String),
    /// Its own sha256 does not match: edited or truncated after replicate wrote it.
    Edited,
    /// A dry run: there are no AMIs.
    DryRun,
}

/// A replicate manifest from its JSON bytes; each caller words the problem for its field.
pub fn manifest_from_json(bytes: &[u8]) -> Result<Manifest, ManifestProblem> {
    let m: Manifest =
        serde_json::from_slice(bytes).map_err(|e| ManifestProblem::NotAManifest(e.to_string()))?;
    if !m.verify() {
        return Err(ManifestProblem::Edited);
    }
    if m.dry_run {
        return Err(ManifestProblem::DryRun);
    }
    Ok(m)
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
                    strategy: Some(m.strategy),
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
        let ssh_group_needed = crate::guest::needs_guest(self)
            && self
                .targets
                .iter()
                .any(|t| !self.launch.security_groups.contains_key(&t.region));
        errs.extend(self.guest.problems(l.enabled, ssh_group_needed));
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
        amiforge_model::duration::parse(&s).map_err(serde::de::Error::custom)
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
    fn user_checks_parse_from_flags_and_files() {
        let c: UserCheck = "nginx=systemctl is-active nginx,exit=3,output=^(in)?active$,x"
            .parse()
            .unwrap();
        assert_eq!(c.name, "nginx");
        assert_eq!(c.command, "systemctl is-active nginx");
        assert_eq!(c.expect_exit, 3);
        assert_eq!(c.expect_output.as_deref(), Some("^(in)?active$,x"));
        let c: UserCheck = "a=echo a,b".parse().unwrap();
        assert_eq!((c.command.as_str(), c.expect_exit), ("echo a,b", 0));
        assert!("a=true,exit=x".parse::<UserCheck>().is_err());
        assert!("=true".parse::<UserCheck>().is_err());
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("c.json");
        std::fs::write(&j, r#"[{"name":"a","command":"true","expect_exit":1}]"#).unwrap();
        assert_eq!(user_checks_from_file(&j).unwrap()[0].expect_exit, 1);
        let t = dir.path().join("c.toml");
        std::fs::write(
            &t,
            "[[check]]\nname = \"a\"\ncommand = \"true\"\nexit = 1\n",
        )
        .unwrap();
        let e = user_checks_from_file(&t).unwrap_err();
        assert!(e.contains("unknown field `exit`"), "{e}");
    }

    #[test]
    fn guest_settings_name_their_fields() {
        let mut r = one("eu-west-1", "ami-0123456789abcdef0");
        r.guest.transport = Transport::Ssh;
        r.guest.ssh_user = Some("-oProxy".into());
        r.guest.ssh_host = Some("a b".into());
        r.guest.ssh_cidr = Some("10.0.0.0/33".into());
        r.guest.ssh_key_pair_name = Some("ci".into());
        r.guest.profile_file = Some("/nonexistent/p.toml".into());
        r.guest.checks = vec![
            UserCheck {
                name: "a".into(),
                command: " ".into(),
                expect_exit: 0,
                expect_output: None,
            },
            UserCheck {
                name: "a".into(),
                command: "true".into(),
                expect_exit: 0,
                expect_output: Some("[".into()),
            },
        ];
        let e = r.check().unwrap_err().0;
        let want = [
            "guest.checks[0].command: empty",
            "guest.checks[1].name: \"a\" is used twice",
            "guest.checks[1].expect_output: not a regex",
            "guest.ssh_user:",
            "guest.ssh_host:",
            "guest.ssh_cidr: \"10.0.0.0/33\"",
            "guest.ssh_private_key_file: give the private key",
            "guest.profile_file: cannot read /nonexistent/p.toml",
        ];
        for w in want {
            assert!(e.iter().any(|m| m.starts_with(w)), "{w} missing in {e:#?}");
        }
        assert_eq!(e.len(), want.len(), "{e:#?}");
        // SSH with a group the user gives: no CIDR needed
        let mut r = one("eu-west-1", "ami-0123456789abcdef0");
        r.guest.transport = Transport::Ssh;
        r.guest.checks = vec!["t=true".parse().unwrap()];
        assert!(r.check().unwrap_err().0[0].starts_with("guest.ssh_cidr: SSH to test instances"));
        r.launch
            .security_groups
            .insert("eu-west-1".into(), vec!["sg-1".into()]);
        r.check().unwrap();
        r.launch.security_groups.clear();
        r.guest.ssh_cidr = Some("127.0.0.1/32".into());
        r.check().unwrap();
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
