//! The probe's detection part: the PowerShell ([`PROBE_PS`]) that prints the OS build,
//! architecture and each agent present as tagged lines, and [`Probe::parse`], which reads those
//! lines together with the readiness facts and the agents' answer files the rest of the probe
//! prints.

use std::collections::BTreeMap;

use super::{Agent, TAG};

/// One agent as the probe saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFacts {
    pub agent: Agent,
    /// `version`, `exe`/`scripts` (`1`/`0`), `service` (`Running`, `Stopped`, `none`),
    /// `start` (`Auto`, `Manual`, `Disabled`, `none`), `password` (v1: adminPasswordType).
    pub fields: BTreeMap<String, String>,
}

impl AgentFacts {
    pub fn get(&self, k: &str) -> &str {
        self.fields.get(k).map(String::as_str).unwrap_or("")
    }

    /// Whether the agent acts at the next boot by itself (its service starts automatically).
    pub fn starts_at_boot(&self) -> bool {
        self.get("start").starts_with("Auto")
    }

    /// What is wrong with the installation, if anything.
    pub fn problem(&self) -> Option<String> {
        match self.agent {
            Agent::Ec2LaunchV2 | Agent::Ec2Config => {
                let (exe, svc) = match self.agent {
                    Agent::Ec2LaunchV2 => ("EC2Launch.exe", "EC2Launch"),
                    _ => ("Ec2Config.exe", "Ec2Config"),
                };
                if self.get("exe") != "1" {
                    Some(format!("{exe} is missing (reinstall the agent)"))
                } else if self.get("service") == "none" {
                    Some(format!(
                        "the {svc} service is not registered (reinstall the agent)"
                    ))
                } else if self.get("start") == "Disabled" {
                    Some(format!(
                        "the {svc} service is disabled, so the image would not run it at first \
                         boot (Set-Service {svc} -StartupType Automatic)"
                    ))
                } else {
                    None
                }
            }
            Agent::Ec2LaunchV1 => (self.get("scripts") != "1").then(|| {
                "InitializeInstance.ps1 or SysprepInstance.ps1 is missing under \
                 %ProgramData%\\Amazon\\EC2-Windows\\Launch\\Scripts (reinstall EC2Launch v1)"
                    .to_string()
            }),
        }
    }

    pub(super) fn summary(&self) -> String {
        let v = self.get("version");
        if v.is_empty() {
            self.agent.name().to_string()
        } else {
            format!("{} {v}", self.agent.name())
        }
    }
}

/// Everything the probe reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    pub build: Option<u32>,
    pub arch: String,
    pub caption: String,
    pub agents: Vec<AgentFacts>,
    /// Why a reboot is pending (registry keys, `PendingFileRenameOperations`).
    pub pending_reboot: Vec<String>,
    /// Per-user AppX packages not provisioned for all users: (full name, users).
    pub appx: Vec<(String, String)>,
    /// Windows Update / servicing processes running.
    pub updates: Vec<String>,
    pub image_state: Option<String>,
    /// Each agent's current answer file (when the probe was asked for them).
    pub answer_files: BTreeMap<Agent, Vec<u8>>,
    pub done: bool,
}

impl Probe {
    /// Reads the probe's stdout; lines without [`TAG`] are ignored, malformed tagged lines are
    /// errors.
    pub fn parse<'a>(lines: impl IntoIterator<Item = &'a str>) -> Result<Probe, String> {
        let mut p = Probe::default();
        for line in lines {
            let line = line.trim_end_matches('\r');
            let Some(rest) = line.strip_prefix(TAG).and_then(|r| r.strip_prefix('\t')) else {
                continue;
            };
            let f: Vec<&str> = rest.split('\t').collect();
            let bad = || format!("malformed probe line: {line:?}");
            match f.as_slice() {
                ["os", build, arch, caption @ ..] => {
                    p.build = Some(build.trim().parse().map_err(|_| bad())?);
                    p.arch = arch.to_string();
                    p.caption = caption.join(" ");
                }
                ["agent", name, fields @ ..] => {
                    let agent = Agent::from_name(name).ok_or_else(bad)?;
                    let mut map = BTreeMap::new();
                    for kv in fields {
                        let (k, v) = kv.split_once('=').ok_or_else(bad)?;
                        map.insert(k.to_string(), v.to_string());
                    }
                    p.agents.retain(|a| a.agent != agent);
                    p.agents.push(AgentFacts { agent, fields: map });
                }
                ["pending-reboot", why] => p.pending_reboot.push(why.to_string()),
                ["appx", name, users] => p.appx.push((name.to_string(), users.to_string())),
                ["appx", name] => p.appx.push((name.to_string(), String::new())),
                ["update", what] => p.updates.push(what.to_string()),
                ["image-state", s] => p.image_state = Some(s.to_string()).filter(|s| !s.is_empty()),
                ["answer-file", name, b64] => {
                    use base64::Engine;
                    let agent = Agent::from_name(name).ok_or_else(bad)?;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .map_err(|_| bad())?;
                    p.answer_files.insert(agent, bytes);
                }
                ["probe-done"] => p.done = true,
                _ => return Err(bad()),
            }
        }
        if !p.done {
            return Err("the probe did not finish (no probe-done line)".into());
        }
        Ok(p)
    }

    pub fn agent(&self, a: Agent) -> Option<&AgentFacts> {
        self.agents.iter().find(|f| f.agent == a)
    }

    pub(super) fn found(&self) -> String {
        if self.agents.is_empty() {
            "none".into()
        } else {
            self.agents
                .iter()
                .map(AgentFacts::summary)
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}

/// The detection part of the probe: OS build, architecture, and each agent present.
pub const PROBE_PS: &str = r#"
$os = Get-CimInstance -ClassName Win32_OperatingSystem
Out-Tag 'os', "$($os.BuildNumber)", "$env:PROCESSOR_ARCHITECTURE", "$($os.Caption)"

function Get-ServiceFacts {
    param([string]$Name)
    $svc = Get-CimInstance -ClassName Win32_Service -Filter "Name='$Name'" -ErrorAction SilentlyContinue
    if ($null -eq $svc) { return @('service=none', 'start=none') }
    return @("service=$($svc.State)", "start=$($svc.StartMode)")
}

function Get-FileVersion {
    param([string]$Path)
    if (Test-Path -LiteralPath $Path) { return "$((Get-Item -LiteralPath $Path).VersionInfo.ProductVersion)" }
    return ''
}

# EC2Launch v2: a service and EC2Launch.exe
$v2exe = Join-Path $env:ProgramFiles 'Amazon\EC2Launch\EC2Launch.exe'
$v2svc = Get-ServiceFacts -Name 'EC2Launch'
if ((Test-Path -LiteralPath $v2exe) -or $v2svc[0] -ne 'service=none') {
    $fields = @('agent', 'ec2launch-v2', "version=$(Get-FileVersion -Path $v2exe)", "exe=$([int](Test-Path -LiteralPath $v2exe))") + $v2svc
    Out-Tag $fields
}

# EC2Launch v1: PowerShell scripts and a module, no service
$v1root = Join-Path $env:ProgramData 'Amazon\EC2-Windows\Launch'
if (Test-Path -LiteralPath $v1root) {
    $init = Test-Path -LiteralPath (Join-Path $v1root 'Scripts\InitializeInstance.ps1')
    $prep = Test-Path -LiteralPath (Join-Path $v1root 'Scripts\SysprepInstance.ps1')
    $version = ''
    $psd = Join-Path $v1root 'Module\Ec2Launch.psd1'
    if (Test-Path -LiteralPath $psd) {
        try { $version = "$((Import-PowerShellDataFile -Path $psd).ModuleVersion)" } catch { $version = '' }
    }
    $password = ''
    $launchConfig = Join-Path $v1root 'Config\LaunchConfig.json'
    if (Test-Path -LiteralPath $launchConfig) {
        try { $password = "$((Get-Content -LiteralPath $launchConfig -Raw | ConvertFrom-Json).adminPasswordType)" } catch { $password = 'unreadable' }
    }
    Out-Tag 'agent', 'ec2launch-v1', "version=$version", "scripts=$([int]($init -and $prep))", 'service=none', 'start=none', "password=$password"
}

# EC2Config: a service and Ec2Config.exe
$ec2cexe = Join-Path $env:ProgramFiles 'Amazon\Ec2ConfigService\Ec2Config.exe'
$ec2csvc = Get-ServiceFacts -Name 'Ec2Config'
if ((Test-Path -LiteralPath $ec2cexe) -or $ec2csvc[0] -ne 'service=none') {
    $fields = @('agent', 'ec2config', "version=$(Get-FileVersion -Path $ec2cexe)", "exe=$([int](Test-Path -LiteralPath $ec2cexe))") + $ec2csvc
    Out-Tag $fields
}
"#;

/// Probe lines for the tests of detection and decision.
#[cfg(test)]
pub(super) mod testing {
    use super::*;

    pub fn line(fields: &[&str]) -> String {
        format!("{TAG}\t{}", fields.join("\t"))
    }

    pub fn v2(start: &str) -> String {
        line(&[
            "agent",
            "ec2launch-v2",
            "version=2.0.1",
            "exe=1",
            "service=Running",
            &format!("start={start}"),
        ])
    }
    pub fn v1() -> String {
        line(&[
            "agent",
            "ec2launch-v1",
            "version=1.3.2",
            "scripts=1",
            "service=none",
            "start=none",
            "password=Random",
        ])
    }
    pub fn ec2config(start: &str) -> String {
        line(&[
            "agent",
            "ec2config",
            "version=4.9",
            "exe=1",
            "service=Stopped",
            &format!("start={start}"),
        ])
    }

    pub fn probe(build: u32, agents: &[String]) -> Probe {
        let mut lines = vec![
            "noise before".to_string(),
            line(&[
                "os",
                &build.to_string(),
                "AMD64",
                "Microsoft Windows Server",
            ]),
        ];
        lines.extend(agents.iter().cloned());
        lines.push(line(&["probe-done"]));
        Probe::parse(lines.iter().map(String::as_str)).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{line, v2};
    use super::*;

    #[test]
    fn parses_every_kind_of_line() {
        let text = [
            line(&[
                "os",
                "20348",
                "AMD64",
                "Microsoft Windows Server 2022 Datacenter",
            ]),
            v2("Auto"),
            line(&["pending-reboot", "PendingFileRenameOperations"]),
            line(&[
                "appx",
                "Microsoft.MicrosoftEdge.Stable_1_x64__8wekyb3d8bbwe",
                "S-1-5-21-1",
            ]),
            line(&["update", "TiWorker"]),
            line(&["image-state", "IMAGE_STATE_COMPLETE"]),
            line(&["probe-done"]),
        ]
        .join("\r\n");
        let p = Probe::parse(text.lines()).unwrap();
        assert_eq!(p.build, Some(20348));
        assert_eq!(p.caption, "Microsoft Windows Server 2022 Datacenter");
        assert_eq!(p.agents[0].get("version"), "2.0.1");
        assert!(p.agents[0].starts_at_boot());
        assert_eq!(p.pending_reboot, ["PendingFileRenameOperations"]);
        assert_eq!(p.appx[0].1, "S-1-5-21-1");
        assert_eq!(p.updates, ["TiWorker"]);
        assert_eq!(p.image_state.as_deref(), Some("IMAGE_STATE_COMPLETE"));
        assert!(
            Probe::parse([line(&["os", "x", "AMD64"]).as_str(), &line(&["probe-done"])])
                .unwrap_err()
                .contains("malformed")
        );
        assert!(Probe::parse([line(&["agent", "ec2launch-v9"]).as_str()]).is_err());
        assert!(
            Probe::parse([line(&["os", "1", "AMD64"]).as_str()])
                .unwrap_err()
                .contains("did not finish")
        );
    }
}
