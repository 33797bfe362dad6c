//! The generated scripts: PowerShell parses with the tree-sitter PowerShell grammar (no Windows
//! here to run it), and both languages match reviewed golden files for one control of every kind.
//! Regenerate goldens with `UPDATE_EXPECT=1 cargo test -p amiforge-profile --test scripts`.

use std::collections::BTreeMap;

use amiforge_profile::compile::compile;
use amiforge_profile::load::{Source, parse};
use amiforge_profile::testutil::powershell_errors as ps_errors;
use amiforge_profile::{Mode, builtin, resolve};
use expect_test::expect_file;

#[test]
fn windows_baseline_script_parses_as_powershell() {
    let w = builtin("windows-baseline").unwrap();
    let mut params = BTreeMap::new();
    params.insert("uac_remote_restrictions".to_string(), "true".to_string());
    for mode in [Mode::Enforce, Mode::Audit] {
        let r = resolve(&w, mode, &["win-035".to_string()], &params).unwrap();
        let text = compile(&r).text;
        assert!(text.len() > 5000);
        let errs = ps_errors(&text);
        assert!(errs.is_empty(), "{mode:?}: {errs:#?}");
        // every control appears once, as a call or a skip
        for p in &r.controls {
            assert_eq!(
                text.matches(&format!("'{}' ", p.control.id)).count(),
                1,
                "{}",
                p.control.id
            );
        }
    }
}

#[test]
fn the_parse_check_catches_broken_powershell() {
    assert!(!ps_errors("function F { if ($x { 'unclosed' }\n").is_empty());
    assert!(ps_errors("function F { if ($x) { 'ok' } }\n").is_empty());
}

/// The control lines only (the runtime is reviewed as its own file).
fn calls(text: &str, marker: &str) -> String {
    let start = text.find(marker).unwrap_or(0);
    text[start..].to_string()
}

const WINDOWS_KINDS: &str = r#"[profile]
name = "kinds"
version = "1.0.0"
os = "windows"

[parameters.len]
type = "int"
default = 14

[[control]]
id = "reg"
title = "registry"
severity = "high"
rationale = "r"
check = { kind = "registry", path = "HKLM:\\SOFTWARE\\It's", name = "V", type = "dword", value = "1" }

[[control]]
id = "audit"
title = "audit"
severity = "low"
rationale = "r"
check = { kind = "audit_policy", subcategory = "Logon", setting = "success_and_failure" }

[[control]]
id = "svc"
title = "service"
severity = "low"
rationale = "r"
check = { kind = "windows_service", name = "Spooler", start = "disabled" }

[[control]]
id = "feat"
title = "feature"
severity = "low"
rationale = "r"
check = { kind = "windows_feature", name = "PowerShell-V2", present = false }

[[control]]
id = "opt"
title = "optional"
severity = "low"
rationale = "r"
check = { kind = "optional_feature", name = "SMB1Protocol", enabled = false }

[[control]]
id = "pol"
title = "policy"
severity = "low"
rationale = "r"
check = { kind = "security_policy", key = "MinimumPasswordLength", value = "{{len}}", compare = "ge" }
"#;

#[test]
fn windows_kinds_golden() {
    let l = parse(Source::File("kinds.toml".into()), WINDOWS_KINDS.to_string()).unwrap();
    let r = resolve(&l, Mode::Enforce, &[], &BTreeMap::new()).unwrap();
    let text = compile(&r).text;
    assert!(ps_errors(&text).is_empty(), "{:?}", ps_errors(&text));
    expect_file!["golden/windows-kinds.ps1"].assert_eq(&calls(&text, "$AF_MODE ="));
}

const LINUX_KINDS: &str = r#"[profile]
name = "kinds"
version = "1.0.0"
os = "linux"

[[control]]
id = "sshd"
title = "sshd"
severity = "high"
rationale = "r"
check = { kind = "sshd_config", key = "PermitRootLogin", value = "no" }

[[control]]
id = "sysctl"
title = "sysctl"
severity = "low"
rationale = "r"
platforms = ["debian", "rhel"]
check = { kind = "sysctl", key = "net.ipv4.ip_forward", value = "0" }

[[control]]
id = "cfg"
title = "config"
severity = "low"
rationale = "r"
check = { kind = "config_value", path = "/etc/login.defs", key = "PASS_MAX_DAYS", value = "365", compare = "le" }

[[control]]
id = "mode"
title = "mode"
severity = "low"
rationale = "r"
check = { kind = "file_mode", path = "/etc/ssh/ssh_host_*_key", mode = "0600", owner = "root", groups = ["root", "ssh_keys"] }

[[control]]
id = "absent"
title = "absent"
severity = "low"
rationale = "r"
check = { kind = "file_absent", paths = ["/root/.rhosts", "/home/*/.netrc"] }

[[control]]
id = "line"
title = "line"
severity = "low"
rationale = "r"
check = { kind = "line_present", path = "/etc/issue.net", line = "It's authorized use only" }

[[control]]
id = "svc"
title = "service"
severity = "low"
rationale = "r"
check = { kind = "service_disabled", service = "cups", mask = true }

[[control]]
id = "on"
title = "enabled"
severity = "low"
rationale = "r"
check = { kind = "service_enabled", service = "auditd" }

[[control]]
id = "pkg-absent"
title = "absent pkg"
severity = "low"
rationale = "r"
check = { kind = "package_absent", packages = ["telnetd", "telnet-server"] }

[[control]]
id = "pkg-present"
title = "present pkg"
severity = "low"
rationale = "r"
check = { kind = "package_present", packages = ["auditd", "audit"] }

[[control]]
id = "mod"
title = "module"
severity = "low"
rationale = "r"
check = { kind = "kernel_module", module = "cramfs" }

[[control]]
id = "mnt"
title = "mount"
severity = "low"
rationale = "r"
check = { kind = "mount_option", mountpoint = "/dev/shm", options = ["nodev", "nosuid"] }

[[control]]
id = "rule"
title = "audit rule"
severity = "low"
rationale = "r"
check = { kind = "audit_rule", rule = "-w /etc/passwd -p wa -k identity" }

[[control]]
id = "cmd"
title = "command"
severity = "low"
rationale = "r"
check = { kind = "command", check = "test ! -e /etc/hosts.equiv" }

[[control]]
id = "interval"
title = "sshd range"
severity = "low"
rationale = "r"
check = { kind = "sshd_config", key = "ClientAliveInterval", value = "1..300", compare = "range" }

[[control]]
id = "kex"
title = "sshd algorithms"
severity = "low"
rationale = "r"
check = { kind = "sshd_algorithms", key = "KexAlgorithms", allow = ["mlkem*", "curve25519-sha256*"], keep = ["mlkem*"] }

[[control]]
id = "faillock"
title = "pam module"
severity = "low"
rationale = "r"

[control.check]
kind = "pam_module"
module = "pam_faillock"
types = ["auth", "account"]
authselect_feature = "with-faillock"
pam_auth_update = ["unix"]

[[control.check.pam_configs]]
name = "t-faillock"
text = """
Name: it's a test
Auth:
	requisite	pam_faillock.so preauth"""

[[control]]
id = "deny"
title = "needs"
severity = "low"
rationale = "r"
needs = ["faillock", "interval"]
check = { kind = "config_value", path = "/etc/security/faillock.conf", key = "deny", value = "1..5", separator = "equals", compare = "range" }

[[control]]
id = "umask"
title = "login umask"
severity = "low"
rationale = "r"
check = { kind = "login_umask", value = "027" }
"#;

#[test]
fn linux_kinds_golden() {
    let l = parse(Source::File("kinds.toml".into()), LINUX_KINDS.to_string()).unwrap();
    let r = resolve(&l, Mode::Enforce, &["cmd".to_string()], &BTreeMap::new()).unwrap();
    expect_file!["golden/linux-kinds.sh"].assert_eq(&calls(&compile(&r).text, "\nAF_MODE="));
}

/// The sh runtime alone (what precedes the control lines of any compiled Linux profile).
fn sh_runtime() -> String {
    let l = parse(Source::File("kinds.toml".into()), LINUX_KINDS.to_string()).unwrap();
    let r = resolve(&l, Mode::Audit, &[], &BTreeMap::new()).unwrap();
    let text = compile(&r).text;
    text[..text.find("\nAF_MODE=").unwrap()].to_string()
}

/// `needs` on the runtime itself, in every shell here: a control whose own check passes fails
/// when a control it needs failed, is "not verifiable" when that one does not apply, and keeps
/// its outcome when that one holds; outcomes that do not hold are never upgraded.
#[test]
fn needs_decide_whether_a_holding_outcome_counts() {
    let script = format!(
        "{}\nAF_MODE=audit\n\
         ok() {{ AF_VALUE=seen; return 0; }}\nbad() {{ return 1; }}\nna() {{ return 2; }}\nboot() {{ return 3; }}\n\
         af_control held ok -\naf_control broken bad -\naf_control absent na -\n\
         AF_NEEDS='held'; af_control after-held ok -; AF_NEEDS=\n\
         AF_NEEDS='held broken'; af_control after-broken ok -; AF_NEEDS=\n\
         AF_NEEDS='absent'; af_control after-absent boot -; AF_NEEDS=\n\
         AF_NEEDS='absent broken'; af_control worst-wins ok -; AF_NEEDS=\n\
         AF_NEEDS='broken'; af_control own-failure bad -; AF_NEEDS=\n\
         AF_NEEDS='nothing-ran'; af_control unknown ok -; AF_NEEDS=\n",
        sh_runtime()
    );
    for shell in ["sh", "dash", "bash"] {
        let Ok(out) = std::process::Command::new(shell)
            .args(["-c", &script])
            .output()
        else {
            continue;
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        let status = |id: &str| -> (String, String) {
            let line = stdout
                .lines()
                .find(|l| l.contains(&format!("\"id\":\"{id}\"")))
                .unwrap_or_else(|| panic!("{shell}: no result for {id}:\n{stdout}"));
            let v: serde_json::Value =
                serde_json::from_str(line.trim_start_matches("AMIFORGE-RESULT ")).unwrap();
            (
                v["status"].as_str().unwrap().to_string(),
                v["detail"].as_str().unwrap().to_string(),
            )
        };
        assert_eq!(status("after-held").0, "pass", "{shell}");
        let (s, d) = status("after-broken");
        assert_eq!(s, "failed", "{shell}");
        assert!(
            d.contains("without effect: broken is failed"),
            "{shell}: {d}"
        );
        let (s, d) = status("after-absent");
        assert_eq!(s, "not_verifiable", "{shell}");
        assert!(
            d.contains("depends on absent, which is not_applicable"),
            "{d}"
        );
        assert_eq!(status("worst-wins").0, "failed", "{shell}");
        assert_eq!(status("own-failure").0, "failed", "{shell}");
        let (s, d) = status("unknown");
        assert_eq!(s, "failed", "{shell}");
        assert!(d.contains("nothing-ran is not run"), "{shell}: {d}");
    }
}
