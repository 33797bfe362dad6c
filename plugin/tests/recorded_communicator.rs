//! `amiforge-harden` driven through the real plugin stack by the SDK's fake Packer
//! (`packer_sdk::testutil`), which records every Communicator call while [`Machine`] plays the
//! target (it answers with the result lines the compiled
//! script prints). Pins the exact command sequence and round trips per OS: Linux = upload +
//! one command with the evidence on stdin; Windows = upload + one PowerShell command + one
//! evidence upload while it waits. (No Windows machine here: this is how the Windows flow is
//! proven; the PowerShell itself is parse- and golden-tested in amiforge-profile.)

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use amiforge_profile::{Mode, Status};
use packer_sdk::invocation::Kind;
use packer_sdk::testutil::{
    Call, Callbacks, CommandIo, FakePacker, RecordingUi, Target, build_variables,
};

/// The machine behind Packer's Communicator: answers the uploaded script with scripted lines
/// and takes the evidence (stdin archive or uploaded document).
struct Machine {
    /// What the target prints for the uploaded script (all lines but the evidence handshake).
    lines: Vec<String>,
    windows: bool,
    /// Whether the script waits for evidence (enforce mode).
    enforce: bool,
    /// Evidence the target received (stdin archive or uploaded document).
    evidence: Mutex<Option<Vec<u8>>>,
    uploaded: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl Target for Machine {
    async fn run(&self, _command: &str, io: &mut CommandIo) -> Option<i64> {
        for l in &self.lines {
            io.print(&format!("{l}\n")).await.unwrap();
        }
        if self.enforce {
            if self.windows {
                io.print(
                    "AMIFORGE-AWAIT-EVIDENCE C:\\Windows\\Temp\\amiforge-evidence-1234.json\n",
                )
                .await
                .unwrap();
                tokio::time::timeout(Duration::from_secs(10), self.uploaded.notified())
                    .await
                    .expect("evidence upload");
            } else {
                io.print("AMIFORGE-AWAIT-EVIDENCE\n").await.unwrap();
                *self.evidence.lock().unwrap() = Some(io.read_stdin().await.unwrap());
            }
        }
        io.print("AMIFORGE-DONE\n").await.unwrap();
        Some(0)
    }

    async fn uploaded(&self, path: &str, bytes: &[u8]) {
        if path.contains("amiforge-evidence-") {
            *self.evidence.lock().unwrap() = Some(bytes.to_vec());
            self.uploaded.notify_one();
        }
    }
}

/// One provisioning run: what the machine got and what Packer's side recorded.
struct Run {
    machine: Arc<Machine>,
    packer_side: Arc<Callbacks>,
}

impl Run {
    fn calls(&self) -> Vec<Call> {
        self.packer_side.communicator().unwrap().calls()
    }
    fn evidence(&self) -> Option<Vec<u8>> {
        self.machine.evidence.lock().unwrap().clone()
    }
}

/// What the target prints: facts, one result per control (compliant), two packages.
fn target_lines(profile: &str, mode: Mode, windows: bool) -> Vec<String> {
    let loaded = amiforge_profile::load(profile).unwrap();
    let r = amiforge_profile::resolve(&loaded, mode, &[], &BTreeMap::new()).unwrap();
    let mut v = Vec::new();
    v.push(if windows {
        r#"AMIFORGE-FACTS {"os_id":"windows","os_like":"","os_version":"10.0.20348","kernel":"20348","arch":"AMD64","init":"windows","proc_sys":"rw"}"#.to_string()
    } else {
        r#"AMIFORGE-FACTS {"os_id":"debian","os_like":"","os_version":"12","kernel":"6.1.0","arch":"x86_64","init":"systemd","proc_sys":"rw"}"#.to_string()
    });
    for p in &r.controls {
        let status = if p.skip.is_some() {
            "not_applicable"
        } else {
            "pass"
        };
        v.push(format!(
            r#"AMIFORGE-RESULT {{"id":"{}","status":"{status}","changed":false,"before":"x","after":"x","detail":""}}"#,
            p.control.id
        ));
    }
    let eco = if windows { "windows" } else { "deb" };
    v.push(format!("AMIFORGE-PKG {eco}\tpkg-one\t1.0\tamd64"));
    v.push(format!("AMIFORGE-PKG {eco}\tpkg-two\t2.0\tamd64"));
    v
}

async fn run(
    profile: &str,
    mode: &str,
    user: &str,
    windows: bool,
    report: &std::path::Path,
) -> (Run, Result<rmpv::Value, packer_sdk::rpc::RpcError>) {
    let m = if mode == "audit" {
        Mode::Audit
    } else {
        Mode::Enforce
    };
    let config = rmpv::Value::Map(vec![
        ("profile".into(), profile.into()),
        ("mode".into(), mode.into()),
        (
            "report_path".into(),
            report.to_string_lossy().into_owned().into(),
        ),
    ]);
    let packer = FakePacker::start(&amiforge_plugin::plugin(), Kind::Provisioner, "harden");
    packer
        .prepare(vec![config, build_variables("b", "amazon-ebs")])
        .await
        .unwrap();
    let machine = Arc::new(Machine {
        lines: target_lines(profile, m, windows),
        windows,
        enforce: m == Mode::Enforce,
        evidence: Mutex::new(None),
        uploaded: tokio::sync::Notify::new(),
    });
    let packer_side = Arc::new(Callbacks::provisioner(
        RecordingUi::new(),
        packer.communicator(machine.clone()),
    ));
    let generated = rmpv::Value::Map(vec![
        ("User".into(), user.into()),
        ("ID".into(), "i-0abc".into()),
    ]);
    let r = packer.provision(packer_side.clone(), generated).await;
    (
        Run {
            machine,
            packer_side,
        },
        r,
    )
}

fn script_of(profile: &str, mode: Mode) -> amiforge_profile::compile::Script {
    let loaded = amiforge_profile::load(profile).unwrap();
    let r = amiforge_profile::resolve(&loaded, mode, &[], &BTreeMap::new()).unwrap();
    amiforge_profile::compile::compile(&r)
}

#[tokio::test]
async fn linux_enforce_is_one_upload_and_one_command_with_evidence_on_stdin() {
    let d = tempfile::tempdir().unwrap();
    let report = d.path().join("r.json");
    let (t, r) = run("linux-baseline", "enforce", "admin", false, &report).await;
    r.unwrap();
    let script = script_of("linux-baseline", Mode::Enforce);
    let path = format!("/tmp/amiforge-harden-{}.sh", &script.sha256[..16]);
    let calls = t.calls();
    assert_eq!(
        calls,
        vec![
            Call::Upload {
                path: path.clone(),
                mode: 0o600,
                bytes: script.text.into_bytes()
            },
            Call::Start {
                command: format!("sudo -n sh '{path}'"),
                with_stdin: true
            },
        ],
        "exactly two round trips"
    );
    // the stdin archive holds the very report written on the host
    let archive = t.evidence().expect("evidence on stdin");
    let mut a = tar::Archive::new(archive.as_slice());
    let mut files = BTreeMap::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut b = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut b).unwrap();
        files.insert(name, b);
    }
    assert_eq!(files["hardening.json"], std::fs::read(&report).unwrap());
    assert_eq!(
        files["sbom.cdx.json"],
        std::fs::read(d.path().join("r.sbom.cdx.json")).unwrap()
    );
    let rep: amiforge_profile::report::Report =
        serde_json::from_slice(&files["hardening.json"]).unwrap();
    assert_eq!(rep.summary.failed, 0);
    assert_eq!(rep.sbom.components, 2);
    assert!(
        t.packer_side
            .recorded_ui()
            .texts()
            .iter()
            .any(|l| l.contains("amiforge-harden: report"))
    );
}

#[tokio::test]
async fn root_user_runs_without_sudo_and_audit_sends_no_evidence() {
    let d = tempfile::tempdir().unwrap();
    let (t, r) = run(
        "linux-baseline",
        "audit",
        "root",
        false,
        &d.path().join("r.json"),
    )
    .await;
    r.unwrap();
    let calls = t.calls();
    assert_eq!(calls.len(), 2);
    match &calls[1] {
        Call::Start {
            command,
            with_stdin,
        } => {
            assert!(
                command.starts_with("sh '/tmp/amiforge-harden-"),
                "{command}"
            );
            assert!(!with_stdin, "audit mode opens no stdin");
        }
        other => panic!("{other:?}"),
    }
    assert!(t.evidence().is_none());
}

#[tokio::test]
async fn windows_enforce_is_upload_command_and_one_evidence_upload() {
    let d = tempfile::tempdir().unwrap();
    let report = d.path().join("w.json");
    let (t, r) = run(
        "windows-baseline",
        "enforce",
        "Administrator",
        true,
        &report,
    )
    .await;
    r.unwrap();
    let script = script_of("windows-baseline", Mode::Enforce);
    let path = format!(
        "C:/Windows/Temp/amiforge-harden-{}.ps1",
        &script.sha256[..16]
    );
    let calls = t.calls();
    assert_eq!(calls.len(), 3, "exactly three round trips: {calls:#?}");
    assert_eq!(
        calls[0],
        Call::Upload {
            path: path.clone(),
            mode: 0o600,
            bytes: script.text.into_bytes()
        }
    );
    assert_eq!(
        calls[1],
        Call::Start {
            command: format!(
                "powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File \"{path}\""
            ),
            with_stdin: false
        }
    );
    let Call::Upload {
        path: evidence_path,
        bytes,
        ..
    } = &calls[2]
    else {
        panic!("{:?}", calls[2])
    };
    assert_eq!(evidence_path, "C:/Windows/Temp/amiforge-evidence-1234.json");
    let doc: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    assert_eq!(doc["complete"], true);
    use base64::Engine;
    let rep = base64::engine::general_purpose::STANDARD
        .decode(doc["hardening.json"].as_str().unwrap())
        .unwrap();
    assert_eq!(rep, std::fs::read(&report).unwrap());
    let parsed: amiforge_profile::report::Report = serde_json::from_slice(&rep).unwrap();
    assert_eq!(parsed.target.os_id, "windows");
    assert!(
        parsed
            .results
            .iter()
            .all(|r| matches!(r.status, Status::Pass | Status::NotApplicable))
    );
}
