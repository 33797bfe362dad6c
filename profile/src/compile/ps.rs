//! PowerShell generation for Windows profiles: the runtime (`ps_runtime.ps1`) and one
//! `AF-Control` call per control with its check and fix as script blocks, all values in
//! single-quoted PowerShell strings ([`quote`], also what the sysprep provisioner quotes with).

use std::fmt::Write;

use crate::model::{AuditSetting, Check, Mode, RegistryType, ServiceStart};
use crate::resolve::Resolved;

pub(super) const RUNTIME: &str = include_str!("ps_runtime.ps1");

/// How long the script waits for the plugin's evidence upload.
pub const EVIDENCE_TIMEOUT_SECONDS: u32 = 600;

/// `s` as a single-quoted PowerShell string (a literal: no variable or escape in it expands).
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn b(v: bool) -> &'static str {
    if v { "$true" } else { "$false" }
}

/// `(check, fix)` script block bodies for one control.
fn blocks(check: &Check) -> (String, Option<String>) {
    match check {
        Check::Registry {
            path,
            name,
            value_type,
            value,
        } => {
            let t = match value_type {
                RegistryType::Dword => "dword",
                RegistryType::Qword => "qword",
                RegistryType::String => "string",
                RegistryType::MultiString => "multi_string",
            };
            let args = format!(
                "{} {} {} {}",
                quote(path),
                quote(name),
                quote(t),
                quote(value)
            );
            (
                format!("AF-RegCheck {args}"),
                Some(format!("AF-RegFix {args}")),
            )
        }
        Check::AuditPolicy {
            subcategory,
            setting,
        } => {
            let want = match setting {
                AuditSetting::Success => "Success",
                AuditSetting::Failure => "Failure",
                AuditSetting::SuccessAndFailure => "Success and Failure",
                AuditSetting::NoAuditing => "No Auditing",
            };
            let args = format!("{} {}", quote(subcategory), quote(want));
            (
                format!("AF-AuditCheck {args}"),
                Some(format!("AF-AuditFix {args}")),
            )
        }
        Check::WindowsService { name, start } => {
            let want = match start {
                ServiceStart::Disabled => "Disabled",
                ServiceStart::Manual => "Manual",
                ServiceStart::Automatic => "Automatic",
            };
            let args = format!("{} {}", quote(name), quote(want));
            (
                format!("AF-ServiceCheck {args}"),
                Some(format!("AF-ServiceFix {args}")),
            )
        }
        Check::WindowsFeature { name, present } => {
            let args = format!("{} {}", quote(name), b(*present));
            (
                format!("AF-FeatureCheck {args}"),
                Some(format!("AF-FeatureFix {args}")),
            )
        }
        Check::OptionalFeature { name, enabled } => {
            let args = format!("{} {}", quote(name), b(*enabled));
            (
                format!("AF-OptionalCheck {args}"),
                Some(format!("AF-OptionalFix {args}")),
            )
        }
        Check::SecurityPolicy {
            key,
            value,
            compare,
        } => (
            format!(
                "AF-SecPolCheck {} {} {}",
                quote(key),
                quote(value),
                quote(compare.name())
            ),
            Some(format!("AF-SecPolFix {} {}", quote(key), quote(value))),
        ),
        // Linux kinds never reach here: `load` rejects them in Windows profiles.
        other => (
            format!(
                "AF-Result 1 '' {}",
                quote(&format!("{} needs Linux", other.kind()))
            ),
            None,
        ),
    }
}

/// The whole script.
pub(super) fn compile(r: &Resolved) -> String {
    let mode = r.mode.name();
    let mut s = String::new();
    let _ = writeln!(s, "#Requires -Version 5.1");
    s.push_str(&super::banner(r));
    s.push_str(&super::runtime(RUNTIME));
    let _ = writeln!(s, "\n$AF_MODE = {}", quote(mode));
    s.push_str("try {\n    AF-Facts\n");
    for p in &r.controls {
        let c = &p.control;
        let _ = writeln!(s, "    # {}: {}", c.id, c.title.replace('\n', " "));
        if let Some(reason) = &p.skip {
            let _ = writeln!(s, "    AF-Skip {} {}", quote(&c.id), quote(reason));
            continue;
        }
        let (check, fix) = blocks(&c.check);
        let fix = fix.map_or("$null".to_string(), |f| format!("{{ {f} }}"));
        let _ = writeln!(s, "    AF-Control {} {{ {check} }} {fix}", quote(&c.id));
    }
    s.push_str("    AF-Inventory\n");
    if r.mode == Mode::Enforce {
        let _ = writeln!(
            s,
            "    AF-Evidence (Join-Path $env:TEMP ('amiforge-evidence-' + [guid]::NewGuid() + '.json')) {EVIDENCE_TIMEOUT_SECONDS}"
        );
    }
    s.push_str("    [Console]::Out.WriteLine('AMIFORGE-DONE')\n");
    s.push_str("} catch {\n    [Console]::Error.WriteLine('amiforge-harden: ' + $_.Exception.Message)\n    exit 3\n} finally {\n    Remove-Item -LiteralPath $PSCommandPath -Force -ErrorAction SilentlyContinue\n}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::quote as q;

    #[test]
    fn quoting() {
        assert_eq!(q("it's"), "'it''s'");
        assert_eq!(q("$env:x `n"), "'$env:x `n'");
    }
}
