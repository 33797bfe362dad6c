//! What the Packer integrations registry shows about amiforge (`.web-docs/`, written by
//! `packer-plugin-amiforge docs --web-docs .web-docs`): the integration's name and description,
//! and each component's page, which is its `docs/components/amiforge-NAME.md` (one source: the
//! repository's page and the registry's are the same text; the attribute reference is generated).

use packer_sdk::invocation::Kind;
use packer_sdk::webdocs::{Integration, Page};

/// The integration metadata and component pages.
pub fn integration() -> Integration {
    Integration {
        title: "amiforge",
        description: "Golden AMIs inside packer build: declarative hardening with evidence, Windows \
                      sysprep the way EC2's launch agents expect, replication across regions with \
                      per-region KMS keys, and a validation gate that launch-tests every copy.",
        repository: env!("CARGO_PKG_REPOSITORY"),
        git_ref: "main",
        license: Some(env!("CARGO_PKG_LICENSE")),
        reference_path: Some("docs/reference.md"),
        pages: vec![
            Page {
                kind: Kind::Provisioner,
                name: "harden",
                title: "Harden",
                path: "docs/components/amiforge-harden.md",
                markdown: include_str!("../../docs/components/amiforge-harden.md"),
            },
            Page {
                kind: Kind::Provisioner,
                name: "sysprep",
                title: "Sysprep",
                path: "docs/components/amiforge-sysprep.md",
                markdown: include_str!("../../docs/components/amiforge-sysprep.md"),
            },
            Page {
                kind: Kind::PostProcessor,
                name: "replicate",
                title: "Replicate",
                path: "docs/components/amiforge-replicate.md",
                markdown: include_str!("../../docs/components/amiforge-replicate.md"),
            },
            Page {
                kind: Kind::PostProcessor,
                name: "validate",
                title: "Validate",
                path: "docs/components/amiforge-validate.md",
                markdown: include_str!("../../docs/components/amiforge-validate.md"),
            },
        ],
    }
}
