//! POSIX sh generation: the runtime (`sh_runtime.sh` + `sh_runtime_login.sh`, check/fix
//! functions per control kind) and one `af_control` line per control, all values single-quoted
//! ([`quote`], also what the validator quotes its guest commands with).

use std::fmt::Write;

use crate::model::{Check, Mode, Separator};
use crate::resolve::Resolved;

pub(super) const RUNTIME: &str = concat!(
    include_str!("sh_runtime.sh"),
    include_str!("sh_runtime_login.sh")
);

/// `s` as one single-quoted sh word (a literal: nothing in it expands).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn sep(s: Separator) -> &'static str {
    match s {
        Separator::Space => "space",
        Separator::Equals => "equals",
    }
}

/// `check fix args…` for one control.
fn call(check: &Check) -> String {
    let words = |v: &[&str]| v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(" ");
    match check {
        Check::SshdConfig {
            key,
            value,
            compare,
        } => format!(
            "af_sshd_check af_sshd_fix {}",
            words(&[key, value, compare.name()])
        ),
        Check::SshdAlgorithms { key, allow, keep } => format!(
            "af_algs_check af_algs_fix {}",
            words(&[
                key,
                crate::load::algorithm_query(key).unwrap_or("kex"),
                &allow.join(" "),
                &keep.join(" ")
            ])
        ),
        Check::PamModule {
            module,
            types,
            pam_auth_update,
            pam_configs,
            authselect_feature,
            packages,
        } => {
            let mut enable: Vec<&str> = pam_configs.iter().map(|c| c.name.as_str()).collect();
            enable.extend(pam_auth_update.iter().map(String::as_str));
            format!(
                "af_pam_check af_pam_fix {}",
                words(&[
                    module,
                    &types.join(" "),
                    &enable.join(" "),
                    authselect_feature.as_deref().unwrap_or(""),
                    &packages.join(" ")
                ])
            )
        }
        Check::LoginUmask { value, pam_configs } => {
            let enable: Vec<&str> = pam_configs.iter().map(|c| c.name.as_str()).collect();
            format!(
                "af_umask_check af_umask_fix {}",
                words(&[value, &enable.join(" ")])
            )
        }
        Check::Sysctl { key, value } => {
            format!("af_sysctl_check af_sysctl_fix {}", words(&[key, value]))
        }
        Check::ConfigValue {
            path,
            key,
            value,
            separator,
            compare,
        } => format!(
            "af_cfg_check af_cfg_fix {}",
            words(&[path, key, value, sep(*separator), compare.name()])
        ),
        Check::FileMode {
            path,
            mode,
            owner,
            groups,
        } => format!(
            "af_mode_check af_mode_fix {}",
            words(&[
                path,
                mode,
                owner.as_deref().unwrap_or(""),
                &groups.join(" ")
            ])
        ),
        Check::FileAbsent { paths } => {
            let p: Vec<&str> = paths.iter().map(String::as_str).collect();
            format!("af_absent_check af_absent_fix {}", words(&p))
        }
        Check::LinePresent { path, line, mode } => {
            format!("af_line_check af_line_fix {}", words(&[path, line, mode]))
        }
        Check::ServiceDisabled { service, mask } => format!(
            "af_svc_disabled_check af_svc_disabled_fix {}",
            words(&[service, if *mask { "true" } else { "false" }])
        ),
        Check::ServiceEnabled { service } => format!(
            "af_svc_enabled_check af_svc_enabled_fix {}",
            words(&[service])
        ),
        Check::PackageAbsent { packages } => {
            let p: Vec<&str> = packages.iter().map(String::as_str).collect();
            format!("af_pkg_absent_check af_pkg_absent_fix {}", words(&p))
        }
        Check::PackagePresent { packages } => {
            let p: Vec<&str> = packages.iter().map(String::as_str).collect();
            format!("af_pkg_present_check af_pkg_present_fix {}", words(&p))
        }
        Check::KernelModule { module } => format!("af_mod_check af_mod_fix {}", words(&[module])),
        Check::MountOption {
            mountpoint,
            options,
        } => {
            format!(
                "af_mount_check af_mount_fix {}",
                words(&[mountpoint, &options.join(",")])
            )
        }
        Check::AuditRule { rule } => format!("af_audit_check af_audit_fix {}", words(&[rule])),
        Check::Command { check, fix } => match fix {
            Some(f) => format!("af_cmd_check af_cmd_fix {}", words(&[check, f])),
            None => format!("af_cmd_check - {}", words(&[check])),
        },
        // Windows kinds never reach the sh compiler: `load` rejects them in Linux profiles.
        other => format!(
            "af_cmd_check - {}",
            quote(&format!("echo '{} needs Windows'; false", other.kind()))
        ),
    }
}

/// `AF_PAMCFG_NAME='text'; ` assignments before a control: the pam-configs profiles its PAM fix
/// writes, found by `af_pam_enable` through the names it is given.
fn pam_configs_prefix(check: &Check) -> String {
    check
        .pam_configs()
        .iter()
        .map(|c| format!("AF_PAMCFG_{}={}; ", var_suffix(&c.name), quote(&c.text)))
        .collect()
}

/// A name as the tail of a shell variable name (what `af_var` does in the runtime).
fn var_suffix(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A script that only reports the target: its facts and every installed package
/// (`AMIFORGE-FACTS`, `AMIFORGE-PKG` lines, then `AMIFORGE-DONE`), changing nothing: what the
/// validator's security scan collects on a test instance.
pub(super) fn inventory() -> String {
    let mut s = String::from("#!/bin/sh\n");
    s.push_str(&super::runtime(RUNTIME));
    s.push_str("\naf_facts\naf_inventory\nprintf 'AMIFORGE-DONE\\n'\n");
    s
}

/// The whole script.
pub(super) fn compile(r: &Resolved) -> String {
    let mode = r.mode.name();
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/sh");
    s.push_str(&super::banner(r));
    s.push_str(&super::runtime(RUNTIME));
    let _ = writeln!(s, "\nAF_MODE={mode}");
    s.push_str("af_facts\n");
    s.push_str("af_run() {\n");
    for p in &r.controls {
        let c = &p.control;
        let _ = writeln!(s, "  # {}: {}", c.id, c.title.replace('\n', " "));
        if let Some(reason) = &p.skip {
            let _ = writeln!(s, "  af_skip {} {}", quote(&c.id), quote(reason));
            continue;
        }
        let mut run = format!(
            "{}af_control {} {}",
            pam_configs_prefix(&c.check),
            quote(&c.id),
            call(&c.check)
        );
        if !c.needs.is_empty() {
            run = format!("AF_NEEDS={}; {run}; AF_NEEDS=", quote(&c.needs.join(" ")));
        }
        if c.platforms.is_empty() {
            let _ = writeln!(s, "  {run}");
        } else {
            let fams: Vec<String> = c.platforms.iter().map(|f| quote(f)).collect();
            let _ = writeln!(
                s,
                "  if af_platform {}; then {run}; else af_skip {} \"not for $AF_OS_ID (applies to: {})\"; fi",
                fams.join(" "),
                quote(&c.id),
                c.platforms.join(", ")
            );
        }
    }
    s.push_str("}\naf_run\naf_inventory\n");
    if r.mode == Mode::Enforce {
        s.push_str("af_evidence || AF_EVIDENCE_FAILED=1\n");
    }
    s.push_str("rm -f -- \"$0\"\n");
    s.push_str("[ -z \"${AF_EVIDENCE_FAILED:-}\" ] || exit 3\n");
    s.push_str("printf 'AMIFORGE-DONE\\n'\n");
    s
}

#[cfg(test)]
mod tests {
    use super::quote as q;

    #[test]
    fn quoting() {
        assert_eq!(q("a b"), "'a b'");
        assert_eq!(q("it's"), r"'it'\''s'");
        assert_eq!(q(""), "''");
    }
}
