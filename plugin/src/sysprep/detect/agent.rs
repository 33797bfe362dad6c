//! The EC2 launch agents and the Windows Server releases they run on: names, the support
//! matrix, and where each agent keeps the files amiforge touches ([`Location`]: one definition
//! gives both the communicator path and the PowerShell expression, so the probe, the scrub and
//! the upload name the same file).

use amiforge_profile::compile::ps::quote;

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

    /// Where the agent reads its sysprep answer file.
    pub fn answer_file(self) -> Location {
        match self {
            Agent::Ec2LaunchV2 => Location::new(
                KnownFolder::ProgramData,
                r"Amazon\EC2Launch\sysprep\unattend.xml",
            ),
            Agent::Ec2LaunchV1 => Location::new(
                KnownFolder::ProgramData,
                r"Amazon\EC2-Windows\Launch\Sysprep\Unattend.xml",
            ),
            Agent::Ec2Config => Location::new(
                KnownFolder::ProgramFiles,
                r"Amazon\Ec2ConfigService\sysprep2008.xml",
            ),
        }
    }

    /// The agent's own configuration file (where a build-time password may have been put).
    pub fn config_file(self) -> Location {
        match self {
            Agent::Ec2LaunchV2 => Location::new(
                KnownFolder::ProgramData,
                r"Amazon\EC2Launch\config\agent-config.yml",
            ),
            Agent::Ec2LaunchV1 => Location::new(
                KnownFolder::ProgramData,
                r"Amazon\EC2-Windows\Launch\Config\LaunchConfig.json",
            ),
            Agent::Ec2Config => Location::new(
                KnownFolder::ProgramFiles,
                r"Amazon\Ec2ConfigService\Settings\Config.xml",
            ),
        }
    }

    /// Where the agent reads its sysprep answer file, as a communicator path (forward slashes,
    /// default Windows folders).
    pub fn answer_file_path(self) -> String {
        self.answer_file().path()
    }
}

/// A Windows folder that scripts name by an environment variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownFolder {
    /// `%ProgramData%`.
    ProgramData,
    /// `%ProgramFiles%`.
    ProgramFiles,
}

impl KnownFolder {
    /// The folder on a default Windows installation, as the communicator takes paths.
    pub fn default_path(self) -> &'static str {
        match self {
            KnownFolder::ProgramData => "C:/ProgramData",
            KnownFolder::ProgramFiles => "C:/Program Files",
        }
    }

    /// The PowerShell expression for the folder on the running machine.
    pub fn powershell(self) -> &'static str {
        match self {
            KnownFolder::ProgramData => "$env:ProgramData",
            KnownFolder::ProgramFiles => "$env:ProgramFiles",
        }
    }
}

/// A file below a [`KnownFolder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub folder: KnownFolder,
    /// The path below the folder, backslash-separated.
    pub relative: &'static str,
}

impl Location {
    const fn new(folder: KnownFolder, relative: &'static str) -> Location {
        Location { folder, relative }
    }

    /// The communicator path (forward slashes) on a default Windows installation.
    pub fn path(self) -> String {
        format!(
            "{}/{}",
            self.folder.default_path(),
            self.relative.replace('\\', "/")
        )
    }

    /// The PowerShell expression for the file: `(Join-Path $env:ProgramData 'Amazon\…')`.
    pub fn powershell(self) -> String {
        format!(
            "(Join-Path {} {})",
            self.folder.powershell(),
            quote(self.relative)
        )
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_matrix() {
        assert!(Agent::Ec2Config.supports(9600) && !Agent::Ec2Config.supports(14393));
        assert!(!Agent::Ec2LaunchV1.supports(9600) && Agent::Ec2LaunchV1.supports(14393));
        assert!(!Agent::Ec2LaunchV1.supports(20348));
        assert!(Agent::Ec2LaunchV2.supports(9200) && Agent::Ec2LaunchV2.supports(26100));
        assert_eq!(Release::from_name("2012 R2"), Some(Release::W2012R2));
        assert_eq!(describe_build(12345), "Windows build 12345");
    }

    #[test]
    fn one_location_gives_the_upload_path_and_the_powershell() {
        let v2 = Agent::Ec2LaunchV2.answer_file();
        assert_eq!(
            v2.path(),
            "C:/ProgramData/Amazon/EC2Launch/sysprep/unattend.xml"
        );
        assert_eq!(
            v2.powershell(),
            r"(Join-Path $env:ProgramData 'Amazon\EC2Launch\sysprep\unattend.xml')"
        );
        assert_eq!(
            Agent::Ec2Config.answer_file_path(),
            "C:/Program Files/Amazon/Ec2ConfigService/sysprep2008.xml"
        );
    }
}
