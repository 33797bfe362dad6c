//! `amiforge-sysprep`'s generated files, without Windows: every PowerShell script parses with
//! the tree-sitter PowerShell grammar (no ERROR or MISSING node), the scripts and the answer file
//! match reviewed golden files per agent, and one golden table pins, per Windows Server build,
//! which agent is chosen and what runs. Regenerate with
//! `UPDATE_EXPECT=1 cargo nextest run -p amiforge-plugin --test sysprep_scripts`.

use std::fmt::Write as _;

use amiforge_plugin::sysprep::config::AgentChoice;
use amiforge_plugin::sysprep::detect::{Agent, Probe, Release, TAG, decide, describe_build};
use amiforge_plugin::sysprep::scripts::{self, RunPlan, Scrub};
use amiforge_plugin::sysprep::unattend::{self, AnswerSettings, Arch, ComputerName};
use amiforge_profile::testutil::powershell_errors as ps_errors;
use expect_test::expect_file;
use secrecy::SecretString;

/// The reviewed golden file `name` (in `golden/sysprep/`) holds exactly `text`.
fn golden(name: &str, text: &str) {
    expect_file![format!("golden/sysprep/{name}")].assert_eq(text);
}

const PASSWORD: &str = "Corr3ct-Horse-Battery!";
const SALT: &str = "5a175a175a175a175a175a175a175a17";

fn plan(agent: Agent, shutdown: bool) -> RunPlan {
    RunPlan {
        agent,
        shutdown,
        clean_logs: true,
        scrub: None,
        remove_appx: vec![],
        wait_seconds: 900,
    }
}

/// Every variant the provisioner can generate.
fn all_plans() -> Vec<(String, RunPlan)> {
    let mut v = Vec::new();
    for agent in Agent::ALL {
        for shutdown in [false, true] {
            if agent == Agent::Ec2Config && !shutdown {
                continue;
            }
            for scrub in [false, true] {
                for clean_logs in [false, true] {
                    let mut p = plan(agent, shutdown);
                    p.clean_logs = clean_logs;
                    if scrub {
                        p.scrub = Some(Scrub::new(&SecretString::from(PASSWORD), SALT));
                        p.remove_appx = vec![
                            "Microsoft.MicrosoftEdge.Stable_120.0_neutral__8wekyb3d8bbwe".into(),
                            "It's.Quoted_1.0_x64__abc".into(),
                        ];
                    }
                    v.push((
                        format!(
                            "{} shutdown={shutdown} scrub={scrub} clean={clean_logs}",
                            agent.name()
                        ),
                        p,
                    ));
                }
            }
        }
    }
    v
}

#[test]
fn the_probe_parses_as_powershell() {
    for (answer_files, name) in [(false, "probe.ps1"), (true, "probe-answer-files.ps1")] {
        let text = scripts::probe_script(answer_files);
        let errs = ps_errors(&text);
        assert!(errs.is_empty(), "{name}: {errs:#?}");
        assert_eq!(text.contains("Out-Tag 'answer-file'"), answer_files);
        golden(name, &text);
    }
}

#[test]
fn every_sysprep_script_parses_as_powershell() {
    let plans = all_plans();
    assert_eq!(plans.len(), 20);
    for (name, p) in plans {
        let text = scripts::run_script(&p);
        let errs = ps_errors(&text);
        assert!(errs.is_empty(), "{name}: {errs:#?}");
        assert!(!text.contains(PASSWORD), "{name}");
        assert!(
            text.contains("Remove-Item -LiteralPath $PSCommandPath"),
            "{name}"
        );
        assert!(
            text.contains("Stop-WithEvidence -Message $_.Exception.Message"),
            "{name}"
        );
        // the check would notice a lost brace in this very script
        let broken = text.replacen("} catch {", "catch {", 1);
        assert!(
            !ps_errors(&broken).is_empty(),
            "{name}: mutation not caught"
        );
    }
}

#[test]
fn the_parse_check_catches_broken_powershell() {
    assert!(!ps_errors("try {\n    Out-Tag 'x'\n} catch {\n").is_empty());
    assert!(!ps_errors("$a = @('x', \n").is_empty());
    assert!(ps_errors("try { Out-Tag 'x' } catch { exit 1 }\n").is_empty());
}

#[test]
fn golden_scripts_per_agent() {
    golden(
        "run-ec2launch-v2.ps1",
        &scripts::run_script(&plan(Agent::Ec2LaunchV2, false)),
    );
    golden(
        "run-ec2launch-v2-shutdown.ps1",
        &scripts::run_script(&plan(Agent::Ec2LaunchV2, true)),
    );
    golden(
        "run-ec2launch-v1.ps1",
        &scripts::run_script(&plan(Agent::Ec2LaunchV1, false)),
    );
    golden(
        "run-ec2config.ps1",
        &scripts::run_script(&plan(Agent::Ec2Config, true)),
    );
    let mut p = plan(Agent::Ec2LaunchV2, false);
    p.scrub = Some(Scrub::new(&SecretString::from(PASSWORD), SALT));
    p.remove_appx = vec!["Microsoft.MicrosoftEdge.Stable_120.0_neutral__8wekyb3d8bbwe".into()];
    golden("run-ec2launch-v2-scrub-appx.ps1", &scripts::run_script(&p));
}

fn probe_lines(build: u32, agents: &[&str]) -> String {
    let mut s = format!("{TAG}\tos\t{build}\tAMD64\tMicrosoft Windows Server\n");
    for a in agents {
        let fields = match *a {
            "ec2launch-v1" => {
                "version=1.3.2003\tscripts=1\tservice=none\tstart=none\tpassword=Random"
            }
            "ec2config" => "version=4.9.4500\texe=1\tservice=Running\tstart=Auto",
            _ => "version=2.0.2107\texe=1\tservice=Running\tstart=Auto",
        };
        let _ = writeln!(s, "{TAG}\tagent\t{a}\t{fields}");
    }
    let _ = writeln!(
        s,
        "{TAG}\timage-state\tIMAGE_STATE_COMPLETE\n{TAG}\tprobe-done"
    );
    s
}

#[test]
fn golden_decisions_per_os_build() {
    // what AWS's own AMIs of each release ship with
    let cases: &[(Release, &[&str])] = &[
        (Release::W2012, &["ec2config"]),
        (Release::W2012R2, &["ec2config"]),
        (Release::W2016, &["ec2launch-v1"]),
        (Release::W2019, &["ec2launch-v1"]),
        (Release::W2019, &["ec2launch-v1", "ec2launch-v2"]),
        (Release::W2022, &["ec2launch-v2"]),
        (Release::W2025, &["ec2launch-v2"]),
    ];
    let mut table = String::from(
        "# build | agents found | chosen | commands | answer file | run script sha256[..16]\n",
    );
    for (release, agents) in cases {
        let text = probe_lines(release.build(), agents);
        let probe = Probe::parse(text.lines()).unwrap();
        let d = decide(AgentChoice::Auto, Some(*release), &probe).unwrap();
        let p = plan(d.agent, d.agent == Agent::Ec2Config);
        let script = scripts::run_script(&p);
        assert!(ps_errors(&script).is_empty());
        let _ = writeln!(
            table,
            "{} | {} | {} | {} | {} | {}",
            describe_build(d.build),
            agents.join(", "),
            d.agent.name(),
            scripts::agent_commands(&p).join("; "),
            d.agent.answer_file_path(),
            &amiforge_model::sha256_hex(script.as_bytes())[..16]
        );
    }
    golden("decisions.txt", &table);
}

#[test]
fn golden_answer_file() {
    let s = AnswerSettings {
        arch: Arch::Amd64,
        computer_name: ComputerName::Random,
        time_zone: Some("UTC".into()),
        locale: Some("en-US".into()),
        copy_profile: true,
        run_synchronous: vec!["powershell -NoProfile -Command \"Set-ItemProperty -Path 'HKLM:\\SOFTWARE\\Contoso' -Name Ready -Value 1\"".into()],
        first_logon_commands: vec!["cmd /c echo first logon > C:\\first-logon.txt".into()],
    };
    let xml = unattend::render_checked(&s).unwrap();
    let text = String::from_utf8(xml).unwrap();
    golden("unattend-full.xml", &text);
    // a generic XML reader agrees: one root, three passes, every component carries its attributes
    let mut r = quick_xml::Reader::from_str(&text);
    let (mut passes, mut components) = (Vec::new(), 0);
    loop {
        match r.read_event().unwrap() {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == "settings" => {
                let a = e.try_get_attribute("pass").unwrap().unwrap();
                passes.push(a.value.to_string());
            }
            quick_xml::events::Event::Start(e) if e.name().as_ref() == "component" => {
                components += 1;
                for k in [
                    "name",
                    "processorArchitecture",
                    "publicKeyToken",
                    "language",
                    "versionScope",
                ] {
                    assert!(e.try_get_attribute(k).unwrap().is_some(), "{k}");
                }
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(passes, ["generalize", "specialize", "oobeSystem"]);
    assert_eq!(components, 6);
}
