//! The artifact `amiforge-validate` returns when the gate passes: the same AMIs as its input
//! (same `region:ami` id, so Packer's `manifest` post-processor and later steps see the release),
//! with the validation report as extra state, every region's AMI as HCP Packer registry metadata
//! (`par.artifact.metadata`: what the input registered for it, plus the verdict's labels), and a
//! Destroy that deletes the AMIs and snapshots.

use std::collections::BTreeMap;
use std::sync::Arc;

use amiforge_aws::client::Clients;
use amiforge_validator_api::report::Report;
use packer_sdk::registry::{self, RegistryImage};
use packer_sdk::{Artifact, ArtifactClient};
use serde_json::Value as Json;

use super::outcome::{self, Image};
use crate::input::{PROVIDER, base_ami};

pub const BUILDER_ID: &str = "amiforge.validate";

/// The verdict as registry labels (the same for every image: Packer merges them per build).
pub fn verdict_labels(report: &Report) -> BTreeMap<String, String> {
    let verdict = serde_json::to_value(report.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    BTreeMap::from([
        ("amiforge_validation".to_string(), verdict),
        (
            "amiforge_validation_run_id".to_string(),
            report.run_id.clone(),
        ),
        (
            "amiforge_validated_at".to_string(),
            report.started_at.clone(),
        ),
        (
            "amiforge_validation_summary".to_string(),
            report.summary.clone(),
        ),
        (
            "amiforge_validation_report_sha256".to_string(),
            amiforge_model::sha256_hex(&report.to_json()),
        ),
    ])
}

/// What the input artifact registered with HCP Packer (amiforge-replicate's release labels, a
/// builder's parent AMI); nothing when it registered nothing or something unreadable.
pub async fn registered(input: &ArtifactClient) -> Vec<RegistryImage> {
    let state = input
        .state(registry::ARTIFACT_STATE_URI)
        .await
        .unwrap_or(Json::Null);
    registry::from_state(&state).unwrap_or_else(|e| {
        tracing::warn!("the input artifact's registry metadata is ignored: {e}");
        Vec::new()
    })
}

/// One registry image per validated AMI. What the input artifact registered for the same AMI
/// (amiforge-replicate's release labels and parent, or a builder's image) is kept; without a
/// registered parent the builder's `SourceAMI` is the parent. The verdict's labels are added to
/// every image.
pub fn registry_images(
    images: &[Image],
    input: &[RegistryImage],
    generated: &Json,
    report: &Report,
) -> Vec<RegistryImage> {
    let verdict = verdict_labels(report);
    images
        .iter()
        .map(|i| {
            let mut r = input
                .iter()
                .find(|r| r.image_id == i.ami && r.provider_region == i.region)
                .cloned()
                .unwrap_or_default();
            if r.source_image_id.is_empty() {
                r.source_image_id = base_ami(generated);
            }
            r.image_id = i.ami.clone();
            r.provider_region = i.region.clone();
            r.provider_name = PROVIDER.to_string();
            r.labels.extend(verdict.clone());
            r
        })
        .collect()
}

pub struct ValidatedArtifact {
    pub id: String,
    pub files: Vec<String>,
    pub description: String,
    /// The input's `generated_data` and `amiforge.manifest` state, passed on.
    pub generated: Json,
    pub manifest: Json,
    /// The validator's report (schema amiforge.validation-report/v1).
    pub report: Json,
    pub images: Vec<Image>,
    /// HCP Packer registry metadata ([`registry_images`]).
    pub registry: Vec<RegistryImage>,
    pub clients: Arc<Clients>,
}

#[packer_sdk::async_trait]
impl Artifact for ValidatedArtifact {
    fn builder_id(&self) -> String {
        BUILDER_ID.to_string()
    }

    fn id(&self) -> String {
        self.id.clone()
    }

    fn files(&self) -> Vec<String> {
        self.files.clone()
    }

    fn string(&self) -> String {
        self.description.clone()
    }

    fn state(&self, name: &str) -> Json {
        match name {
            "generated_data" => self.generated.clone(),
            "amiforge.manifest" => self.manifest.clone(),
            "amiforge.validation" => self.report.clone(),
            "atlas.artifact.metadata" => Json::Object(
                self.images
                    .iter()
                    .map(|i| (format!("region.{}", i.region), Json::String(i.ami.clone())))
                    .collect(),
            ),
            registry::ARTIFACT_STATE_URI => registry::to_state(&self.registry),
            _ => Json::Null,
        }
    }

    async fn destroy(&self) -> Result<(), String> {
        outcome::reject(&self.clients, &self.images, "destroyed", false)
            .await
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amiforge_validator_api::report::{Cleanup, SCHEMA, Verdict};

    fn report() -> Report {
        Report {
            schema: SCHEMA.into(),
            run_id: "val-7".into(),
            started_at: "2026-01-02T03:04:05Z".into(),
            seconds: 1.5,
            verdict: Verdict::Passed,
            summary: "12 passed".into(),
            suites: Vec::new(),
            cleanup: Cleanup::default(),
        }
    }

    fn image(region: &str, ami: &str) -> Image {
        Image {
            region: region.into(),
            ami: ami.into(),
            snapshots: Vec::new(),
        }
    }

    #[test]
    fn validated_images_keep_what_the_input_registered_and_add_the_verdict() {
        let images = [image("eu-west-1", "ami-1"), image("us-east-1", "ami-2")];
        // amiforge-replicate registered eu-west-1 with its release labels and a parent
        let mut replicated = RegistryImage::new("aws", "eu-west-1", "ami-1");
        replicated.source_image_id = "ami-0base".into();
        replicated
            .labels
            .insert("amiforge_family".into(), "web".into());
        // an image of another AMI in the same region is not ours
        let other = RegistryImage::new("aws", "us-east-1", "ami-9");
        let generated = serde_json::json!({"SourceAMI": "ami-0gen"});
        let r = report();
        let got = registry_images(&images, &[replicated, other], &generated, &r);
        let back = registry::from_state(&registry::to_state(&got)).unwrap();
        assert_eq!(back, got);
        assert_eq!(got.len(), 2);
        for (n, (g, i)) in got.iter().zip(&images).enumerate() {
            assert_eq!(g.check(n), Ok(()));
            assert_eq!(
                (g.provider_region.as_str(), g.image_id.as_str()),
                (i.region.as_str(), i.ami.as_str())
            );
            assert_eq!(g.provider_name, "aws");
            assert_eq!(g.labels["amiforge_validation"], "passed");
            assert_eq!(g.labels["amiforge_validation_run_id"], "val-7");
            assert_eq!(g.labels["amiforge_validated_at"], "2026-01-02T03:04:05Z");
            assert_eq!(g.labels["amiforge_validation_summary"], "12 passed");
            assert_eq!(
                g.labels["amiforge_validation_report_sha256"],
                amiforge_model::sha256_hex(&r.to_json())
            );
        }
        assert_eq!(got[0].source_image_id, "ami-0base");
        assert_eq!(got[0].labels["amiforge_family"], "web");
        // not registered by the input: the builder's SourceAMI is the parent, no inherited labels
        assert_eq!(got[1].source_image_id, "ami-0gen");
        assert!(!got[1].labels.contains_key("amiforge_family"));
    }
}
