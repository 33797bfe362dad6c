//! `amiforge-sysprep`'s HCL attributes and their validation: every bad input is reported under
//! the attribute's name with the fix, and the admin password is held so it cannot be printed.

use std::path::PathBuf;

use packer_sdk::{ConfigErrors, HclSpec, PackerConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::detect::{Agent, Release};
use super::readiness::{Check, ReadinessOptions};
use super::unattend::{self, AnswerSettings, Arch, ComputerName};

/// Configuration of the `amiforge-sysprep` provisioner.
#[derive(Clone, Deserialize, HclSpec)]
pub struct SysprepConfig {
    /// Launch agent to prepare the image with: `auto` (default: detected on the machine),
    /// `ec2launch-v2`, `ec2launch-v1` or `ec2config`. A set agent must be installed and fit the
    /// OS.
    pub agent: Option<String>,
    /// Windows Server release the source image runs (`2012`, `2012r2`, `2016`, `2019`, `2022`,
    /// `2025`); checked against `agent` at `packer validate` and against the machine at run time.
    pub windows_release: Option<String>,
    /// Whether the agent shuts the instance down itself. Default `false`: the agent generalises
    /// without shutting down and Packer's builder stops the instance and creates the AMI. `true`
    /// (required for `ec2config`, whose `-sysprep` always shuts down): set
    /// `disable_stop_instance = true` on the amazon-ebs source so Packer waits for `stopped`.
    pub shutdown: Option<bool>,
    /// Clear the agent's logs and state before sysprep (EC2Launch v2 `--clean`; default `true`).
    pub clean_logs: Option<bool>,
    /// Sensitive: the Administrator password used during the build (e.g. your `winrm_password`
    /// variable). Never sent to the machine, logged or shown: the provisioner sends salted
    /// SHA-256 digests of it and removes every copy it finds (agent configuration, answer files,
    /// Winlogon `DefaultPassword`, leftover scripts in `C:\Windows\Temp`), reporting where.
    pub admin_password: Option<String>,
    /// Typed answer file, merged into the agent's own and written where the agent reads it.
    #[hcl(block)]
    pub answer_file: Option<AnswerFileBlock>,
    /// What the readiness checks may let through.
    #[hcl(block)]
    pub readiness: Option<ReadinessBlock>,
    /// Where the evidence of a failed sysprep goes on the Packer host (default
    /// `amiforge-sysprep-<build>-evidence.log`).
    pub evidence_path: Option<PathBuf>,
    /// Remote directory for the probe and the sysprep script (default `C:/Windows/Temp`).
    pub remote_folder: Option<String>,
}

/// The `answer_file` block.
#[derive(Debug, Clone, Deserialize, HclSpec)]
pub struct AnswerFileBlock {
    /// `*` (Windows picks a random name at first boot) or a fixed NetBIOS name (1–15 letters,
    /// digits or `-`, not only digits). Unset: the agent's own naming applies.
    pub computer_name: Option<String>,
    /// Windows time zone id, e.g. `UTC` or `W. Europe Standard Time` (not an IANA name).
    pub time_zone: Option<String>,
    /// Locale for input, system, UI and user, e.g. `en-US`.
    pub locale: Option<String>,
    /// Copy the build user's profile to the default profile (`CopyProfile`; default `false`).
    pub copy_profile: Option<bool>,
    /// Commands run in the specialize pass (`RunSynchronous`), in order (max 259 characters).
    #[serde(default)]
    pub run_synchronous: Vec<String>,
    /// Commands run at the first logon (`FirstLogonCommands`), in order (max 1024 characters).
    #[serde(default)]
    pub first_logon_commands: Vec<String>,
    /// `processorArchitecture` of every component: `amd64` (default) or `arm64`.
    pub architecture: Option<String>,
}

/// The `readiness` block.
#[derive(Debug, Clone, Deserialize, HclSpec)]
pub struct ReadinessBlock {
    /// Checks that only warn instead of refusing: `pending-reboot`, `appx`, `windows-update`.
    /// (A missing or broken agent, or an already generalised image, always refuses.)
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Remove per-user AppX packages that block generalisation (the known Edge/winget case)
    /// before sysprep, instead of refusing (default `false`).
    pub remove_blocking_appx: Option<bool>,
}

/// Which agent to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentChoice {
    Auto,
    Fixed(Agent),
}

/// The validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub agent: AgentChoice,
    pub release: Option<Release>,
    /// `None`: the default (shut down only for EC2Config).
    pub shutdown: Option<bool>,
    pub clean_logs: bool,
    /// Never printed (`Debug` shows a mask) and registered with the SDK's UI masking.
    pub admin_password: Option<SecretString>,
    pub answer: Option<AnswerSettings>,
    pub readiness: ReadinessOptions,
    pub evidence_path: PathBuf,
    pub remote_folder: String,
}

impl Settings {
    /// Whether `agent` shuts the instance down.
    pub fn shuts_down(&self, agent: Agent) -> bool {
        agent == Agent::Ec2Config || self.shutdown.unwrap_or(false)
    }
}

pub fn prepare(c: SysprepConfig, packer: &PackerConfig) -> Result<Settings, ConfigErrors> {
    let mut errs = ConfigErrors::new();
    let agent = match c.agent.as_deref().unwrap_or("auto") {
        "auto" => AgentChoice::Auto,
        other => match Agent::from_name(other) {
            Some(a) => AgentChoice::Fixed(a),
            None => {
                errs.push(
                    "agent",
                    format!(
                        "{other:?} is not an agent; use auto, ec2launch-v2, ec2launch-v1 or ec2config"
                    ),
                );
                AgentChoice::Auto
            }
        },
    };
    let release = match c.windows_release.as_deref() {
        None => None,
        Some(r) => match Release::from_name(r) {
            Some(r) => Some(r),
            None => {
                errs.push(
                    "windows_release",
                    format!("{r:?} is not a release; use 2012, 2012r2, 2016, 2019, 2022 or 2025"),
                );
                None
            }
        },
    };
    if let (AgentChoice::Fixed(a), Some(r)) = (agent, release)
        && !a.supports(r.build())
    {
        errs.push(
            "agent",
            format!(
                "{} does not run on Windows Server {} ({}); {}",
                a.name(),
                r.label(),
                a.support_text(),
                match Agent::for_build(r.build()) {
                    Some(fit) => format!("use agent = \"{}\" or \"auto\"", fit.name()),
                    None => "no launch agent fits".into(),
                }
            ),
        );
    }
    if agent == AgentChoice::Fixed(Agent::Ec2Config) && c.shutdown == Some(false) {
        errs.push(
            "shutdown",
            "ec2config's -sysprep always shuts the instance down; set shutdown = true and \
             disable_stop_instance = true on the amazon-ebs source",
        );
    }
    let admin_password = match c.admin_password {
        None => None,
        Some(p) if p.trim().chars().count() < 4 => {
            // never echo the value, not even a short one
            errs.push(
                "admin_password",
                "is shorter than 4 characters: too short to find and remove reliably",
            );
            None
        }
        Some(p) => {
            // masked wherever it shows up, also as Windows encodes it in answer files
            for form in super::scrub::every_form(&p) {
                packer_sdk::secrets::register(&form);
            }
            Some(SecretString::from(p))
        }
    };
    let answer = c
        .answer_file
        .map(|b| answer_settings(b, admin_password.as_ref(), &mut errs));
    let readiness = readiness_options(c.readiness, &mut errs);
    let remote_folder = c
        .remote_folder
        .unwrap_or_else(|| "C:/Windows/Temp".to_string());
    let b = remote_folder.as_bytes();
    let drive = b.len() >= 3
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && (b[2] == b'/' || b[2] == b'\\');
    if !drive || remote_folder.contains(['\'', '"', '`', '$']) {
        errs.push(
            "remote_folder",
            "must be an absolute Windows path such as C:/Windows/Temp, without quotes, ` or $",
        );
    }
    errs.into_result()?;
    let build = if packer.build_name.is_empty() {
        "build".to_string()
    } else {
        packer.build_name.replace(['/', ' '], "_")
    };
    Ok(Settings {
        agent,
        release,
        shutdown: c.shutdown,
        clean_logs: c.clean_logs.unwrap_or(true),
        admin_password,
        answer: answer.flatten(),
        readiness,
        evidence_path: c
            .evidence_path
            .unwrap_or_else(|| PathBuf::from(format!("amiforge-sysprep-{build}-evidence.log"))),
        remote_folder: remote_folder.trim_end_matches(['/', '\\']).to_string(),
    })
}

fn answer_settings(
    b: AnswerFileBlock,
    password: Option<&SecretString>,
    errs: &mut ConfigErrors,
) -> Option<AnswerSettings> {
    let before = errs.0.len();
    let computer_name = match b.computer_name.as_deref() {
        None => ComputerName::AgentDecides,
        Some(n) => match ComputerName::parse(n) {
            Ok(c) => c,
            Err(e) => {
                errs.push("answer_file.computer_name", e);
                ComputerName::AgentDecides
            }
        },
    };
    if let Some(tz) = &b.time_zone
        && let Err(e) = unattend::check_time_zone(tz)
    {
        errs.push("answer_file.time_zone", e);
    }
    if let Some(l) = &b.locale
        && let Err(e) = unattend::check_locale(l)
    {
        errs.push("answer_file.locale", e);
    }
    let arch = match b.architecture.as_deref().unwrap_or("amd64") {
        "amd64" => Arch::Amd64,
        "arm64" => Arch::Arm64,
        other => {
            errs.push(
                "answer_file.architecture",
                format!("{other:?}: use amd64 or arm64"),
            );
            Arch::Amd64
        }
    };
    let lists = [
        ("run_synchronous", &b.run_synchronous, 259),
        ("first_logon_commands", &b.first_logon_commands, 1024),
    ];
    for (field, list, max) in lists {
        for (i, cmd) in list.iter().enumerate() {
            let name = format!("answer_file.{field}[{i}]");
            if cmd.trim().is_empty() {
                errs.push(&name, "is empty");
            } else if cmd.chars().count() > max {
                errs.push(
                    &name,
                    format!("is longer than Windows Setup accepts ({max} characters)"),
                );
            }
            if let Some(p) = password
                && cmd.contains(p.expose_secret())
            {
                errs.push(
                    &name,
                    "contains admin_password: it would stay in the answer file on the image; \
                     read it from a secure source at run time instead",
                );
            }
        }
    }
    if errs.0.len() > before {
        return None;
    }
    Some(AnswerSettings {
        arch,
        computer_name,
        time_zone: b.time_zone,
        locale: b.locale,
        copy_profile: b.copy_profile.unwrap_or(false),
        run_synchronous: b.run_synchronous,
        first_logon_commands: b.first_logon_commands,
    })
}

fn readiness_options(b: Option<ReadinessBlock>, errs: &mut ConfigErrors) -> ReadinessOptions {
    let Some(b) = b else {
        return ReadinessOptions::default();
    };
    let mut o = ReadinessOptions {
        remove_blocking_appx: b.remove_blocking_appx.unwrap_or(false),
        ..ReadinessOptions::default()
    };
    for (i, name) in b.ignore.iter().enumerate() {
        match Check::from_name(name) {
            Some(c) if c.ignorable() => {
                o.ignore.insert(c);
            }
            Some(c) => errs.push(
                &format!("readiness.ignore[{i}]"),
                format!("{:?} cannot be ignored: {}", name, c.why_not_ignorable()),
            ),
            None => errs.push(
                &format!("readiness.ignore[{i}]"),
                format!("{name:?} is not a check; use pending-reboot, appx or windows-update"),
            ),
        }
    }
    if o.remove_blocking_appx && o.ignore.contains(&Check::Appx) {
        errs.push(
            "readiness.remove_blocking_appx",
            "conflicts with ignore = [\"appx\"]: either remove the blocking packages or ignore them",
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> SysprepConfig {
        SysprepConfig {
            agent: None,
            windows_release: None,
            shutdown: None,
            clean_logs: None,
            admin_password: None,
            answer_file: None,
            readiness: None,
            evidence_path: None,
            remote_folder: None,
        }
    }

    fn answer() -> AnswerFileBlock {
        AnswerFileBlock {
            computer_name: None,
            time_zone: None,
            locale: None,
            copy_profile: None,
            run_synchronous: vec![],
            first_logon_commands: vec![],
            architecture: None,
        }
    }

    fn errors(c: SysprepConfig) -> Vec<String> {
        match prepare(c, &PackerConfig::default()) {
            Ok(_) => vec![],
            Err(e) => e.0.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn defaults_are_auto_no_shutdown_clean_logs() {
        let s = prepare(base(), &PackerConfig::default()).unwrap();
        assert_eq!(s.agent, AgentChoice::Auto);
        assert!(!s.shuts_down(Agent::Ec2LaunchV2));
        assert!(s.shuts_down(Agent::Ec2Config));
        assert!(s.clean_logs);
        assert_eq!(s.remote_folder, "C:/Windows/Temp");
        assert_eq!(
            s.evidence_path,
            PathBuf::from("amiforge-sysprep-build-evidence.log")
        );
    }

    #[test]
    fn every_bad_input_names_its_attribute() {
        let mut c = base();
        c.agent = Some("ec2launch-v3".into());
        c.windows_release = Some("2008".into());
        c.remote_folder = Some("Windows/Temp".into());
        c.readiness = Some(ReadinessBlock {
            ignore: vec!["agent".into(), "reboots".into()],
            remove_blocking_appx: None,
        });
        let mut a = answer();
        a.computer_name = Some("web_server-01".into());
        a.time_zone = Some("Europe/Berlin".into());
        a.locale = Some("english".into());
        a.architecture = Some("x86".into());
        a.run_synchronous = vec!["".into(), "x".repeat(300)];
        c.answer_file = Some(a);
        let e = errors(c);
        let fields: Vec<&str> = e.iter().map(|l| l.split(':').next().unwrap()).collect();
        assert_eq!(
            fields,
            vec![
                "agent",
                "windows_release",
                "answer_file.computer_name",
                "answer_file.time_zone",
                "answer_file.locale",
                "answer_file.architecture",
                "answer_file.run_synchronous[0]",
                "answer_file.run_synchronous[1]",
                "readiness.ignore[0]",
                "readiness.ignore[1]",
                "remote_folder",
            ],
            "{e:#?}"
        );
        assert!(e[3].contains("W. Europe Standard Time"), "{}", e[3]);
    }

    #[test]
    fn impossible_agent_and_os_combinations_are_refused() {
        let mut c = base();
        c.agent = Some("ec2config".into());
        c.windows_release = Some("2022".into());
        let e = errors(c);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("agent: ec2config does not run on Windows Server 2022"),
            "{}",
            e[0]
        );
        assert!(e[0].contains("use agent = \"ec2launch-v2\""), "{}", e[0]);
        let mut c = base();
        c.agent = Some("ec2launch-v1".into());
        c.windows_release = Some("2012r2".into());
        assert!(errors(c)[0].contains("use agent = \"ec2config\""));
        let mut c = base();
        c.agent = Some("ec2launch-v1".into());
        c.windows_release = Some("2019".into());
        assert!(errors(c).is_empty());
    }

    #[test]
    fn conflicting_options_are_refused() {
        let mut c = base();
        c.agent = Some("ec2config".into());
        c.shutdown = Some(false);
        c.readiness = Some(ReadinessBlock {
            ignore: vec!["appx".into()],
            remove_blocking_appx: Some(true),
        });
        let e = errors(c);
        assert!(e[0].starts_with("shutdown: ec2config"), "{e:?}");
        assert!(
            e[1].starts_with("readiness.remove_blocking_appx: conflicts"),
            "{e:?}"
        );
    }

    #[test]
    fn the_password_is_masked_and_never_in_an_error() {
        let pw = "Sup3r-Secret-Pw!";
        let mut c = base();
        c.admin_password = Some(pw.into());
        let mut a = answer();
        a.first_logon_commands = vec![format!("net user Administrator {pw}")];
        c.answer_file = Some(a);
        let e = prepare(c.clone(), &PackerConfig::default()).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("answer_file.first_logon_commands[0]: contains admin_password"),
            "{text}"
        );
        assert!(!text.contains(pw));
        c.answer_file = None;
        let s = prepare(c, &PackerConfig::default()).unwrap();
        assert!(!format!("{s:?}").contains(pw));
        assert_eq!(
            packer_sdk::secrets::redact(&format!("x {pw} y")),
            "x <sensitive> y"
        );
        let mut c = base();
        c.admin_password = Some("ab1".into());
        let e = errors(c);
        assert_eq!(
            e,
            vec![
                "admin_password: is shorter than 4 characters: too short to find and remove reliably"
            ]
        );
    }
}
