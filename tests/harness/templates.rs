//! HCL templates the end-to-end tests share. [`harden_and_replicate`] is the golden build:
//! `source.amazon-ebs.web` → `amiforge-harden` → `amiforge-replicate` (per-region KMS, tags,
//! sharing, manifest, hardening evidence) → whatever post-processors a test adds; the parts
//! that vary between tests are parameters.

/// The KMS alias the golden build encrypts its copies with in every region (the tests create
/// it with [`create_kms_key`](crate::emulator::create_kms_key)).
pub const IMAGES_KEY: &str = "alias/images";

/// The golden build from `source` (a `source "amazon-ebs" "web"` block, see
/// [`Emulator::amazon_ebs_source`](crate::emulator::Emulator::amazon_ebs_source)), replicated
/// to `regions` with [`IMAGES_KEY`] in each, tagged `team = "platform"`, shared with account
/// 111122223333, strategy `hybrid`, the hardening report in `out/hardening.json` and the
/// manifest in `out/manifest.json`. Whole indented lines (each ending in a newline) can be put
/// in: `after_harden` (provisioners after hardening), `replicate_extra` (more
/// `amiforge-replicate` attributes) and `then` (post-processors after it).
pub fn harden_and_replicate(
    source: &str,
    regions: &[&str],
    after_harden: &str,
    replicate_extra: &str,
    then: &str,
) -> String {
    let names: Vec<String> = regions.iter().map(|r| format!("\"{r}\"")).collect();
    let kms: Vec<String> = regions
        .iter()
        .map(|r| format!("\"{r}\" = \"{IMAGES_KEY}\""))
        .collect();
    let (names, kms) = (names.join(", "), kms.join(", "));
    format!(
        r#"{source}
build {{
  sources = ["source.amazon-ebs.web"]
  provisioner "amiforge-harden" {{
    report_path = "out/hardening.json"
  }}
{after_harden}  post-processors {{
    post-processor "amiforge-replicate" {{
      regions            = [{names}]
      region_kms_key_ids = {{ {kms} }}
      tags               = {{ team = "platform" }}
      account_ids        = ["111122223333"]
      strategy           = "hybrid"
      manifest_path      = "out/manifest.json"
      hardening_report   = "out/hardening.json"
{replicate_extra}    }}
{then}  }}
}}
"#
    )
}
