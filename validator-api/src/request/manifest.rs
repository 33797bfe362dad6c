//! Taking a replicate manifest as the AMIs to validate: [`from_json`] refuses what is not a
//! manifest, one edited after replicate sealed it, and a dry run's; [`targets`] gives every
//! region's AMI with what the manifest recorded about it. Each caller words the problem for its
//! own field (`--manifest`, `manifest_json`).

use amiforge_model::Manifest;

use super::{Expect, Target};

/// Why bytes are not a manifest the validator can take.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestProblem {
    /// Not a replicate manifest at all (the JSON error).
    #[error("not a replicate manifest: {0}")]
    NotAManifest(String),
    /// Its own sha256 does not match: edited or truncated after replicate wrote it.
    #[error("its sha256 does not match its content (edited or truncated?)")]
    Edited,
    /// A dry run: there are no AMIs.
    #[error("it records a dry run: there are no AMIs to validate")]
    DryRun,
}

/// A replicate manifest from its JSON bytes.
pub fn from_json(bytes: &[u8]) -> Result<Manifest, ManifestProblem> {
    let m: Manifest =
        serde_json::from_slice(bytes).map_err(|e| ManifestProblem::NotAManifest(e.to_string()))?;
    if !m.verify() {
        return Err(ManifestProblem::Edited);
    }
    if m.dry_run {
        return Err(ManifestProblem::DryRun);
    }
    Ok(m)
}

/// Every region's AMI with what the manifest recorded (key, sharing, tags, deprecation,
/// strategy, hardening digests), in region order.
pub fn targets(m: &Manifest) -> Vec<Target> {
    m.regions
        .iter()
        .map(|(region, r)| Target {
            region: region.clone(),
            ami: r.ami.clone(),
            expect: Expect {
                kms_key: r.kms_key.clone(),
                sharing: Some(m.sharing.clone()),
                tags: r.tags.clone(),
                deprecation_time: r.deprecation_time.clone(),
                strategy: Some(m.strategy),
                profile_sha256: m.hardening.as_ref().map(|h| h.profile_sha256.clone()),
                report_sha256: m.hardening.as_ref().map(|h| h.report_sha256.clone()),
                profile: m.hardening.as_ref().map(|h| h.profile.clone()),
            },
        })
        .collect()
}
