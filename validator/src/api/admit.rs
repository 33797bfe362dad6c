//! What a server lets a request bring: at most `--max-targets` AMIs, and no file of the caller's
//! choosing. A path-typed field is refused unless it lies under a directory the operator allowed
//! (`--allow-path`), with the same words whether or not the file exists; an allowed profile file
//! is read into the request (its parse errors give line and column, never its text). Private keys
//! come by the name the operator gave them (`--ssh-key NAME=FILE`).

use std::collections::BTreeMap;
use std::path::{Component, Path as FsPath, PathBuf};

use amiforge_validator_api::request::files;
use amiforge_validator_api::{FieldErrors, Path, Request};

/// What the operator lets requests use on this host.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// Directories a path-typed field may point into (canonical).
    pub(crate) allowed: Vec<PathBuf>,
    /// Private keys by name.
    pub(crate) keys: BTreeMap<String, PathBuf>,
    /// The most AMIs one request may name.
    pub max_targets: usize,
}

impl Admission {
    /// From `--allow-path` directories (each must exist), `--ssh-key` entries and
    /// `--max-targets`.
    pub fn new(
        allow: &[PathBuf],
        keys: BTreeMap<String, PathBuf>,
        max_targets: usize,
    ) -> Result<Admission, String> {
        let mut allowed = Vec::new();
        for d in allow {
            let c = d
                .canonicalize()
                .map_err(|e| format!("--allow-path {}: {e}", d.display()))?;
            if !c.is_dir() {
                return Err(format!("--allow-path {}: not a directory", d.display()));
            }
            allowed.push(c);
        }
        for (name, file) in &keys {
            std::fs::File::open(file)
                .map_err(|e| format!("--ssh-key {name}={}: {e}", file.display()))?;
        }
        Ok(Admission {
            allowed,
            keys,
            max_targets: max_targets.max(1),
        })
    }

    /// Whether `p` is an absolute path under an allowed directory (also after symlinks).
    fn allowed(&self, p: &FsPath) -> bool {
        let lexical = p.is_absolute() && !p.components().any(|c| c == Component::ParentDir);
        if !lexical || !self.allowed.iter().any(|d| p.starts_with(d)) {
            return false;
        }
        match p.canonicalize() {
            Ok(c) => self.allowed.iter().any(|d| c.starts_with(d)),
            // within an allowed directory a missing file may be said to be missing
            Err(_) => true,
        }
    }

    /// `req` as this server will run it: within the limits, key names resolved to their files,
    /// an allowed profile file read; or every reason it is refused.
    pub fn admit(&self, req: &mut Request) -> Result<(), FieldErrors> {
        let mut errs = FieldErrors::new();
        if req.targets.len() > self.max_targets {
            errs.push(
                Path::fields(&["targets"]),
                format!(
                    "{} AMIs; this validator takes at most {} per request (serve --max-targets): \
                     split the request",
                    req.targets.len(),
                    self.max_targets
                ),
            );
        }
        let refused = |field: &str| {
            format!(
                "this validator reads no file a request names ({}); {}",
                field,
                match field {
                    "profile_file" => "send the profile's text (profile)",
                    _ =>
                        "name a key its operator configured (ssh_private_key_name), or give no \
                          key pair and one is made for the run",
                }
            )
        };
        let g = &mut req.guest;
        if let Some(name) = g.ssh_private_key_name.take() {
            match self.keys.get(&name) {
                Some(file) => g.ssh_private_key_file = Some(file.clone()),
                None => errs.push(
                    Path::fields(&["guest", "ssh_private_key_name"]),
                    format!(
                        "{name:?}: no key of that name on this validator (its operator adds one \
                         with serve --ssh-key NAME=FILE)"
                    ),
                ),
            }
        } else if let Some(f) = &g.ssh_private_key_file
            && !self.allowed(f)
        {
            errs.push(
                Path::fields(&["guest", "ssh_private_key_file"]),
                refused("ssh_private_key_file"),
            );
        }
        if let Some(f) = g.profile_file.take() {
            let at = Path::fields(&["guest", "profile_file"]);
            if !self.allowed(&f) {
                errs.push(at, refused("profile_file"));
            } else {
                match std::fs::read_to_string(&f) {
                    Ok(text) => g.profile = Some(text),
                    Err(e) => errs.push(at, format!("cannot read {}: {e}", f.display())),
                }
            }
        }
        if let Some(text) = &g.profile
            && let Err(e) = files::check_profile_text(text)
        {
            errs.push(Path::fields(&["guest", "profile"]), e);
        }
        errs.into_result()
    }
}

#[cfg(test)]
#[path = "admit_tests.rs"]
mod tests;
