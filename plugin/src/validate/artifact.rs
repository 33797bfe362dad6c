//! The artifact `amiforge-validate` returns when the gate passes: the same AMIs as its input
//! (same `region:ami` id, so Packer's `manifest` post-processor and later steps see the release),
//! with the validation report as extra state, and a Destroy that deletes the AMIs and snapshots.

use std::sync::Arc;

use amiforge_aws::client::Clients;
use packer_sdk::Artifact;
use serde_json::Value as Json;

use super::outcome::{self, Image};

pub const BUILDER_ID: &str = "amiforge.validate";

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
            _ => Json::Null,
        }
    }

    async fn destroy(&self) -> Result<(), String> {
        outcome::reject(&self.clients, &self.images, "destroyed", false)
            .await
            .map(|_| ())
    }
}
