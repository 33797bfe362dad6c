//! `amiforge-sysprep` driven through the real plugin stack by the SDK's fake Packer
//! (`packer_sdk::testutil`), which records every Communicator and Ui call while a scripted
//! Windows target plays the machine: it answers the probe with scripted tagged lines and the
//! sysprep script with scripted output and exit status. Pins the exact
//! command sequence (probe upload, probe run, answer-file upload, script upload, script run),
//! detection when several agents are present, refusals before anything changes, the failure
//! path (evidence into the UI and a host file) and that the admin password never appears in a
//! command, an upload, the UI or the evidence file. (No Windows here: the PowerShell itself is
//! parse- and golden-tested in `sysprep_scripts.rs`.)

use std::sync::Arc;

use amiforge_plugin::sysprep::detect::{Agent, TAG};
use amiforge_plugin::sysprep::scripts::probe_script;
use amiforge_plugin::sysprep::unattend::{self, AnswerSettings, Arch, ComputerName};
use amiforge_plugin::sysprep::{command, script_path};
use packer_sdk::invocation::Kind;
use packer_sdk::testutil::{self, Answer, Callbacks, FakePacker, RecordingUi, Scripted};
use serde_json::json;

const PASSWORD: &str = "Bu1ld-Time-Passw0rd";

/// A Communicator call, as these tests compare them (upload modes are not their concern).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Upload { path: String, bytes: Vec<u8> },
    Start { command: String },
}

impl From<testutil::Call> for Call {
    fn from(c: testutil::Call) -> Call {
        match c {
            testutil::Call::Upload { path, bytes, .. } => Call::Upload { path, bytes },
            testutil::Call::Start { command, .. } => Call::Start { command },
        }
    }
}

/// How the target answers the sysprep script.
#[derive(Clone)]
struct RunAnswer {
    lines: Vec<String>,
    /// `None`: the connection ends without an exit status (Windows shutting down).
    exit: Option<i64>,
}

fn tag(fields: &[&str]) -> String {
    format!("{TAG}\t{}", fields.join("\t"))
}

/// A small agent answer file (written for this test).
const AGENT_XML: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"><settings pass=\"generalize\"><component name=\"Microsoft-Windows-Security-SPP\" processorArchitecture=\"amd64\" publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\"><SkipRearm>1</SkipRearm></component></settings><settings pass=\"specialize\"><component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\" publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\"><ComputerName>AGENT</ComputerName></component></settings></unattend>\n";

fn agent_answer_file() -> String {
    use base64::Engine;
    tag(&[
        "answer-file",
        "ec2launch-v2",
        &base64::engine::general_purpose::STANDARD.encode(AGENT_XML),
    ])
}

fn probe_lines(build: &str, agents: &[&str], extra: &[String]) -> Vec<String> {
    let mut v = vec![
        "some banner the shell prints".to_string(),
        tag(&["os", build, "AMD64", "Microsoft Windows Server Datacenter"]),
    ];
    for a in agents {
        v.push(match *a {
            "v2" => tag(&[
                "agent",
                "ec2launch-v2",
                "version=2.0.2107",
                "exe=1",
                "service=Running",
                "start=Auto",
            ]),
            "v1" => tag(&[
                "agent",
                "ec2launch-v1",
                "version=1.3.2003",
                "scripts=1",
                "service=none",
                "start=none",
                "password=Random",
            ]),
            "ec2config" => tag(&[
                "agent",
                "ec2config",
                "version=4.9.4500",
                "exe=1",
                "service=Running",
                "start=Auto",
            ]),
            other => panic!("{other}"),
        });
    }
    v.extend(extra.iter().cloned());
    v.push(tag(&["image-state", "IMAGE_STATE_COMPLETE"]));
    v.push(tag(&["probe-done"]));
    v
}

struct Run {
    packer_side: Arc<Callbacks>,
    result: Result<rmpv::Value, packer_sdk::rpc::RpcError>,
}

impl Run {
    fn calls(&self) -> Vec<Call> {
        let comm = self.packer_side.communicator().unwrap();
        comm.calls().into_iter().map(Call::from).collect()
    }
    fn ui(&self) -> Vec<(String, String)> {
        self.packer_side.recorded_ui().calls()
    }
    fn ui_text(&self) -> String {
        self.packer_side.recorded_ui().transcript()
    }
    fn error(&self) -> String {
        match &self.result {
            Ok(v) => format!("{v}"),
            Err(e) => e.to_string(),
        }
    }
    /// Nothing the target or the UI received contains the password.
    fn assert_password_never_left(&self) {
        for c in self.calls() {
            let text = match &c {
                Call::Upload { path, bytes } => {
                    format!("{path} {}", String::from_utf8_lossy(bytes))
                }
                Call::Start { command } => command.clone(),
            };
            assert!(
                !text.contains(PASSWORD),
                "password sent to the target: {c:?}"
            );
        }
        assert!(!self.ui_text().contains(PASSWORD), "password in the UI");
        assert!(!self.error().contains(PASSWORD), "password in the error");
    }
}

async fn run(config: serde_json::Value, probe: Vec<String>, answer: RunAnswer) -> Run {
    let cfg: rmpv::Value = rmpv::ext::to_value(&config).unwrap();
    let packer = FakePacker::start(&amiforge_plugin::plugin(), Kind::Provisioner, "sysprep");
    packer
        .prepare(vec![cfg, testutil::build_variables("win", "amazon-ebs")])
        .await
        .unwrap();
    // a Windows shell: CRLF line ends
    let machine = Scripted::new()
        .on(
            "amiforge-sysprep-probe-",
            Answer::lines(&probe, "\r\n", Some(0)),
        )
        .on(
            "amiforge-sysprep-run-",
            Answer::lines(&answer.lines, "\r\n", answer.exit),
        );
    let packer_side = Arc::new(Callbacks::provisioner(
        RecordingUi::new(),
        packer.communicator(Arc::new(machine)),
    ));
    let generated = rmpv::Value::Map(vec![("User".into(), "Administrator".into())]);
    let result = packer.provision(packer_side.clone(), generated).await;
    Run {
        packer_side,
        result,
    }
}

fn ok_run(extra: &[String]) -> RunAnswer {
    let mut lines = extra.to_vec();
    lines.extend([
        tag(&["step", "EC2Launch.exe reset --clean --block"]),
        "Resetting EC2Launch state".to_string(),
        tag(&["step", "EC2Launch.exe sysprep --clean --block"]),
        "Running sysprep".to_string(),
        tag(&["done", "IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE"]),
    ]);
    RunAnswer {
        lines,
        exit: Some(0),
    }
}

fn answer_block() -> serde_json::Value {
    json!({
        "computer_name": "*",
        "time_zone": "UTC",
        "locale": "en-US",
        "copy_profile": true,
        "run_synchronous": ["cmd /c echo specialize"],
        "first_logon_commands": ["cmd /c echo first"],
    })
}

#[tokio::test]
async fn several_agents_v2_wins_and_the_sequence_is_exact() {
    let d = tempfile::tempdir().unwrap();
    let removed = [
        tag(&[
            "removed",
            r"C:\ProgramData\Amazon\EC2Launch\config\agent-config.yml",
            "1 occurrence(s)",
        ]),
        tag(&[
            "removed",
            r"HKLM:\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Winlogon\DefaultPassword",
            "registry value (AutoAdminLogon set to 0)",
        ]),
        tag(&["scrubbed", "2"]),
        // an agent that echoes the password: the UI must mask it
        format!("agent says: password {PASSWORD} applied"),
    ];
    let r = run(
        json!({
            "admin_password": PASSWORD,
            "answer_file": answer_block(),
            "evidence_path": d.path().join("ev.log").to_string_lossy(),
        }),
        // a 2019 image migrated to v2 with the v1 scripts left behind; v2 has an answer file
        probe_lines("17763", &["v1", "v2"], &[agent_answer_file()]),
        ok_run(&removed),
    )
    .await;
    r.result
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}\n{}", r.ui_text()));
    let calls = r.calls();
    assert_eq!(calls.len(), 5, "{calls:#?}");
    let probe = probe_script(true);
    let probe_path = script_path("C:/Windows/Temp", "probe", &probe);
    assert_eq!(
        calls[0],
        Call::Upload {
            path: probe_path.clone(),
            bytes: probe.into_bytes()
        }
    );
    assert_eq!(
        calls[1],
        Call::Start {
            command: command(&probe_path)
        }
    );
    let (want_xml, _) = unattend::render_for_agent(
        &AnswerSettings {
            arch: Arch::Amd64,
            computer_name: ComputerName::Random,
            time_zone: Some("UTC".into()),
            locale: Some("en-US".into()),
            copy_profile: true,
            run_synchronous: vec!["cmd /c echo specialize".into()],
            first_logon_commands: vec!["cmd /c echo first".into()],
        },
        Some(AGENT_XML.as_bytes()),
    )
    .unwrap();
    let merged = String::from_utf8_lossy(&want_xml);
    assert!(
        merged.contains("<SkipRearm>1</SkipRearm>"),
        "the agent's setting is kept"
    );
    assert!(
        merged.contains("<ComputerName>*</ComputerName>"),
        "ours is in"
    );
    assert_eq!(
        calls[2],
        Call::Upload {
            path: Agent::Ec2LaunchV2.answer_file_path(),
            bytes: want_xml
        }
    );
    let Call::Upload { path, bytes } = &calls[3] else {
        panic!("{:?}", calls[3])
    };
    let script = String::from_utf8(bytes.clone()).unwrap();
    assert_eq!(path, &script_path("C:/Windows/Temp", "run", &script));
    assert!(script.starts_with("# amiforge-sysprep run for ec2launch-v2"));
    assert!(script.contains("@('sysprep', '--clean', '--block')"));
    assert!(script.contains("$Forms = @("), "the scrub is in");
    assert_eq!(
        calls[4],
        Call::Start {
            command: command(path)
        }
    );
    let ui = r.ui_text();
    for want in [
        "Say: amiforge-sysprep: ec2launch-v2 2.0.2107 on Windows Server 2019 (build 17763) (detected)",
        "Message:   note: ec2launch-v1 1.3.2003 is installed too; using ec2launch-v2 (preferred)",
        "Message:   answer file merged into the agent's own: C:/ProgramData/Amazon/EC2Launch/sysprep/unattend.xml",
        "Message:   > EC2Launch.exe sysprep --clean --block",
        "Message:   | Running sysprep",
        "Say: amiforge-sysprep: removed the admin password from 2 place(s):",
        "Message:   removed: C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml (1 occurrence(s))",
        "Message:   | agent says: password <sensitive> applied",
        "Say: amiforge-sysprep: generalised (IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE)",
    ] {
        assert!(ui.contains(want), "{want} not in UI:\n{ui}");
    }
    r.assert_password_never_left();
    assert!(
        !d.path().join("ev.log").exists(),
        "no evidence file on success"
    );
}

#[tokio::test]
async fn a_failed_sysprep_brings_back_the_evidence_and_fails_with_the_agents_message() {
    let d = tempfile::tempdir().unwrap();
    let ev = d.path().join("out/evidence.log");
    let setuperr = r"C:\Windows\System32\Sysprep\Panther\setuperr.log";
    let answer = RunAnswer {
        lines: vec![
            tag(&["step", "EC2Launch.exe sysprep --clean --block"]),
            tag(&[
                "failed",
                "EC2Launch.exe sysprep --clean --block exited with status 1",
            ]),
            tag(&[
                "evidence",
                r"C:\Windows\System32\Sysprep\Panther\setupact.log",
                "Info SYSPRP starting",
            ]),
            tag(&[
                "evidence",
                setuperr,
                "2026-11-27 05:00:00, Error SYSPRP Package Microsoft.MicrosoftEdge.Stable_1 was installed for a user, but not provisioned for all users.",
            ]),
            tag(&[
                "evidence",
                setuperr,
                &format!("2026-11-27 05:00:01, Error with password {PASSWORD}"),
            ]),
            tag(&["evidence", "ImageState", "IMAGE_STATE_COMPLETE"]),
        ],
        exit: Some(1),
    };
    let r = run(
        json!({ "admin_password": PASSWORD, "evidence_path": ev.to_string_lossy() }),
        probe_lines("20348", &["v2"], &[]),
        answer,
    )
    .await;
    let e = r.error();
    assert!(
        e.contains("amiforge-sysprep: ec2launch-v2 failed: EC2Launch.exe sysprep --clean --block exited with status 1"),
        "{e}"
    );
    assert!(e.contains(&format!("evidence in {}", ev.display())), "{e}");
    assert_eq!(r.calls().len(), 4, "no answer file: probe ×2, script ×2");
    let ui = r.ui();
    assert!(ui.iter().any(|(m, t)| m == "Error" && t.contains("setuperr.log: 2026-11-27 05:00:00, Error SYSPRP Package Microsoft.MicrosoftEdge.Stable_1")), "{ui:#?}");
    let file = std::fs::read_to_string(&ev).unwrap();
    assert!(file.contains("agent: ec2launch-v2"));
    assert!(file.contains(&format!("== {setuperr}\n")));
    assert!(file.contains("Info SYSPRP starting"));
    assert!(file.contains("Error with password <sensitive>"), "{file}");
    assert!(!file.contains(PASSWORD));
    r.assert_password_never_left();
}

#[tokio::test]
async fn an_unready_machine_is_refused_before_anything_changes() {
    let extra = [
        tag(&["pending-reboot", "RebootPending"]),
        tag(&[
            "appx",
            "Microsoft.MicrosoftEdge.Stable_1_neutral__8wekyb3d8bbwe",
            "S-1-5-21-1-500",
        ]),
        tag(&["update", "TiWorker"]),
    ];
    let r = run(
        json!({ "answer_file": answer_block() }),
        probe_lines("20348", &["v2"], &extra),
        ok_run(&[]),
    )
    .await;
    let e = r.error();
    assert!(
        e.starts_with("amiforge-sysprep: refusing to sysprep: a reboot is pending (RebootPending)"),
        "{e}"
    );
    assert!(
        e.contains("Microsoft.MicrosoftEdge.Stable_1_neutral__8wekyb3d8bbwe"),
        "{e}"
    );
    assert!(
        e.contains("Windows Update is servicing the machine (TiWorker running)"),
        "{e}"
    );
    assert_eq!(r.calls().len(), 2, "only the probe ran: {:#?}", r.calls());
    // ignoring two checks and removing the AppX packages lets it through, with warnings
    let r = run(
        json!({ "readiness": { "ignore": ["pending-reboot", "windows-update"], "remove_blocking_appx": true } }),
        probe_lines("20348", &["v2"], &extra),
        ok_run(&[]),
    )
    .await;
    r.result.as_ref().unwrap_or_else(|e| panic!("{e}"));
    let Call::Upload { bytes, .. } = &r.calls()[2] else {
        panic!()
    };
    let script = String::from_utf8_lossy(bytes);
    assert!(script.contains("Remove-AppxPackage -Package 'Microsoft.MicrosoftEdge.Stable_1_neutral__8wekyb3d8bbwe' -AllUsers"));
    assert_eq!(
        r.ui()
            .iter()
            .filter(|(_, t)| t.contains("(ignored: readiness.ignore)"))
            .count(),
        2
    );
}

#[tokio::test]
async fn two_agents_starting_at_boot_or_a_wrong_agent_are_refused() {
    let r = run(
        json!({}),
        probe_lines("9600", &["ec2config", "v2"], &[]),
        ok_run(&[]),
    )
    .await;
    let e = r.error();
    assert!(
        e.contains("ec2config would also act at the first boot of the image"),
        "{e}"
    );
    assert_eq!(r.calls().len(), 2);
    let r = run(
        json!({ "agent": "ec2launch-v1" }),
        probe_lines("20348", &["v2"], &[]),
        ok_run(&[]),
    )
    .await;
    assert!(r.error().contains("agent = \"ec2launch-v1\" but it is not installed on the machine (found: ec2launch-v2 2.0.2107)"), "{}", r.error());
    assert_eq!(r.calls().len(), 2);
}

#[tokio::test]
async fn ec2config_shuts_down_and_a_dropped_connection_is_success() {
    let answer = RunAnswer {
        lines: vec![
            tag(&["step", "BundleConfig.xml: SetPasswordAfterSysprep Yes"]),
            tag(&["shutting-down"]),
            tag(&["step", "Ec2Config.exe -sysprep"]),
        ],
        exit: None,
    };
    let r = run(
        json!({ "answer_file": { "computer_name": "WEB-01" } }),
        probe_lines("9600", &["ec2config"], &[]),
        answer,
    )
    .await;
    r.result
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}\n{}", r.ui_text()));
    let calls = r.calls();
    assert_eq!(calls.len(), 5);
    let Call::Upload { path, bytes } = &calls[2] else {
        panic!()
    };
    assert_eq!(
        path,
        "C:/Program Files/Amazon/Ec2ConfigService/sysprep2008.xml"
    );
    assert!(String::from_utf8_lossy(bytes).contains("<ComputerName>WEB-01</ComputerName>"));
    let Call::Upload { bytes, .. } = &calls[3] else {
        panic!()
    };
    assert!(String::from_utf8_lossy(bytes).contains("-Arguments @('-sysprep')"));
    let ui = r.ui_text();
    assert!(
        ui.contains(
            "the agent shuts the instance down; the source needs disable_stop_instance = true"
        ),
        "{ui}"
    );
    assert!(
        ui.contains("sysprep started; the instance shuts itself down"),
        "{ui}"
    );
    // and without the shutting-down marker a dropped connection is a failure
    let answer = RunAnswer {
        lines: vec![tag(&["step", "Ec2Config.exe -sysprep"])],
        exit: None,
    };
    let r = run(json!({}), probe_lines("9600", &["ec2config"], &[]), answer).await;
    assert!(r.result.is_err(), "{}", r.ui_text());
}
