//! Compiling a resolved profile into the one script that runs on the target.

mod ps;
mod sh;

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
