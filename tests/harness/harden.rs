//! Driving `amiforge-harden` with real Packer against a sandbox, and reading what it reported:
//! shared by the hardening end-to-end tests.

use std::path::Path;

use amiforge_profile::report::{Report, ResultEntry};

use crate::amiforge_bin;
use crate::packer::{PackerOutput, Workdir};
use crate::sandbox::Sandbox;

/// A Packer work directory with the plugin installed.
pub fn workdir() -> Workdir {
    let w = Workdir::new();
    w.link(&amiforge_bin(), "packer-plugin-amiforge");
    w
}

/// A template: a `null` source on `sbx`, the `before` provisioners, then `amiforge-harden` with
/// the `harden` attribute lines.
pub fn template(sbx: &Sandbox, before: &str, harden: &str) -> String {
    format!(
        "{}\nbuild {{\n  sources = [\"source.null.sbx\"]\n{before}  provisioner \"amiforge-harden\" {{\n{harden}\n  }}\n}}\n",
        sbx.null_source_hcl("sbx")
    )
}

/// The report the provisioner wrote at `path`.
pub fn report(path: &Path) -> Report {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("the report parses")
}

/// Control `id`'s result.
pub fn result<'a>(r: &'a Report, id: &str) -> &'a ResultEntry {
    r.results
        .iter()
        .find(|x| x.id == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

/// `packer build t.pkr.hcl`.
pub fn build(w: &Workdir) -> PackerOutput {
    w.packer(&["build", "-color=false", "t.pkr.hcl"])
}
