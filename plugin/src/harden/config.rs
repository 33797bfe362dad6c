//! `amiforge-harden`'s HCL attributes and their validation (every error names its attribute).

use std::collections::BTreeMap;
use std::path::PathBuf;

use amiforge_profile::load::Loaded;
use amiforge_profile::{Mode, Os, Resolved, Severity};
use packer_sdk::{ConfigErrors, HclSpec, PackerConfig};
use serde::Deserialize;

/// Configuration of the `amiforge-harden` provisioner.
#[derive(Debug, Clone, Deserialize, HclSpec)]
pub struct HardenConfig {
    /// Built-in profile name (`linux-baseline`, `windows-baseline`) or path to a profile file.
    /// Default `linux-baseline`.
    pub profile: Option<String>,
    /// `enforce` (check, fix, re-check; default) or `audit` (check only, change nothing).
    pub mode: Option<String>,
    /// Control ids to leave out; they are reported as not applicable.
    #[serde(default)]
    pub exclude: Vec<String>,
    /// Profile parameters, e.g. `{ container_host = "true", ssh_max_auth_tries = "3" }`.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Where the report goes on the Packer host (default `amiforge-hardening-<build>.json`); the
    /// SBOM is written beside it (`….sbom.cdx.json`) with a `.sha256` file for each.
    pub report_path: Option<PathBuf>,
    /// Which failed controls fail the build: `any` (default), a severity (`low`, `medium`,
    /// `high`, `critical`: that severity or worse), or `never`.
    pub fail_on: Option<String>,
    /// How to run the script on the machine; `{{.Path}}` is replaced by its (quoted) path.
    /// Default: Linux `sh {{.Path}}`, under `sudo -n` unless the communicator user is root;
    /// Windows `powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File {{.Path}}`.
    pub execute_command: Option<String>,
    /// Remote directory for the script (it runs through `sh`, so noexec does not matter).
    /// Default `/tmp` (Linux), `C:/Windows/Temp` (Windows).
    pub remote_folder: Option<String>,
}

/// When a run fails the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    Never,
    AtLeast(Severity),
}

/// A validated configuration, with the profile loaded and resolved.
pub struct Prepared {
    pub loaded: Loaded,
    pub resolved: Resolved,
    pub exclude: Vec<String>,
    pub report_path: PathBuf,
    pub fail_on: FailOn,
    pub execute_command: Option<String>,
    pub remote_folder: String,
}

pub fn prepare(c: HardenConfig, packer: &PackerConfig) -> Result<Prepared, ConfigErrors> {
    let mut errs = ConfigErrors::new();
    let mode = match c.mode.as_deref().unwrap_or("enforce") {
        "enforce" => Mode::Enforce,
        "audit" => Mode::Audit,
        other => {
            errs.push(
                "mode",
                format!("{other:?} is not a mode; use \"enforce\" or \"audit\""),
            );
            Mode::Enforce
        }
    };
    let fail_on = match c.fail_on.as_deref().unwrap_or("any") {
        "any" => FailOn::AtLeast(Severity::Low),
        "low" => FailOn::AtLeast(Severity::Low),
        "medium" => FailOn::AtLeast(Severity::Medium),
        "high" => FailOn::AtLeast(Severity::High),
        "critical" => FailOn::AtLeast(Severity::Critical),
        "never" => FailOn::Never,
        other => {
            errs.push(
                "fail_on",
                format!("{other:?}: use any, low, medium, high, critical or never"),
            );
            FailOn::Never
        }
    };
    if let Some(cmd) = &c.execute_command
        && !cmd.contains("{{.Path}}")
    {
        errs.push(
            "execute_command",
            "must contain {{.Path}} (where the script is)",
        );
    }
    let spec = c.profile.clone().unwrap_or_else(|| "linux-baseline".into());
    let loaded = match amiforge_profile::load(&spec) {
        Ok(l) => Some(l),
        Err(e) => {
            errs.push("profile", e.to_string());
            None
        }
    };
    let resolved = loaded.as_ref().and_then(|l| {
        match amiforge_profile::resolve(l, mode, &c.exclude, &c.parameters) {
            Ok(r) => Some(r),
            Err(list) => {
                for e in list {
                    errs.push(&e.field, e.message);
                }
                None
            }
        }
    });
    let windows = resolved.as_ref().is_some_and(|r| r.os == Os::Windows);
    let remote_folder = c.remote_folder.clone().unwrap_or_else(|| {
        if windows {
            "C:/Windows/Temp".into()
        } else {
            "/tmp".into()
        }
    });
    let absolute = remote_folder.starts_with('/')
        || (windows && remote_folder.as_bytes().get(1) == Some(&b':'));
    if !absolute || remote_folder.contains(['\'', '"']) {
        errs.push("remote_folder", "must be an absolute path without quotes");
    }
    errs.into_result()?;
    let (Some(loaded), Some(resolved)) = (loaded, resolved) else {
        return Err(ConfigErrors::single("profile", "could not be loaded"));
    };
    let build = if packer.build_name.is_empty() {
        "build".to_string()
    } else {
        packer.build_name.replace(['/', ' '], "_")
    };
    Ok(Prepared {
        loaded,
        resolved,
        exclude: c.exclude,
        report_path: c
            .report_path
            .unwrap_or_else(|| PathBuf::from(format!("amiforge-hardening-{build}.json"))),
        fail_on,
        execute_command: c.execute_command,
        remote_folder,
    })
}
