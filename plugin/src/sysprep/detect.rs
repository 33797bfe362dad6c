//! Detection: which launch agents the machine has and which Windows build it runs. The probe
//! (PowerShell, [`PROBE_PS`]) prints tagged lines; [`Probe::parse`] reads them (together with
//! the readiness facts) and [`decide`] — a pure function — picks the agent or says why none fits.

use std::collections::BTreeMap;

use super::config::AgentChoice;

/// Prefix of every line the provisioner's scripts print for it (fields are tab-separated).
pub const TAG: &str = "AMIFORGE-SYSPREP";

/// The EC2 launch agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Agent {
    Ec2LaunchV2,
    Ec2LaunchV1,
    Ec2Config,
}

impl Agent {
    /// Preference when several fit: v2, v1, EC2Config.
    pub const ALL: [Agent; 3] = [Agent::Ec2LaunchV2, Agent::Ec2LaunchV1, Agent::Ec2Config];

    pub fn name(self) -> &'static str {
        match self {
            Agent::Ec2LaunchV2 => "ec2launch-v2",
            Agent::Ec2LaunchV1 => "ec2launch-v1",
            Agent::Ec2Config => "ec2config",
        }
    }

    pub fn from_name(s: &str) -> Option<Agent> {
        Agent::ALL.into_iter().find(|a| a.name() == s)
    }

    /// Whether the agent runs on Windows build `build` (per AWS's documentation: EC2Config up
    /// to 2012 R2, EC2Launch v1 on 2016 and 2019, EC2Launch v2 on 2012 and later).
    pub fn supports(self, build: u32) -> bool {
        match self {
            Agent::Ec2Config => build < 14393,
            Agent::Ec2LaunchV1 => (14393..=17763).contains(&build),
            Agent::Ec2LaunchV2 => build >= 9200,
        }
    }

    pub fn support_text(self) -> &'static str {
        match self {
            Agent::Ec2Config => "it runs on Windows Server 2012 R2 and earlier",
            Agent::Ec2LaunchV1 => "it runs on Windows Server 2016 and 2019",
            Agent::Ec2LaunchV2 => "it runs on Windows Server 2012 and later",
        }
    }

    /// The agent AWS's own AMIs of that build ship with.
    pub fn for_build(build: u32) -> Option<Agent> {
        match build {
            0..9200 => None,
            9200..14393 => Some(Agent::Ec2Config),
            14393..=17763 => Some(Agent::Ec2LaunchV1),
            _ => Some(Agent::Ec2LaunchV2),
        }
    }

    /// Where the agent reads its sysprep answer file (forward slashes: a communicator path).
    pub fn answer_file_path(self) -> &'static str {
        match self {
            Agent::Ec2LaunchV2 => "C:/ProgramData/Amazon/EC2Launch/sysprep/unattend.xml",
            Agent::Ec2LaunchV1 => "C:/ProgramData/Amazon/EC2-Windows/Launch/Sysprep/Unattend.xml",
            Agent::Ec2Config => "C:/Program Files/Amazon/Ec2ConfigService/sysprep2008.xml",
        }
    }
}

/// Windows Server releases by build number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    W2012,
    W2012R2,
    W2016,
    W2019,
    W2022,
    W2025,
}

impl Release {
    const ALL: [(Release, &'static str, &'static str, u32); 6] = [
        (Release::W2012, "2012", "2012", 9200),
        (Release::W2012R2, "2012r2", "2012 R2", 9600),
        (Release::W2016, "2016", "2016", 14393),
        (Release::W2019, "2019", "2019", 17763),
        (Release::W2022, "2022", "2022", 20348),
        (Release::W2025, "2025", "2025", 26100),
    ];

    fn row(self) -> (Release, &'static str, &'static str, u32) {
        Self::ALL
            .into_iter()
            .find(|r| r.0 == self)
            .unwrap_or(Self::ALL[0])
    }

    pub fn from_name(s: &str) -> Option<Release> {
        let s = s.to_ascii_lowercase().replace([' ', '-', '_'], "");
        Self::ALL.into_iter().find(|r| r.1 == s).map(|r| r.0)
    }

    pub fn from_build(build: u32) -> Option<Release> {
        Self::ALL.into_iter().find(|r| r.3 == build).map(|r| r.0)
    }

    pub fn build(self) -> u32 {
        self.row().3
    }

    pub fn label(self) -> &'static str {
        self.row().2
    }
}

/// "Windows Server 2022 (build 20348)" or "build 12345".
pub fn describe_build(build: u32) -> String {
    match Release::from_build(build) {
        Some(r) => format!("Windows Server {} (build {build})", r.label()),
        None => format!("Windows build {build}"),
    }
}

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

    fn summary(&self) -> String {
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

    fn found(&self) -> String {
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

/// The chosen agent and what else was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub agent: Agent,
    pub build: u32,
    /// Human notes (other agents found and why they were not used).
    pub notes: Vec<String>,
}

/// Picks the agent: the set one (which must be installed and fit the build), or (auto) the
/// preferred agent among those installed that fit the build, healthy ones first. Refuses when
/// another agent would also act at first boot.
pub fn decide(
    choice: AgentChoice,
    expected: Option<Release>,
    probe: &Probe,
) -> Result<Decision, String> {
    let build = probe
        .build
        .ok_or("the probe did not report the Windows build")?;
    let os = describe_build(build);
    if let Some(r) = expected
        && r.build() != build
    {
        return Err(format!(
            "windows_release = \"{}\" but the machine runs {os}",
            r.label().replace(' ', "").to_lowercase()
        ));
    }
    let mut notes = Vec::new();
    let agent = match choice {
        AgentChoice::Fixed(a) => {
            if probe.agent(a).is_none() {
                return Err(format!(
                    "agent = \"{}\" but it is not installed on the machine (found: {}); install \
                     it or use agent = \"auto\"",
                    a.name(),
                    probe.found()
                ));
            }
            if !a.supports(build) {
                return Err(format!(
                    "agent = \"{}\" cannot prepare {os}: {}",
                    a.name(),
                    a.support_text()
                ));
            }
            a
        }
        AgentChoice::Auto => {
            let fitting: Vec<&AgentFacts> = Agent::ALL
                .iter()
                .filter_map(|a| probe.agent(*a))
                .filter(|f| f.agent.supports(build))
                .collect();
            for f in &probe.agents {
                if !f.agent.supports(build) {
                    notes.push(format!(
                        "{} is installed but not used: {}",
                        f.summary(),
                        f.agent.support_text()
                    ));
                }
            }
            let chosen = fitting
                .iter()
                .find(|f| f.problem().is_none())
                .or(fitting.first())
                .ok_or_else(|| {
                    format!(
                        "no launch agent that can prepare {os} is installed (found: {}); install \
                         {}",
                        probe.found(),
                        Agent::for_build(build)
                            .map(|a| a.name())
                            .unwrap_or("a supported agent")
                    )
                })?;
            for f in &fitting {
                if f.agent != chosen.agent {
                    notes.push(format!(
                        "{} is installed too; using {} (preferred{})",
                        f.summary(),
                        chosen.agent.name(),
                        match f.problem() {
                            Some(p) => format!("; {}: {p}", f.agent.name()),
                            None => String::new(),
                        }
                    ));
                }
            }
            chosen.agent
        }
    };
    let rivals: Vec<String> = probe
        .agents
        .iter()
        .filter(|f| f.agent != agent && f.starts_at_boot())
        .map(|f| f.agent.name().to_string())
        .collect();
    if !rivals.is_empty() {
        return Err(format!(
            "{} would also act at the first boot of the image (its service starts \
             automatically) besides {}: two agents race to set the password and name; disable or \
             uninstall {} first",
            rivals.join(" and "),
            agent.name(),
            rivals.join(" and ")
        ));
    }
    Ok(Decision {
        agent,
        build,
        notes,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[&str]) -> String {
        format!("{TAG}\t{}", fields.join("\t"))
    }

    fn v2(start: &str) -> String {
        line(&[
            "agent",
            "ec2launch-v2",
            "version=2.0.1",
            "exe=1",
            "service=Running",
            &format!("start={start}"),
        ])
    }
    fn v1() -> String {
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
    fn ec2config(start: &str) -> String {
        line(&[
            "agent",
            "ec2config",
            "version=4.9",
            "exe=1",
            "service=Stopped",
            &format!("start={start}"),
        ])
    }

    fn probe(build: u32, agents: &[String]) -> Probe {
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

    #[test]
    fn one_agent_per_release() {
        let d = decide(AgentChoice::Auto, None, &probe(20348, &[v2("Auto")])).unwrap();
        assert_eq!((d.agent, d.notes.len()), (Agent::Ec2LaunchV2, 0));
        let d = decide(AgentChoice::Auto, None, &probe(17763, &[v1()])).unwrap();
        assert_eq!(d.agent, Agent::Ec2LaunchV1);
        let d = decide(AgentChoice::Auto, None, &probe(9600, &[ec2config("Auto")])).unwrap();
        assert_eq!(d.agent, Agent::Ec2Config);
    }

    #[test]
    fn several_agents_prefer_v2_then_v1_and_say_so() {
        // a 2019 image migrated to v2 with the v1 scripts left behind
        let d = decide(AgentChoice::Auto, None, &probe(17763, &[v1(), v2("Auto")])).unwrap();
        assert_eq!(d.agent, Agent::Ec2LaunchV2);
        assert_eq!(
            d.notes,
            ["ec2launch-v1 1.3.2 is installed too; using ec2launch-v2 (preferred)"]
        );
        // v2 broken (service disabled): the healthy v1 wins
        let d = decide(
            AgentChoice::Auto,
            None,
            &probe(17763, &[v1(), v2("Disabled")]),
        )
        .unwrap();
        assert_eq!(d.agent, Agent::Ec2LaunchV1);
        assert!(
            d.notes[0].contains("the EC2Launch service is disabled"),
            "{:?}",
            d.notes
        );
        // a 2012 R2 image with EC2Config (disabled) and v2 (running)
        let d = decide(
            AgentChoice::Auto,
            None,
            &probe(9600, &[ec2config("Disabled"), v2("Auto")]),
        )
        .unwrap();
        assert_eq!(d.agent, Agent::Ec2LaunchV2);
        // EC2Config left on a 2022 machine but stopped: ignored with a note
        let d = decide(
            AgentChoice::Auto,
            None,
            &probe(20348, &[ec2config("Manual"), v2("Auto")]),
        )
        .unwrap();
        assert_eq!(d.agent, Agent::Ec2LaunchV2);
        assert!(
            d.notes[0].starts_with("ec2config 4.9 is installed but not used"),
            "{:?}",
            d.notes
        );
    }

    #[test]
    fn two_agents_that_both_start_at_boot_are_refused() {
        let e = decide(
            AgentChoice::Auto,
            None,
            &probe(9600, &[ec2config("Auto"), v2("Auto")]),
        )
        .unwrap_err();
        assert!(
            e.starts_with("ec2config would also act at the first boot"),
            "{e}"
        );
        let e = decide(
            AgentChoice::Fixed(Agent::Ec2Config),
            None,
            &probe(9600, &[ec2config("Auto"), v2("Auto")]),
        )
        .unwrap_err();
        assert!(e.starts_with("ec2launch-v2 would also act"), "{e}");
    }

    #[test]
    fn impossible_or_missing_agents_are_refused() {
        let e = decide(
            AgentChoice::Fixed(Agent::Ec2LaunchV1),
            None,
            &probe(20348, &[v2("Auto")]),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "agent = \"ec2launch-v1\" but it is not installed on the machine (found: ec2launch-v2 2.0.1); install it or use agent = \"auto\""
        );
        let e = decide(
            AgentChoice::Fixed(Agent::Ec2Config),
            None,
            &probe(20348, &[ec2config("Manual")]),
        )
        .unwrap_err();
        assert!(
            e.contains("cannot prepare Windows Server 2022 (build 20348)"),
            "{e}"
        );
        let e = decide(
            AgentChoice::Auto,
            None,
            &probe(20348, &[ec2config("Manual")]),
        )
        .unwrap_err();
        assert!(
            e.starts_with("no launch agent that can prepare Windows Server 2022"),
            "{e}"
        );
        assert!(e.ends_with("install ec2launch-v2"), "{e}");
        let e = decide(
            AgentChoice::Auto,
            Some(Release::W2019),
            &probe(20348, &[v2("Auto")]),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "windows_release = \"2019\" but the machine runs Windows Server 2022 (build 20348)"
        );
    }

    #[test]
    fn support_matrix() {
        assert!(Agent::Ec2Config.supports(9600) && !Agent::Ec2Config.supports(14393));
        assert!(!Agent::Ec2LaunchV1.supports(9600) && Agent::Ec2LaunchV1.supports(14393));
        assert!(!Agent::Ec2LaunchV1.supports(20348));
        assert!(Agent::Ec2LaunchV2.supports(9200) && Agent::Ec2LaunchV2.supports(26100));
        assert_eq!(Release::from_name("2012 R2"), Some(Release::W2012R2));
        assert_eq!(describe_build(12345), "Windows build 12345");
    }
}
