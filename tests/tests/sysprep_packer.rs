//! `amiforge-sysprep` with real Packer 1.6.6 (HCL2) over SSH to the sandboxed Debian target,
//! whose `powershell` is a stand-in shell script the test installs: it records every command line
//! and script it is given and answers the probe and the sysprep script with what the test wrote
//! (there is no Windows here). This proves the plugin side end to end — config through Packer,
//! the probe, the decision, the answer-file upload to the agent's path, the sysprep script, the
//! streamed output, the failure evidence and that the sensitive admin password appears nowhere
//! (Packer's output and debug log, the target's files). Sysprep, the agents and the PowerShell
//! itself cannot run here; the scripts are parse- and golden-tested in the plugin crate.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use amiforge_e2e::amiforge_bin;
use amiforge_e2e::packer::Workdir;
use amiforge_e2e::sandbox::Sandbox;

const PASSWORD: &str = "E2e-Sensitive-Passw0rd";

/// The stand-in for powershell.exe: logs the command line, keeps a copy of the script, answers
/// from /var/tmp/{probe,run}-answer and exits with /var/tmp/run-exit.
const SHIM: &str = r##"#!/bin/sh
echo "powershell $*" >>/var/tmp/powershell.log
file=""
while [ $# -gt 0 ]; do
  if [ "$1" = "-File" ]; then file="$2"; shift; fi
  shift
done
path="$HOME/$file"
if [ ! -f "$path" ]; then echo "no such script: $file" >&2; exit 2; fi
first=$(head -n 1 "$path")
cp "$path" "/var/tmp/recorded-$(basename "$file")"
rm -f "$path" # the real scripts delete themselves
case "$first" in
  "# amiforge-sysprep probe"*)
    cat /var/tmp/probe-answer
    # asked for the agents' answer files: report EC2Launch v2's, as the real probe does
    agent_file="$HOME/C:/ProgramData/Amazon/EC2Launch/sysprep/unattend.xml"
    if grep -q "Out-Tag 'answer-file'" "/var/tmp/recorded-$(basename "$file")" && [ -f "$agent_file" ]; then
      printf 'AMIFORGE-SYSPREP\tanswer-file\tec2launch-v2\t%s\n' "$(base64 -w0 "$agent_file")"
    fi
    exit 0 ;;
  "# amiforge-sysprep run"*) cat /var/tmp/run-answer; exit "$(cat /var/tmp/run-exit)" ;;
esac
echo "unexpected script: $first" >&2
exit 3
"##;

fn tag(fields: &[&str]) -> String {
    format!("AMIFORGE-SYSPREP\t{}\n", fields.join("\t"))
}

fn write_as_admin(sbx: &Sandbox, inside: &str, content: &str, mode: u32) {
    let p = sbx.file(inside);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Installs the shim and the Windows-looking folders (owned by admin, under its home: scp
/// resolves `C:/…` relative to it).
fn prepare_target(sbx: &Sandbox, probe: &str, run: &str, exit: i32) {
    write_as_admin(sbx, "/usr/local/bin/powershell", SHIM, 0o755);
    write_as_admin(sbx, "/var/tmp/probe-answer", probe, 0o644);
    write_as_admin(sbx, "/var/tmp/run-answer", run, 0o644);
    write_as_admin(sbx, "/var/tmp/run-exit", &exit.to_string(), 0o644);
    std::fs::set_permissions(
        sbx.file("/var/tmp"),
        std::fs::Permissions::from_mode(0o1777),
    )
    .unwrap();
    for d in [
        "C:",
        "C:/Windows/Temp",
        "C:/ProgramData/Amazon/EC2Launch/sysprep",
    ] {
        let mut p = sbx.file("/home/admin");
        for part in d.split('/') {
            p.push(part);
            std::fs::create_dir_all(&p).unwrap();
            std::os::unix::fs::chown(&p, Some(1000), Some(1000)).unwrap();
        }
    }
}

fn probe_answer() -> String {
    [
        tag(&[
            "os",
            "17763",
            "AMD64",
            "Microsoft Windows Server 2019 Datacenter",
        ]),
        tag(&[
            "agent",
            "ec2launch-v1",
            "version=1.3.2003",
            "scripts=1",
            "service=none",
            "start=none",
            "password=Random",
        ]),
        tag(&[
            "agent",
            "ec2launch-v2",
            "version=2.0.2107",
            "exe=1",
            "service=Running",
            "start=Auto",
        ]),
        tag(&["image-state", "IMAGE_STATE_COMPLETE"]),
        tag(&["probe-done"]),
    ]
    .concat()
}

fn template(sbx: &Sandbox, sysprep: &str) -> String {
    format!(
        "variable \"admin_password\" {{\n  type      = string\n  default   = \"{PASSWORD}\"\n  sensitive = true\n}}\n\n{}\nbuild {{\n  sources = [\"source.null.sbx\"]\n  provisioner \"amiforge-sysprep\" {{\n{sysprep}\n  }}\n}}\n",
        sbx.null_source_hcl("sbx")
    )
}

fn workdir() -> Workdir {
    let w = Workdir::new();
    w.link(&amiforge_bin(), "packer-plugin-amiforge");
    w
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return hits;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if m.is_dir() {
            hits.extend(files_containing(&p, needle));
        } else if m.is_file()
            && std::fs::read(&p)
                .map(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
                .unwrap_or(false)
        {
            hits.push(p.display().to_string());
        }
    }
    hits
}

/// A small answer file standing in for the agent's (written for this test).
const AGENT_XML: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="generalize">
    <component name="Microsoft-Windows-Security-SPP" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <SkipRearm>1</SkipRearm>
    </component>
  </settings>
</unattend>
"#;

const SYSPREP: &str = r#"    admin_password = var.admin_password
    answer_file {
      computer_name        = "*"
      time_zone            = "UTC"
      locale               = "en-US"
      first_logon_commands = ["cmd /c echo hello > C:\\hello.txt"]
    }"#;

#[test]
fn packer_build_runs_the_ec2launch_v2_flow_and_the_password_never_appears() {
    let sbx = Sandbox::start();
    let run = [
        tag(&[
            "removed",
            r"C:\ProgramData\Amazon\EC2Launch\config\agent-config.yml",
            "1 occurrence(s)",
        ]),
        tag(&["scrubbed", "1"]),
        tag(&["step", "EC2Launch.exe reset --clean --block"]),
        format!("EC2Launch: echoing {PASSWORD} by mistake\n"),
        tag(&["step", "EC2Launch.exe sysprep --clean --block"]),
        "Sysprep: generalize, specialize, oobeSystem\n".to_string(),
        tag(&["done", "IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE"]),
    ]
    .concat();
    prepare_target(&sbx, &probe_answer(), &run, 0);
    // the answer file EC2Launch v2 already has: our settings merge into it
    let agent_file = "/home/admin/C:/ProgramData/Amazon/EC2Launch/sysprep/unattend.xml";
    write_as_admin(&sbx, agent_file, AGENT_XML, 0o644);
    std::os::unix::fs::chown(sbx.file(agent_file), Some(1000), Some(1000)).unwrap();
    let w = workdir();
    w.write("t.pkr.hcl", &template(&sbx, SYSPREP));
    let out = w.packer_with_env(
        &["build", "-color=false", "t.pkr.hcl"],
        &[("PACKER_LOG".into(), "1".into())],
    );
    out.assert_ok()
        .assert_contains("amiforge-sysprep: ec2launch-v2 2.0.2107 on Windows Server 2019 (build 17763) (detected)")
        .assert_contains("note: ec2launch-v1 1.3.2003 is installed too; using ec2launch-v2 (preferred)")
        .assert_contains("answer file merged into the agent's own: C:/ProgramData/Amazon/EC2Launch/sysprep/unattend.xml")
        .assert_contains("> EC2Launch.exe sysprep --clean --block")
        .assert_contains("| Sysprep: generalize, specialize, oobeSystem")
        .assert_contains("removed: C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml (1 occurrence(s))")
        .assert_contains("EC2Launch: echoing <sensitive> by mistake")
        .assert_contains("amiforge-sysprep: generalised (IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE)");
    assert!(
        out.stderr.contains("[INFO] Packer version"),
        "PACKER_LOG=1 is on, so the debug log is checked too"
    );
    assert!(
        !out.combined().contains(PASSWORD),
        "the password is in Packer's output or debug log"
    );
    // exactly two PowerShell runs: the probe, then the sysprep script
    let log = std::fs::read_to_string(sbx.file("/var/tmp/powershell.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[0].starts_with("powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File C:/Windows/Temp/amiforge-sysprep-probe-"), "{log}");
    assert!(lines[1].starts_with("powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File C:/Windows/Temp/amiforge-sysprep-run-"), "{log}");
    let recorded = |prefix: &str| {
        let dir = sbx.file("/var/tmp");
        let name = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}*"));
        std::fs::read_to_string(dir.join(name)).unwrap()
    };
    let script = recorded("recorded-amiforge-sysprep-run-");
    assert!(
        script
            .contains("Invoke-Agent -Exe $ec2launch -Arguments @('sysprep', '--clean', '--block')")
    );
    assert!(script.contains("$Forms = @("));
    assert!(recorded("recorded-amiforge-sysprep-probe-").contains("Out-Tag 'probe-done'"));
    // the answer file landed where EC2Launch v2 reads it
    let xml = std::fs::read_to_string(
        sbx.file("/home/admin/C:/ProgramData/Amazon/EC2Launch/sysprep/unattend.xml"),
    )
    .unwrap();
    assert!(xml.contains("<settings pass=\"oobeSystem\">"), "{xml}");
    assert!(
        xml.contains("<SkipRearm>1</SkipRearm>"),
        "the agent's own setting stays: {xml}"
    );
    assert!(xml.contains("<ComputerName>*</ComputerName>"));
    assert!(
        xml.contains("<CommandLine>cmd /c echo hello &gt; C:\\hello.txt</CommandLine>"),
        "{xml}"
    );
    // nothing on the target holds the password (apart from the test's own canned agent output,
    // removed first), and the scripts are gone from C:/Windows/Temp
    std::fs::remove_file(sbx.file("/var/tmp/run-answer")).unwrap();
    assert_eq!(
        files_containing(&sbx.upper(), PASSWORD),
        Vec::<String>::new()
    );
    let temp: Vec<_> = std::fs::read_dir(sbx.file("/home/admin/C:/Windows/Temp"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(temp.is_empty(), "{temp:?}");
}

#[test]
fn a_failing_sysprep_fails_the_build_with_the_agents_message_and_evidence() {
    let sbx = Sandbox::start();
    let setuperr = r"C:\Windows\System32\Sysprep\Panther\setuperr.log";
    let run = [
        tag(&["step", "EC2Launch.exe sysprep --clean --block"]),
        tag(&["failed", "sysprep reported: 2026-11-27 05:00:00, Error SYSPRP Package Microsoft.MicrosoftEdge.Stable_1 was installed for a user, but not provisioned for all users"]),
        tag(&["evidence", setuperr, "2026-11-27 05:00:00, Error SYSPRP Package Microsoft.MicrosoftEdge.Stable_1 was installed for a user, but not provisioned for all users"]),
        tag(&["evidence", setuperr, &format!("2026-11-27 05:00:01, Error while using {PASSWORD}")]),
        tag(&["evidence", "ImageState", "IMAGE_STATE_COMPLETE"]),
    ]
    .concat();
    prepare_target(&sbx, &probe_answer(), &run, 1);
    let w = workdir();
    w.write(
        "t.pkr.hcl",
        &template(
            &sbx,
            "    admin_password = var.admin_password\n    evidence_path  = \"out/evidence.log\"",
        ),
    );
    let out = w.packer(&["build", "-color=false", "t.pkr.hcl"]);
    out.assert_failed()
        .assert_contains("amiforge-sysprep: ec2launch-v2 failed: sysprep reported: 2026-11-27 05:00:00, Error SYSPRP Package Microsoft.MicrosoftEdge.Stable_1")
        .assert_contains("evidence in out/evidence.log")
        .assert_contains("setuperr.log: 2026-11-27 05:00:01, Error while using <sensitive>");
    assert!(!out.combined().contains(PASSWORD));
    let ev = std::fs::read_to_string(w.path().join("out/evidence.log")).unwrap();
    assert!(ev.contains("agent: ec2launch-v2"), "{ev}");
    assert!(ev.contains(&format!("== {setuperr}")), "{ev}");
    assert!(ev.contains("Error while using <sensitive>"), "{ev}");
    assert!(!ev.contains(PASSWORD));
}

#[test]
fn bad_input_fails_validate_naming_the_attribute() {
    let sbx = Sandbox::start();
    let w = workdir();
    let cases: &[(&str, &str)] = &[
        (
            "    agent = \"ec2launch-v3\"",
            "agent: \"ec2launch-v3\" is not an agent",
        ),
        (
            "    agent = \"ec2config\"\n    windows_release = \"2022\"",
            "agent: ec2config does not run on Windows Server 2022",
        ),
        (
            "    agent = \"ec2config\"\n    shutdown = false",
            "shutdown: ec2config's -sysprep always shuts the instance down",
        ),
        (
            "    answer_file {\n      computer_name = \"web_server_01\"\n    }",
            "answer_file.computer_name: \"web_server_01\" contains '_'",
        ),
        (
            "    answer_file {\n      time_zone = \"Europe/Berlin\"\n    }",
            "answer_file.time_zone: \"Europe/Berlin\" looks like an IANA name",
        ),
        (
            "    readiness {\n      ignore = [\"appx\"]\n      remove_blocking_appx = true\n    }",
            "readiness.remove_blocking_appx: conflicts with ignore = [\"appx\"]",
        ),
        (
            "    readiness {\n      ignore = [\"agent\"]\n    }",
            "readiness.ignore[0]: \"agent\" cannot be ignored",
        ),
        ("    agnet = \"auto\"", "agnet"),
    ];
    for (attr, want) in cases {
        w.write("t.pkr.hcl", &template(&sbx, attr));
        w.packer(&["validate", "t.pkr.hcl"])
            .assert_failed()
            .assert_contains(want);
    }
    w.write("t.pkr.hcl", &template(&sbx, SYSPREP));
    w.packer(&["validate", "t.pkr.hcl"]).assert_ok();
}

#[test]
fn the_windows_examples_validate() {
    // hcl-examples/windows-*: Windows builds that cannot run here, but must stay valid
    for (dir, file) in [
        ("windows-2022", "windows-2022.pkr.hcl"),
        ("windows-2012r2", "windows-2012r2.pkr.hcl"),
    ] {
        let w = workdir();
        let src = amiforge_e2e::workspace()
            .join("hcl-examples")
            .join(dir)
            .join(file);
        std::fs::copy(&src, w.path().join(file)).unwrap();
        w.packer(&["validate", "-var", "admin_password=Validate-0nly-Pw", file])
            .assert_ok();
        // and a broken copy is caught, naming the attribute
        let text = std::fs::read_to_string(&src)
            .unwrap()
            .replace("computer_name = \"*\"", "computer_name = \"not a name\"")
            .replace(
                "computer_name        = \"*\"",
                "computer_name = \"not a name\"",
            );
        w.write(file, &text);
        w.packer(&["validate", "-var", "admin_password=Validate-0nly-Pw", file])
            .assert_failed()
            .assert_contains("answer_file.computer_name: \"not a name\" contains ' '");
    }
}
