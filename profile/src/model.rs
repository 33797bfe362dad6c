//! The profile model: what a profile file says, typed. Every table rejects unknown keys so a typo
//! in a reviewed profile is an error, not a silently ignored control.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A whole profile file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub profile: Meta,
    /// Typed knobs users set with the provisioner's `parameters` map.
    #[serde(default)]
    pub parameters: BTreeMap<String, Parameter>,
    #[serde(default, rename = "control")]
    pub controls: Vec<Control>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    /// Semantic version of the profile content.
    pub version: String,
    pub os: Os,
    #[serde(default)]
    pub description: String,
}

/// The operating system family a profile targets (decides the script language).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Linux,
    Windows,
}

/// A typed profile parameter.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    #[serde(rename = "type")]
    pub ty: ParamType,
    pub default: toml::Value,
    #[serde(default)]
    pub description: String,
    /// For `int`: the smallest value allowed (default 0: counts, lengths, seconds and sizes are
    /// never negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    /// For `int`: the largest value allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

impl Parameter {
    /// The range an `int` parameter's value must lie in.
    pub fn int_range(&self) -> std::ops::RangeInclusive<i64> {
        self.min.unwrap_or(0)..=self.max.unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Bool,
}

impl ParamType {
    pub fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Int => "int",
            ParamType::Bool => "bool",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// One control.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub rationale: String,
    /// OS families it applies to (`/etc/os-release` ID or ID_LIKE, e.g. `debian`, `rhel`,
    /// `amzn`); empty means every family of the profile's OS.
    #[serde(default)]
    pub platforms: Vec<String>,
    /// A bool parameter that must be true for the control to run (opt-in controls: the EC2 traps).
    #[serde(default)]
    pub enabled_by: Option<String>,
    /// A bool parameter that, when true, turns the control off (e.g. `container_host`).
    #[serde(default)]
    pub disabled_by: Option<String>,
    /// Why the control is guarded on EC2, shown in the docs.
    #[serde(default)]
    pub ec2_note: Option<String>,
    /// References (CIS, dev-sec ids).
    #[serde(default)]
    pub refs: Vec<String>,
    /// Earlier controls this one's effect depends on (e.g. faillock.conf values do nothing
    /// unless pam_faillock is in the PAM stack): when one of them does not hold, this control
    /// fails (or, when that one does not apply here, is reported not verifiable) instead of
    /// passing on a file that has no effect.
    #[serde(default)]
    pub needs: Vec<String>,
    pub check: Check,
}

/// The typed check of a control; each kind also knows its remediation.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// An sshd setting, checked on the effective configuration (`sshd -T`); fixed by a managed
    /// line at the top of `sshd_config`, validated with `sshd -t` (rolled back if invalid).
    SshdConfig {
        key: String,
        value: String,
        #[serde(default)]
        compare: Compare,
    },
    /// An sshd algorithm list (`KexAlgorithms`, `Ciphers`, `MACs`) computed for the target: of
    /// what its sshd supports (`ssh -Q`), the ones matching `allow` (sh glob patterns), in the
    /// target's own preference order. Compliant when the effective list (`sshd -T`) has only
    /// allowed algorithms and every supported one matching `keep` (post-quantum hybrids).
    SshdAlgorithms {
        key: String,
        allow: Vec<String>,
        #[serde(default)]
        keep: Vec<String>,
    },
    /// A PAM module is in the system's stacks for each of `types` (auth, account, password,
    /// session): Debian/Ubuntu's `common-TYPE` files or the RHEL family's `system-auth` and
    /// `password-auth`. Fixed through the distribution's tool, never by editing stacks by hand:
    /// `pam-auth-update --enable` of `pam_auth_update` profiles (the `pam_configs` ones are
    /// written to /usr/share/pam-configs first), or `authselect enable-feature`. `packages` are
    /// installed first when the module is missing.
    PamModule {
        module: String,
        types: Vec<String>,
        #[serde(default)]
        pam_auth_update: Vec<String>,
        #[serde(default)]
        pam_configs: Vec<PamConfig>,
        #[serde(default)]
        authselect_feature: Option<String>,
        #[serde(default)]
        packages: Vec<String>,
    },
    /// The umask a login shell really gets (`su -l` of an account without a private group runs
    /// the PAM session stack and the shell's profile) masks at least `value`. Fixed by `UMASK` in
    /// login.defs plus pam_umask in the session stack (the `pam_configs` profile, Debian/Ubuntu),
    /// or a profile.d script where there is no pam-auth-update.
    LoginUmask {
        value: String,
        #[serde(default)]
        pam_configs: Vec<PamConfig>,
    },
    /// A kernel parameter: persisted in the sysctl.d files (read in the order the system applies
    /// them) and live in /proc/sys; fixed in `/etc/sysctl.d/99-zz-amiforge.conf`.
    Sysctl { key: String, value: String },
    /// `key value` / `key = value` in a config file (login.defs, pwquality.conf, auditd.conf …).
    ConfigValue {
        path: String,
        key: String,
        value: String,
        #[serde(default)]
        separator: Separator,
        #[serde(default)]
        compare: Compare,
    },
    /// Permission bits no wider than `mode`, owner and group (for every path a glob matches).
    FileMode {
        path: String,
        mode: String,
        #[serde(default)]
        owner: Option<String>,
        /// Acceptable groups; the first existing one is used to fix.
        #[serde(default)]
        groups: Vec<String>,
    },
    /// None of these paths (globs) may exist.
    FileAbsent { paths: Vec<String> },
    /// `line` is present in `path` (the file is created with `mode` if missing).
    LinePresent {
        path: String,
        line: String,
        #[serde(default = "default_file_mode")]
        mode: String,
    },
    /// A service is disabled (and masked, if asked); not applicable when not installed.
    ServiceDisabled {
        service: String,
        #[serde(default)]
        mask: bool,
    },
    /// A service is enabled at boot.
    ServiceEnabled { service: String },
    /// None of these packages is installed.
    PackageAbsent { packages: Vec<String> },
    /// One of these packages is installed (the first one the package manager knows is installed).
    PackagePresent { packages: Vec<String> },
    /// A kernel module cannot be loaded (`install M /bin/false` + blacklist) and is not loaded.
    KernelModule { module: String },
    /// A separate mount has these options (fstab and live); not applicable when not separate.
    MountOption {
        mountpoint: String,
        options: Vec<String>,
    },
    /// An audit rule is in /etc/audit/rules.d (loaded at boot, or live when auditd runs).
    AuditRule { rule: String },
    /// Escape hatch: a shell `check` (exit 0 = compliant, its output is the observed value) and
    /// an optional `fix`.
    Command {
        check: String,
        #[serde(default)]
        fix: Option<String>,
    },
    /// Windows registry value.
    Registry {
        path: String,
        name: String,
        #[serde(rename = "type")]
        value_type: RegistryType,
        value: String,
    },
    /// Windows advanced audit policy subcategory (auditpol), e.g. "Success and Failure".
    AuditPolicy {
        subcategory: String,
        setting: AuditSetting,
    },
    /// Windows service start mode.
    WindowsService { name: String, start: ServiceStart },
    /// Windows Server feature (Install-/Uninstall-WindowsFeature) present or absent.
    WindowsFeature { name: String, present: bool },
    /// Windows optional feature (Enable-/Disable-WindowsOptionalFeature).
    OptionalFeature { name: String, enabled: bool },
    /// Local security policy (secedit) `[System Access]` value, e.g. MinimumPasswordLength.
    SecurityPolicy {
        key: String,
        value: String,
        #[serde(default)]
        compare: Compare,
    },
}

/// A pam-auth-update profile amiforge installs as /usr/share/pam-configs/NAME.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PamConfig {
    pub name: String,
    pub text: String,
}

fn default_file_mode() -> String {
    "0644".into()
}

impl Check {
    /// The kind name as written in profiles.
    pub fn kind(&self) -> &'static str {
        match self {
            Check::SshdConfig { .. } => "sshd_config",
            Check::SshdAlgorithms { .. } => "sshd_algorithms",
            Check::PamModule { .. } => "pam_module",
            Check::LoginUmask { .. } => "login_umask",
            Check::Sysctl { .. } => "sysctl",
            Check::ConfigValue { .. } => "config_value",
            Check::FileMode { .. } => "file_mode",
            Check::FileAbsent { .. } => "file_absent",
            Check::LinePresent { .. } => "line_present",
            Check::ServiceDisabled { .. } => "service_disabled",
            Check::ServiceEnabled { .. } => "service_enabled",
            Check::PackageAbsent { .. } => "package_absent",
            Check::PackagePresent { .. } => "package_present",
            Check::KernelModule { .. } => "kernel_module",
            Check::MountOption { .. } => "mount_option",
            Check::AuditRule { .. } => "audit_rule",
            Check::Command { .. } => "command",
            Check::Registry { .. } => "registry",
            Check::AuditPolicy { .. } => "audit_policy",
            Check::WindowsService { .. } => "windows_service",
            Check::WindowsFeature { .. } => "windows_feature",
            Check::OptionalFeature { .. } => "optional_feature",
            Check::SecurityPolicy { .. } => "security_policy",
        }
    }

    /// The pam-auth-update profiles the check writes (`pam_module`, `login_umask`).
    pub fn pam_configs(&self) -> &[PamConfig] {
        match self {
            Check::PamModule { pam_configs, .. } | Check::LoginUmask { pam_configs, .. } => {
                pam_configs
            }
            _ => &[],
        }
    }

    /// The OS this kind of check runs on.
    pub fn os(&self) -> Os {
        match self {
            Check::Registry { .. }
            | Check::AuditPolicy { .. }
            | Check::WindowsService { .. }
            | Check::WindowsFeature { .. }
            | Check::OptionalFeature { .. }
            | Check::SecurityPolicy { .. } => Os::Windows,
            _ => Os::Linux,
        }
    }

    /// Every string field, mutable (for parameter substitution).
    pub fn strings_mut(&mut self) -> Vec<&mut String> {
        match self {
            Check::SshdConfig { key, value, .. } | Check::Sysctl { key, value } => vec![key, value],
            Check::SshdAlgorithms { key, allow, keep } => {
                let mut v = vec![key];
                v.extend(allow.iter_mut());
                v.extend(keep.iter_mut());
                v
            }
            Check::PamModule {
                module,
                types,
                pam_auth_update,
                pam_configs,
                authselect_feature,
                packages,
            } => {
                let mut v = vec![module];
                v.extend(types.iter_mut());
                v.extend(pam_auth_update.iter_mut());
                v.extend(
                    pam_configs
                        .iter_mut()
                        .flat_map(|c| [&mut c.name, &mut c.text]),
                );
                v.extend(authselect_feature.iter_mut());
                v.extend(packages.iter_mut());
                v
            }
            Check::LoginUmask { value, pam_configs } => {
                let mut v = vec![value];
                v.extend(
                    pam_configs
                        .iter_mut()
                        .flat_map(|c| [&mut c.name, &mut c.text]),
                );
                v
            }
            Check::ConfigValue {
                path, key, value, ..
            } => vec![path, key, value],
            Check::FileMode {
                path,
                mode,
                owner,
                groups,
            } => {
                let mut v = vec![path, mode];
                v.extend(owner.iter_mut());
                v.extend(groups.iter_mut());
                v
            }
            Check::FileAbsent { paths } => paths.iter_mut().collect(),
            Check::LinePresent { path, line, mode } => vec![path, line, mode],
            Check::ServiceDisabled { service, .. } | Check::ServiceEnabled { service } => {
                vec![service]
            }
            Check::PackageAbsent { packages } | Check::PackagePresent { packages } => {
                packages.iter_mut().collect()
            }
            Check::KernelModule { module } => vec![module],
            Check::MountOption {
                mountpoint,
                options,
            } => {
                let mut v = vec![mountpoint];
                v.extend(options.iter_mut());
                v
            }
            Check::AuditRule { rule } => vec![rule],
            Check::Command { check, fix } => {
                let mut v = vec![check];
                v.extend(fix.iter_mut());
                v
            }
            Check::Registry {
                path, name, value, ..
            } => vec![path, name, value],
            Check::AuditPolicy { subcategory, .. } => vec![subcategory],
            Check::WindowsService { name, .. }
            | Check::WindowsFeature { name, .. }
            | Check::OptionalFeature { name, .. } => vec![name],
            Check::SecurityPolicy { key, value, .. } => vec![key, value],
        }
    }
}

/// How `key` and value are separated in a config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Separator {
    /// `KEY value` (login.defs)
    #[default]
    Space,
    /// `key = value` (pwquality.conf, auditd.conf, systemd)
    Equals,
}

impl Compare {
    /// The name the scripts use.
    pub fn name(self) -> &'static str {
        match self {
            Compare::Eq => "eq",
            Compare::Le => "le",
            Compare::Ge => "ge",
            Compare::OneOf => "one_of",
            Compare::Range => "range",
        }
    }
}

/// How the observed value is compared with the wanted one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// Equal (case-insensitive for words).
    #[default]
    Eq,
    /// Numerically at most the value (e.g. PASS_MAX_DAYS).
    Le,
    /// Numerically at least the value (e.g. minlen).
    Ge,
    /// One of the `|`-separated values.
    OneOf,
    /// An integer in `LO..HI` (both included), e.g. `1..300` for an interval where 0 means
    /// "off"; a fix writes `HI`.
    Range,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryType {
    Dword,
    String,
    Qword,
    MultiString,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditSetting {
    Success,
    Failure,
    SuccessAndFailure,
    NoAuditing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStart {
    Disabled,
    Manual,
    Automatic,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::Audit => "audit",
        }
    }
}

/// What the provisioner does with failing controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Check, fix, re-check.
    Enforce,
    /// Check only; change nothing.
    Audit,
}
