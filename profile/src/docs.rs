//! Markdown documentation of a profile (parameters, controls, what each checks, and why the
//! guarded ones are guarded), generated from the profile itself so it never drifts.

use std::fmt::Write;

use crate::load::Loaded;
use crate::model::Check;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// What a check looks at, in a few words.
pub fn target(c: &Check) -> String {
    match c {
        Check::SshdConfig {
            key,
            value,
            compare,
        } => format!("sshd `{key}` {compare:?} `{value}`"),
        Check::SshdAlgorithms { key, allow, keep } => format!(
            "sshd `{key}`: what the target supports of `{}`, in its order{}",
            allow.join(" "),
            if keep.is_empty() {
                String::new()
            } else {
                format!("; keeps `{}` where supported", keep.join(" "))
            }
        ),
        Check::PamModule { module, types, .. } => {
            format!("`{module}` in the PAM {} stack", types.join(", "))
        }
        Check::LoginUmask { value, .. } => format!("a login shell's umask masks `{value}`"),
        Check::Sysctl { key, value } => format!("`{key} = {value}`"),
        Check::ConfigValue {
            path,
            key,
            value,
            compare,
            ..
        } => format!("`{path}`: `{key}` {compare:?} `{value}`"),
        Check::FileMode { path, mode, .. } => format!("`{path}` ≤ {mode}"),
        Check::FileAbsent { paths } => format!(
            "absent: {}",
            paths
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Check::LinePresent { path, line, .. } => format!("`{path}` has `{line}`"),
        Check::ServiceDisabled { service, mask } => {
            format!("`{service}` {}", if *mask { "masked" } else { "disabled" })
        }
        Check::ServiceEnabled { service } => format!("`{service}` enabled"),
        Check::PackageAbsent { packages } => format!("not installed: {}", packages.join(", ")),
        Check::PackagePresent { packages } => format!("installed: one of {}", packages.join(", ")),
        Check::KernelModule { module } => format!("module `{module}` not loadable"),
        Check::MountOption {
            mountpoint,
            options,
        } => format!("`{mountpoint}` {}", options.join(",")),
        Check::AuditRule { rule } => format!("audit rule `{rule}`"),
        Check::Command { check, .. } => format!("command `{check}`"),
        Check::Registry {
            path, name, value, ..
        } => format!("`{path}\\{name}` = {value}"),
        Check::AuditPolicy {
            subcategory,
            setting,
        } => format!("auditpol `{subcategory}`: {setting:?}"),
        Check::WindowsService { name, start } => format!("service `{name}` {start:?}"),
        Check::WindowsFeature { name, present } => format!(
            "feature `{name}` {}",
            if *present { "installed" } else { "removed" }
        ),
        Check::OptionalFeature { name, enabled } => format!(
            "optional feature `{name}` {}",
            if *enabled { "enabled" } else { "disabled" }
        ),
        Check::SecurityPolicy {
            key,
            value,
            compare,
        } => format!("`{key}` {compare:?} {value}"),
    }
}

/// The whole page.
pub fn markdown(l: &Loaded) -> String {
    let p = &l.profile;
    let mut s = String::new();
    let _ = writeln!(s, "# Profile `{}` {}\n", p.profile.name, p.profile.version);
    let _ = writeln!(s, "{}\n", p.profile.description);
    let _ = writeln!(
        s,
        "Generated from the profile by `cargo run -p amiforge-profile --example render -- --docs {}`; \
         {} controls, sha256 `{}`.\n",
        p.profile.name,
        p.controls.len(),
        amiforge_model::sha256_hex(l.text.as_bytes())
    );
    if !p.parameters.is_empty() {
        s.push_str("## Parameters\n\nSet them with the provisioner's `parameters` map (values are strings).\n\n");
        s.push_str("| parameter | type | default | meaning |\n|---|---|---|---|\n");
        for (name, d) in &p.parameters {
            let _ = writeln!(
                s,
                "| `{name}` | {} | `{}` | {} |",
                d.ty.name(),
                d.default,
                cell(&d.description)
            );
        }
        s.push('\n');
    }
    s.push_str(
        "## Controls\n\n| id | severity | title | checks | on EC2 |\n|---|---|---|---|---|\n",
    );
    for c in &p.controls {
        let mut guard = Vec::new();
        if let Some(e) = &c.enabled_by {
            guard.push(format!("**opt-in** (`{e}`)"));
        }
        if let Some(d) = &c.disabled_by {
            guard.push(format!("off when `{d}`"));
        }
        if let Some(n) = &c.ec2_note {
            guard.push(n.clone());
        }
        if !c.platforms.is_empty() {
            guard.push(format!("only {}", c.platforms.join(", ")));
        }
        let _ = writeln!(
            s,
            "| `{}` | {:?} | {} | {} | {} |",
            c.id,
            c.severity,
            cell(&c.title),
            cell(&target(&c.check)),
            cell(&guard.join("; "))
        );
    }
    s
}
