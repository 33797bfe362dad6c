//! Post-processor `amiforge-replicate`: copies the built AMI to other regions concurrently
//! (encrypted with a per-region KMS key, idempotent), tags images and snapshots, shares,
//! deprecates, keeps N releases per family, records everything in a manifest (and optionally
//! per-region SSM pointers), and cleans up after itself on failure or cancel.
//!
//! What survives a failure: this post-processor deletes every copy it made (unless
//! `keep_on_error`); Packer then destroys the builder's AMI too, because a failed post-processor
//! makes Packer discard its input (set `keep_input_artifact = true` to keep the source AMI). The
//! manifest is still written, with the failures.

mod artifact;
mod config;
pub mod engine;

use std::collections::BTreeMap;
use std::sync::Arc;

use amiforge_aws::client::Clients;
use amiforge_model::manifest::Hardening;
use anyhow::Context;
use packer_sdk::{
    ConfigErrors, PackerConfig, PostProcessContext, PostProcessOutput, PostProcessor, async_trait,
};

pub use artifact::{BUILDER_ID, ReplicateArtifact};
pub use config::{ReplicateConfig, Settings, validate as settings};
use engine::{Event, Input};

pub struct Replicate {
    s: Settings,
    packer: PackerConfig,
}

#[async_trait]
impl PostProcessor for Replicate {
    type Config = ReplicateConfig;

    fn configure(config: ReplicateConfig, packer: &PackerConfig) -> Result<Self, ConfigErrors> {
        Ok(Replicate {
            s: config::validate(config, packer)?,
            packer: packer.clone(),
        })
    }

    async fn post_process(&self, ctx: PostProcessContext) -> anyhow::Result<PostProcessOutput> {
        let input = crate::input::read(
            &ctx,
            "amiforge-replicate",
            &[],
            "AMIs (amazon-ebs, amazon-ebssurrogate, amazon-chroot, amiforge)",
        )
        .await?;
        let (amis, generated) = (input.amis.clone(), input.generated.clone());
        let build_region = input
            .build_region()
            .ok_or_else(|| anyhow::anyhow!("input artifact has no AMI"))?;
        let source_ami = amis[&build_region].clone();
        let run_id = generated
            .get("PackerRunUUID")
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty() && !v.starts_with("ERR_"))
            .map(str::to_string)
            .unwrap_or_else(|| format!("{source_ami}-{}", self.packer.build_name));
        let mut build = BTreeMap::new();
        build.insert(
            "packer_build_name".to_string(),
            self.packer.build_name.clone(),
        );
        build.insert(
            "packer_builder_type".to_string(),
            self.packer.builder_type.clone(),
        );
        build.insert("input_builder_id".to_string(), input.builder.clone());
        build.insert("packer_run_uuid".to_string(), run_id.clone());
        let input = Input {
            source_region: build_region.clone(),
            source_ami,
            build,
            run_id,
        };
        let hardening = match &self.s.hardening_report {
            Some(p) => Some(read_hardening(p)?),
            None => None,
        };
        let clients = Arc::new(Clients::load(&build_region).await);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ui = ctx.ui.clone();
        let forward = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                let _ = match e {
                    Event::Say(s) => ui.say(s).await,
                    Event::Message(s) => ui.message(s).await,
                    Event::Error(s) => ui.error(s).await,
                };
            }
        });
        let result = engine::run(
            clients.clone(),
            &self.s,
            &input,
            hardening,
            &tx,
            &ctx.cancel,
        )
        .await;
        drop(tx);
        let _ = forward.await;
        match result {
            Ok(mut out) => {
                let bytes = out.manifest.seal();
                write_manifest(&self.s.manifest_path, &bytes, &out.manifest.sha256)?;
                ctx.ui
                    .say(format!(
                        "amiforge-replicate: {} region(s) ready; manifest {} (sha256 {})",
                        out.manifest.regions.len(),
                        self.s.manifest_path.display(),
                        &out.manifest.sha256[..12]
                    ))
                    .await?;
                let artifact = ReplicateArtifact {
                    manifest: out.manifest,
                    manifest_path: self.s.manifest_path.display().to_string(),
                    created: out.created,
                    clients: (!self.s.dry_run).then_some(clients),
                    generated,
                };
                Ok(PostProcessOutput {
                    artifact: Some(Arc::new(artifact)),
                    keep: true,
                    force_override: false,
                })
            }
            Err(f) => {
                if let Some(mut m) = f.manifest {
                    let bytes = m.seal();
                    let _ = write_manifest(&self.s.manifest_path, &bytes, &m.sha256);
                }
                let mut msg = f.message;
                if !f.cleaned.is_empty() {
                    msg.push_str(&format!(
                        "; deleted the {} copies it had made",
                        f.cleaned.len()
                    ));
                }
                if !f.kept.is_empty() {
                    let kept: Vec<String> = f
                        .kept
                        .iter()
                        .map(|c| format!("{}:{}", c.region, c.ami))
                        .collect();
                    msg.push_str(&format!("; kept (keep_on_error): {}", kept.join(",")));
                }
                anyhow::bail!(msg)
            }
        }
    }
}

fn write_manifest(path: &std::path::Path, bytes: &[u8], sha: &str) -> anyhow::Result<()> {
    if let Some(d) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(d)
            .with_context(|| format!("manifest_path: creating {}", d.display()))?;
    }
    std::fs::write(path, bytes)
        .with_context(|| format!("manifest_path: writing {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sidecar = format!("{}.sha256", path.display());
    std::fs::write(
        &sidecar,
        format!("{}  {name}\n", amiforge_model::sha256_hex(bytes)),
    )
    .with_context(|| format!("manifest_path: writing {sidecar}"))?;
    let _ = sha;
    Ok(())
}

/// Digests from an amiforge-harden report (verified against its own bytes).
fn read_hardening(path: &std::path::Path) -> anyhow::Result<Hardening> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "hardening_report: cannot read {} (is it amiforge-harden's report_path?)",
            path.display()
        )
    })?;
    let r: amiforge_profile::report::Report =
        serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "hardening_report: {} is not an amiforge-harden report",
                path.display()
            )
        })?;
    Ok(Hardening {
        report_sha256: amiforge_model::sha256_hex(&bytes),
        profile: format!("{} {}", r.profile.name, r.profile.version),
        profile_sha256: r.profile.sha256,
        results_sha256: r.results_sha256,
        sbom_sha256: r.sbom.sha256,
    })
}
