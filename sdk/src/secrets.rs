//! Values that must never be printed: sensitive template variables, passwords and keys from
//! Packer's generated data. [`redact`] replaces them in any text before it reaches Packer's UI or
//! our log, like Packer's own `LogSecretFilter`.

use std::sync::{OnceLock, RwLock};

fn store() -> &'static RwLock<Vec<String>> {
    static S: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    S.get_or_init(|| RwLock::new(Vec::new()))
}

/// Placeholder shown instead of a secret.
pub const MASK: &str = "<sensitive>";

/// Registers a secret (values shorter than 4 characters are ignored: masking them would garble
/// ordinary text and they are not worth hiding).
pub fn register(secret: &str) {
    let secret = secret.trim();
    if secret.len() < 4 {
        return;
    }
    let mut v = store().write().unwrap_or_else(|p| p.into_inner());
    if !v.iter().any(|s| s == secret) {
        v.push(secret.to_string());
        // longest first, so a secret containing another is masked whole
        v.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// `text` with every registered secret replaced by [`MASK`].
pub fn redact(text: &str) -> String {
    let v = store().read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for s in v.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_registered_values() {
        register("hunter2-password");
        register("ab"); // too short, ignored
        assert_eq!(redact("pw=hunter2-password ok ab"), "pw=<sensitive> ok ab");
    }
}
