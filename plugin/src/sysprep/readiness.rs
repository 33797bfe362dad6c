//! Readiness: whether the machine can be generalised now. The facts come from the probe
//! ([`PROBE_PS`] prints them after detection); [`check`] is pure and refuses, with the fix, when
//! a reboot is pending, per-user AppX packages would make sysprep fail (0x80073cf2), Windows
//! Update is servicing the machine, the chosen agent is broken, the image is already
//! generalised, or the answer file's architecture does not match the machine.

use std::collections::BTreeSet;

use super::detect::{Decision, Probe};
use super::unattend::Arch;

/// The checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    PendingReboot,
    Appx,
    WindowsUpdate,
    Agent,
    ImageState,
    Architecture,
}

impl Check {
    pub fn from_name(s: &str) -> Option<Check> {
        Some(match s {
            "pending-reboot" => Check::PendingReboot,
            "appx" => Check::Appx,
            "windows-update" => Check::WindowsUpdate,
            "agent" => Check::Agent,
            "image-state" => Check::ImageState,
            "architecture" => Check::Architecture,
            _ => return None,
        })
    }

    pub fn ignorable(self) -> bool {
        matches!(
            self,
            Check::PendingReboot | Check::Appx | Check::WindowsUpdate
        )
    }

    pub fn why_not_ignorable(self) -> &'static str {
        match self {
            Check::Agent => {
                "a missing or broken agent makes an image that never finishes first boot"
            }
            Check::ImageState => "sysprep refuses an image that is already generalised",
            Check::Architecture => "Windows Setup ignores components of another architecture",
            _ => "",
        }
    }
}

/// The `readiness` block, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadinessOptions {
    pub ignore: BTreeSet<Check>,
    pub remove_blocking_appx: bool,
}

/// What the checks found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Each reason to refuse, with its fix.
    pub refusals: Vec<String>,
    /// Findings let through by `readiness.ignore`.
    pub warnings: Vec<String>,
    /// AppX packages (full names) the sysprep script is to remove first.
    pub remove_appx: Vec<String>,
}

/// The image state of a machine that finished setup and was never generalised.
pub const IMAGE_STATE_COMPLETE: &str = "IMAGE_STATE_COMPLETE";

pub fn check(
    probe: &Probe,
    decision: &Decision,
    opts: &ReadinessOptions,
    answer_arch: Option<Arch>,
) -> Verdict {
    let mut v = Verdict::default();
    let finding = |check: Check, msg: String, v: &mut Verdict| {
        if opts.ignore.contains(&check) {
            v.warnings
                .push(format!("{msg} (ignored: readiness.ignore)"));
        } else {
            v.refusals.push(msg);
        }
    };
    match probe.agent(decision.agent) {
        None => v.refusals.push(format!(
            "{} is not installed on the machine",
            decision.agent.name()
        )),
        Some(f) => {
            if let Some(p) = f.problem() {
                v.refusals
                    .push(format!("{} is in a bad state: {p}", decision.agent.name()));
            }
        }
    }
    match probe.image_state.as_deref() {
        Some(IMAGE_STATE_COMPLETE) => {}
        Some(s) => v.refusals.push(format!(
            "ImageState is {s}, not {IMAGE_STATE_COMPLETE}: the machine is already generalised \
             or its setup did not finish; start again from the source AMI"
        )),
        None => v
            .warnings
            .push("the probe could not read ImageState".to_string()),
    }
    if let Some(a) = answer_arch {
        match Arch::from_env(&probe.arch) {
            Some(m) if m == a => {}
            _ => v.refusals.push(format!(
                "answer_file.architecture is {} but the machine is {}; set it to match",
                a.name(),
                if probe.arch.is_empty() {
                    "unknown"
                } else {
                    &probe.arch
                }
            )),
        }
    }
    if !probe.pending_reboot.is_empty() {
        finding(
            Check::PendingReboot,
            format!(
                "a reboot is pending ({}); sysprep fails or loses the pending changes: add a \
                 windows-restart provisioner before amiforge-sysprep",
                probe.pending_reboot.join(", ")
            ),
            &mut v,
        );
    }
    if !probe.appx.is_empty() {
        let names: Vec<String> = probe.appx.iter().map(|(n, _)| n.clone()).collect();
        if opts.remove_blocking_appx {
            v.remove_appx = names;
        } else {
            finding(
                Check::Appx,
                format!(
                    "{} AppX package(s) are installed for a user but not provisioned for all \
                     users, which makes sysprep fail (0x80073cf2): {}; set \
                     readiness.remove_blocking_appx = true to remove them first",
                    names.len(),
                    names.join(", ")
                ),
                &mut v,
            );
        }
    }
    if !probe.updates.is_empty() {
        finding(
            Check::WindowsUpdate,
            format!(
                "Windows Update is servicing the machine ({} running); wait for it to finish \
                 (and reboot) before sysprep",
                probe.updates.join(", ")
            ),
            &mut v,
        );
    }
    v
}

/// The readiness part of the probe.
pub const PROBE_PS: &str = r#"
# pending reboot
$rebootKeys = @(
    'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\RebootPending',
    'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\WindowsUpdate\Auto Update\RebootRequired'
)
foreach ($key in $rebootKeys) {
    if (Test-Path -LiteralPath $key) { Out-Tag 'pending-reboot', ($key -replace '^.*\\', '') }
}
$sessionManager = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Session Manager' -Name PendingFileRenameOperations -ErrorAction SilentlyContinue
if ($null -ne $sessionManager -and $sessionManager.PendingFileRenameOperations) {
    Out-Tag 'pending-reboot', 'PendingFileRenameOperations'
}

# per-user AppX packages that are not provisioned for all users block sysprep (0x80073cf2)
if (Get-Command -Name Get-AppxPackage -ErrorAction SilentlyContinue) {
    $provisioned = @(Get-AppxProvisionedPackage -Online | ForEach-Object { $_.DisplayName })
    foreach ($package in @(Get-AppxPackage -AllUsers)) {
        if ($package.IsFramework -or $package.NonRemovable -or $package.SignatureKind -eq 'System') { continue }
        if ($provisioned -notcontains $package.Name) {
            $users = @($package.PackageUserInformation | ForEach-Object { "$($_.UserSecurityId.Sid)" }) -join ','
            Out-Tag 'appx', $package.PackageFullName, $users
        }
    }
}

# Windows Update / servicing at work
foreach ($name in @('TiWorker', 'TrustedInstaller', 'wusa')) {
    if (Get-Process -Name $name -ErrorAction SilentlyContinue) { Out-Tag 'update', $name }
}

$imageState = (Get-ItemProperty -LiteralPath 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Setup\State' -Name ImageState -ErrorAction SilentlyContinue).ImageState
Out-Tag 'image-state', "$imageState"
"#;

#[cfg(test)]
mod tests {
    use super::super::detect::{Agent, AgentFacts};
    use super::*;

    fn healthy() -> (Probe, Decision) {
        let mut f = std::collections::BTreeMap::new();
        for (k, v) in [("exe", "1"), ("service", "Running"), ("start", "Auto")] {
            f.insert(k.to_string(), v.to_string());
        }
        let p = Probe {
            build: Some(20348),
            arch: "AMD64".into(),
            agents: vec![AgentFacts {
                agent: Agent::Ec2LaunchV2,
                fields: f,
            }],
            image_state: Some(IMAGE_STATE_COMPLETE.into()),
            done: true,
            ..Probe::default()
        };
        let d = Decision {
            agent: Agent::Ec2LaunchV2,
            build: 20348,
            notes: vec![],
        };
        (p, d)
    }

    #[test]
    fn a_clean_machine_passes() {
        let (p, d) = healthy();
        let v = check(&p, &d, &ReadinessOptions::default(), Some(Arch::Amd64));
        assert_eq!(v, Verdict::default());
    }

    #[test]
    fn every_blocker_is_refused_with_its_fix() {
        let (mut p, d) = healthy();
        p.pending_reboot = vec!["RebootPending".into()];
        p.appx = vec![("Microsoft.MicrosoftEdge.Stable_1".into(), "S-1".into())];
        p.updates = vec!["TiWorker".into()];
        p.image_state = Some("IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE".into());
        p.agents[0].fields.insert("start".into(), "Disabled".into());
        let v = check(&p, &d, &ReadinessOptions::default(), Some(Arch::Arm64));
        let all = v.refusals.join("\n");
        for want in [
            "ec2launch-v2 is in a bad state: the EC2Launch service is disabled",
            "ImageState is IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE",
            "answer_file.architecture is arm64 but the machine is AMD64",
            "a reboot is pending (RebootPending)",
            "add a windows-restart provisioner",
            "Microsoft.MicrosoftEdge.Stable_1",
            "readiness.remove_blocking_appx = true",
            "Windows Update is servicing the machine (TiWorker running)",
        ] {
            assert!(all.contains(want), "{want} missing from:\n{all}");
        }
        assert_eq!(v.refusals.len(), 6);
    }

    #[test]
    fn ignored_checks_warn_and_appx_can_be_removed() {
        let (mut p, d) = healthy();
        p.pending_reboot = vec!["PendingFileRenameOperations".into()];
        p.updates = vec!["TrustedInstaller".into()];
        p.appx = vec![("Contoso.App_1".into(), "S-1".into())];
        let opts = ReadinessOptions {
            ignore: [Check::PendingReboot, Check::WindowsUpdate]
                .into_iter()
                .collect(),
            remove_blocking_appx: true,
        };
        let v = check(&p, &d, &opts, None);
        assert!(v.refusals.is_empty(), "{:?}", v.refusals);
        assert_eq!(v.warnings.len(), 2);
        assert!(
            v.warnings
                .iter()
                .all(|w| w.ends_with("(ignored: readiness.ignore)"))
        );
        assert_eq!(v.remove_appx, ["Contoso.App_1"]);
    }

    #[test]
    fn a_missing_agent_is_refused() {
        let (mut p, d) = healthy();
        p.agents.clear();
        let v = check(&p, &d, &ReadinessOptions::default(), None);
        assert_eq!(v.refusals, ["ec2launch-v2 is not installed on the machine"]);
        assert!(!Check::Agent.ignorable());
    }
}
