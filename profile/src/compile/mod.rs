//! Compiling a resolved profile into the one script that runs on the target. The runtimes
//! (`sh_runtime.sh`, `ps_runtime.ps1`) are embedded with `@NAME@` placeholders for the values
//! other crates share with the script (where the evidence goes, [`crate::evidence`]); `runtime`
//! fills them. [`ps::quote`] and [`sh::quote`] are the one PowerShell and POSIX sh quoting of
//! every crate that generates scripts.

pub mod ps;
pub mod sh;

use crate::evidence;
use crate::model::Os;
use crate::resolve::Resolved;

/// The script language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// POSIX sh (dash, bash, busybox ash): Linux targets.
    Sh,
    /// Windows PowerShell 5.1+: Windows targets.
    PowerShell,
}

/// A compiled script.
#[derive(Debug, Clone)]
pub struct Script {
    pub language: Language,
    pub text: String,
    pub sha256: String,
}

/// The comment block that opens every script (both languages use `#` comments).
fn banner(r: &Resolved) -> String {
    format!(
        "# amiforge-harden: profile {} {} (sha256 {}), mode {}.\n\
         # Generated; do not edit. Checks every control, fixes it in enforce mode, checks again,\n\
         # and prints one AMIFORGE-RESULT line per control.\n",
        r.name,
        r.version,
        r.profile_sha256,
        r.mode.name()
    )
}

/// The values the runtimes name by `@NAME@` (plain words and paths: nothing to quote).
const PLACEHOLDERS: [(&str, &str); 4] = [
    ("@LINUX_EVIDENCE_DIR@", evidence::LINUX_DIR),
    ("@WINDOWS_EVIDENCE_DIR@", evidence::WINDOWS_PROGRAMDATA_DIR),
    ("@REPORT_FILE@", evidence::REPORT_FILE),
    ("@SBOM_FILE@", evidence::SBOM_FILE),
];

/// A runtime's text with its placeholders filled.
fn runtime(text: &str) -> String {
    PLACEHOLDERS
        .iter()
        .fold(text.to_string(), |t, (name, value)| t.replace(name, value))
}

/// The inventory script for Linux targets (facts and installed packages; changes nothing), read
/// back with [`crate::results::Collected`].
pub fn inventory_script() -> Script {
    let text = sh::inventory();
    let sha256 = amiforge_model::sha256_hex(text.as_bytes());
    Script {
        language: Language::Sh,
        text,
        sha256,
    }
}

/// Compiles `r` for its OS.
pub fn compile(r: &Resolved) -> Script {
    let (language, text) = match r.os {
        Os::Linux => (Language::Sh, sh::compile(r)),
        Os::Windows => (Language::PowerShell, ps::compile(r)),
    };
    let sha256 = amiforge_model::sha256_hex(text.as_bytes());
    Script {
        language,
        text,
        sha256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_is_filled_and_needs_no_quoting() {
        for text in [ps::RUNTIME, sh::RUNTIME] {
            let filled = runtime(text);
            assert!(!filled.contains("@LINUX_"), "{filled}");
            assert!(!filled.contains("@WINDOWS_"), "{filled}");
            assert!(!filled.contains("_FILE@"), "{filled}");
        }
        assert!(
            runtime(sh::RUNTIME).contains("mkdir -p /etc/amiforge && chmod 0755 /etc/amiforge")
        );
        assert!(runtime(ps::RUNTIME).contains("foreach ($n in 'hardening.json', 'sbom.cdx.json')"));
        for (_, value) in PLACEHOLDERS {
            assert!(
                value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c)),
                "{value}"
            );
        }
    }
}
