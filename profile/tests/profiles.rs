//! Built-in profiles load and are big enough; bad profiles and bad user input are refused with
//! the field named; the generated sh parses in dash and bash.

use std::collections::BTreeMap;

use amiforge_profile::compile::{Language, compile};
use amiforge_profile::load::{LoadError, Source, parse};
use amiforge_profile::{Mode, Os, builtin, builtin_names, load, resolve};

#[test]
fn builtin_profiles_load_with_enough_controls() {
    assert_eq!(builtin_names(), ["linux-baseline", "windows-baseline"]);
    let linux = builtin("linux-baseline").expect("linux-baseline is valid");
    assert_eq!(linux.profile.profile.os, Os::Linux);
    assert!(
        linux.profile.controls.len() >= 60,
        "{}",
        linux.profile.controls.len()
    );
    let windows = builtin("windows-baseline").expect("windows-baseline is valid");
    assert_eq!(windows.profile.profile.os, Os::Windows);
    assert!(
        windows.profile.controls.len() >= 25,
        "{}",
        windows.profile.controls.len()
    );
    // every EC2 trap control is guarded and documented
    for c in linux
        .profile
        .controls
        .iter()
        .chain(&windows.profile.controls)
    {
        if c.enabled_by.is_some() || c.disabled_by.is_some() {
            assert!(
                c.ec2_note.is_some() || c.disabled_by.is_some(),
                "{} lacks ec2_note",
                c.id
            );
        }
        assert!(!c.rationale.is_empty() && !c.title.is_empty(), "{}", c.id);
    }
}

#[test]
fn the_ec2_traps_are_off_by_default() {
    let linux = builtin("linux-baseline").unwrap();
    let r = resolve(&linux, Mode::Enforce, &[], &BTreeMap::new()).unwrap();
    for id in ["mod-12", "mod-13", "mnt-03", "net-21", "ssh-06", "audit-12"] {
        let p = r.get(id).unwrap_or_else(|| panic!("{id}"));
        assert!(
            p.skip.as_deref().unwrap_or("").starts_with("opt-in"),
            "{id}: {:?}",
            p.skip
        );
    }
    assert!(r.get("net-01").unwrap().skip.is_none());
    let mut params = BTreeMap::new();
    params.insert("container_host".to_string(), "true".to_string());
    params.insert("disable_vfat".to_string(), "true".to_string());
    let r = resolve(&linux, Mode::Enforce, &[], &params).unwrap();
    assert!(
        r.get("net-01")
            .unwrap()
            .skip
            .as_deref()
            .unwrap()
            .contains("container_host")
    );
    assert!(r.get("mod-13").unwrap().skip.is_none());
}

#[test]
fn parameters_are_typed_and_substituted() {
    let linux = builtin("linux-baseline").unwrap();
    let mut params = BTreeMap::new();
    params.insert("ssh_max_auth_tries".to_string(), "3".to_string());
    let r = resolve(&linux, Mode::Audit, &[], &params).unwrap();
    let text = compile(&r).text;
    assert!(text.contains("af_control 'ssh-04' af_sshd_check af_sshd_fix 'MaxAuthTries' '3'"));
    // a count is never negative
    params.insert("ssh_max_auth_tries".to_string(), "-5".to_string());
    let errs = resolve(&linux, Mode::Audit, &[], &params).unwrap_err();
    assert_eq!(
        errs[0].to_string(),
        "parameters[\"ssh_max_auth_tries\"]: -5 is out of range: at least 0"
    );
    params.insert("ssh_max_auth_tries".to_string(), "three".to_string());
    params.insert("no_such".to_string(), "x".to_string());
    let errs = resolve(&linux, Mode::Audit, &["ssh-1".to_string()], &params).unwrap_err();
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter()
            .any(|e| e.starts_with("parameters[\"ssh_max_auth_tries\"]: expected a int")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|e| e
                .starts_with("parameters[\"no_such\"]: profile linux-baseline has no parameter")),
        "{text:?}"
    );
    assert!(
        text.iter().any(|e| e.starts_with(
            "exclude[0]: profile linux-baseline has no control \"ssh-1\"; did you mean"
        )),
        "{text:?}"
    );
}

fn bad(text: &str) -> String {
    match parse(Source::File("bad.toml".into()), text.to_string()) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted:\n{text}"),
    }
}

const HEAD: &str = "[profile]\nname = \"t\"\nversion = \"1\"\nos = \"linux\"\n";

#[test]
fn malformed_profiles_name_the_problem() {
    let e = bad(&format!(
        "{HEAD}[[control]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"high\"\nrationale = \"r\"\ncheck = {{ kind = \"sysctl\", key = \"k\", value = \"1\", typo = 2 }}\n"
    ));
    assert!(e.contains("bad.toml") && e.contains("typo"), "{e}");
    let e = bad(&format!(
        "{HEAD}[[control]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"urgent\"\nrationale = \"r\"\ncheck = {{ kind = \"sysctl\", key = \"k\", value = \"1\" }}\n"
    ));
    assert!(e.contains("urgent"), "{e}");
    let e = bad(&format!(
        "{HEAD}[[control]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"high\"\nrationale = \"r\"\ncheck = {{ kind = \"teleport\" }}\n"
    ));
    assert!(e.contains("teleport"), "{e}");
    let two = "[[control]]\nid = \"a\"\ntitle = \"t\"\nseverity = \"high\"\nrationale = \"r\"\ncheck = { kind = \"sysctl\", key = \"k\", value = \"{{nope}}\" }\n";
    let e = bad(&format!("{HEAD}{two}{two}"));
    assert!(e.contains("control[1] (id \"a\").id: duplicate id"), "{e}");
    assert!(e.contains("{{nope}} names no parameter"), "{e}");
    let e = bad(&format!(
        "{HEAD}[[control]]\nid = \"w\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\ncheck = {{ kind = \"registry\", path = \"HKLM:\\\\X\", name = \"n\", type = \"dword\", value = \"1\" }}\n"
    ));
    assert!(
        e.contains("registry is a Windows check in a Linux profile"),
        "{e}"
    );
    let e = bad(&format!(
        "{HEAD}[[control]]\nid = \"m\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\ncheck = {{ kind = \"file_mode\", path = \"/x\", mode = \"rw-\" }}\n"
    ));
    assert!(e.contains("is not an octal mode"), "{e}");
}

fn control(id: &str, extra: &str, check: &str) -> String {
    format!(
        "[[control]]\nid = \"{id}\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\n{extra}check = {check}\n"
    )
}

#[test]
fn effect_checks_name_their_problems() {
    let e = bad(&format!(
        "{HEAD}{}",
        control(
            "i",
            "",
            "{ kind = \"sshd_config\", key = \"ClientAliveInterval\", value = \"300..1\", compare = \"range\" }"
        )
    ));
    assert!(
        e.contains("check.value: \"300..1\" is not a range like \"1..300\""),
        "{e}"
    );
    let e = bad(&format!(
        "{HEAD}{}",
        control(
            "k",
            "",
            "{ kind = \"sshd_algorithms\", key = \"HostKeyAlgorithms\", allow = [] }"
        )
    ));
    assert!(
        e.contains("check.key: \"HostKeyAlgorithms\" is not an algorithm list"),
        "{e}"
    );
    assert!(e.contains("check.allow: name at least one"), "{e}");
    let e = bad(&format!(
        "{HEAD}{}",
        control(
            "p",
            "",
            "{ kind = \"pam_module\", module = \"pam faillock\", types = [\"login\"], pam_configs = [{ name = \"../x\", text = \"t\" }] }"
        )
    ));
    assert!(
        e.contains("check.module: \"pam faillock\" is not a PAM module name"),
        "{e}"
    );
    assert!(
        e.contains("check.types: \"login\" is not auth, account, password or session"),
        "{e}"
    );
    assert!(
        e.contains("check.pam_configs[0].name: \"../x\" must be a file name"),
        "{e}"
    );
    let e = bad(&format!(
        "{HEAD}{}",
        control("u", "", "{ kind = \"login_umask\", value = \"u=rwx\" }")
    ));
    assert!(
        e.contains("check.value: \"u=rwx\" is not an octal umask"),
        "{e}"
    );
    // needs: an earlier control of the same profile
    let sysctl = "{ kind = \"sysctl\", key = \"k\", value = \"1\" }";
    let e = bad(&format!(
        "{HEAD}{}{}",
        control("a", "needs = [\"b\"]\n", sysctl),
        control("b", "", sysctl)
    ));
    assert!(
        e.contains("control[0] (id \"a\").needs: \"b\" is not a control before this one"),
        "{e}"
    );
    // a multi-line value only in pam-configs texts
    let e = bad(&format!(
        "{HEAD}{}",
        control(
            "m",
            "",
            "{ kind = \"sysctl\", key = \"k\", value = \"1\\n2\" }"
        )
    ));
    assert!(e.contains("values must be single lines"), "{e}");
}

#[test]
fn unknown_profile_names_the_builtins() {
    match load("no-such-profile") {
        Err(LoadError::Unknown(n, list)) => {
            assert_eq!(n, "no-such-profile");
            assert!(list.contains("linux-baseline"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn user_profile_files_load_and_their_bytes_are_digested() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("mine.toml");
    let text = format!(
        "{HEAD}[[control]]\nid = \"x-1\"\ntitle = \"t\"\nseverity = \"low\"\nrationale = \"r\"\ncheck = {{ kind = \"line_present\", path = \"/etc/motd\", line = \"hi\" }}\n"
    );
    std::fs::write(&p, &text).unwrap();
    let l = load(p.to_str().unwrap()).unwrap();
    let r = resolve(&l, Mode::Enforce, &[], &BTreeMap::new()).unwrap();
    assert_eq!(
        r.profile_sha256,
        amiforge_model::sha256_hex(text.as_bytes())
    );
}

fn shells() -> Vec<&'static str> {
    ["dash", "bash", "sh"]
        .into_iter()
        .filter(|s| {
            std::process::Command::new(s)
                .arg("-c")
                .arg("true")
                .status()
                .is_ok()
        })
        .collect()
}

#[test]
fn generated_sh_parses_in_every_shell_here() {
    let linux = builtin("linux-baseline").unwrap();
    let mut params = BTreeMap::new();
    for p in [
        "disable_vfat",
        "tmp_noexec",
        "audit_immutable",
        "container_host",
    ] {
        params.insert(p.to_string(), "true".to_string());
    }
    params.insert(
        "login_banner".to_string(),
        "it's \"quoted\" $(not run) `nor this`".to_string(),
    );
    for mode in [Mode::Enforce, Mode::Audit] {
        let r = resolve(&linux, mode, &["ssh-16".to_string()], &params).unwrap();
        let s = compile(&r);
        assert_eq!(s.language, Language::Sh);
        assert!(s.text.contains("it'\\''s \"quoted\" $(not run) `nor this`"));
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("s.sh");
        std::fs::write(&f, &s.text).unwrap();
        let sh = shells();
        assert!(!sh.is_empty());
        for shell in sh {
            let out = std::process::Command::new(shell)
                .arg("-n")
                .arg(&f)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // one af_control/af_skip line per control, in profile order
        let runs = s
            .text
            .lines()
            .filter(|l| {
                // a control with `needs` or pam-configs texts sets variables before af_control
                l.trim_start().starts_with("af_control ")
                    || l.contains("; af_control '")
                    || l.trim_start().starts_with("af_skip ")
                    || l.trim_start().starts_with("if af_platform ")
            })
            .count();
        assert_eq!(runs, linux.profile.controls.len());
    }
}

#[test]
fn committed_profile_docs_are_fresh() {
    // regenerate: cargo run -p amiforge-profile --example render -- --docs NAME > docs/profiles/NAME.md
    for name in builtin_names() {
        let page = amiforge_profile::docs::markdown(&builtin(name).unwrap());
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../docs/profiles/{name}.md"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(page == committed, "{} is stale", path.display());
    }
}
