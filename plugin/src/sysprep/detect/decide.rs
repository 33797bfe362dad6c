//! The agent decision: a pure function of the user's choice, the expected release and what the
//! probe saw. It picks the set agent or the preferred fitting one, notes the others, and refuses
//! (with the fix) when none fits or another agent would also act at first boot.

use super::super::config::AgentChoice;
use super::{Agent, AgentFacts, Probe, Release, describe_build};

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
        AgentChoice::Fixed(a) => fixed(a, build, &os, probe)?,
        AgentChoice::Auto => auto(build, &os, probe, &mut notes)?,
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

/// The set agent, if it is installed and runs on `build` (described as `os`).
fn fixed(a: Agent, build: u32, os: &str, probe: &Probe) -> Result<Agent, String> {
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
    Ok(a)
}

/// The preferred installed agent that runs on `build`, healthy ones first; `notes` say why the
/// others were not used.
fn auto(build: u32, os: &str, probe: &Probe, notes: &mut Vec<String>) -> Result<Agent, String> {
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
                "no launch agent that can prepare {os} is installed (found: {}); install {}",
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
    Ok(chosen.agent)
}

#[cfg(test)]
mod tests {
    use super::super::probe::testing::{ec2config, probe, v1, v2};
    use super::*;

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
}
