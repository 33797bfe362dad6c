//! The artifact `amiforge-replicate` returns: every region's AMI in Packer's `region:ami,…` id
//! (usable by Packer's `manifest` post-processor and by amiforge-validate), the manifest as
//! state, and a Destroy that really deregisters every copy and deletes its snapshots.

use std::sync::Arc;

use amiforge_aws::client::Clients;
use amiforge_model::manifest::Manifest;
use packer_sdk::Artifact;
use serde_json::Value as Json;

use super::engine::{Created, cleanup};

pub const BUILDER_ID: &str = "amiforge.replicate";

pub struct ReplicateArtifact {
    pub manifest: Manifest,
    pub manifest_path: String,
    pub created: Vec<Created>,
    pub clients: Option<Arc<Clients>>,
    /// The input artifact's `generated_data`, passed on for later post-processors.
    pub generated: Json,
}

#[packer_sdk::async_trait]
impl Artifact for ReplicateArtifact {
    fn builder_id(&self) -> String {
        BUILDER_ID.to_string()
    }

    fn id(&self) -> String {
        self.manifest.artifact_id()
    }

    fn files(&self) -> Vec<String> {
        vec![self.manifest_path.clone()]
    }

    fn string(&self) -> String {
        let mut s = String::from("AMIs were created:\n");
        for (r, i) in &self.manifest.regions {
            s.push_str(&format!("{r}: {}\n", i.ami));
        }
        s.push_str(&format!(
            "manifest: {} (sha256 {})",
            self.manifest_path, &self.manifest.sha256
        ));
        s
    }

    fn state(&self, name: &str) -> Json {
        match name {
            "generated_data" => self.generated.clone(),
            "amiforge.manifest" => serde_json::to_value(&self.manifest).unwrap_or(Json::Null),
            // what Packer's own AMI artifacts answer (HCP/atlas metadata: region -> ami)
            "atlas.artifact.metadata" => Json::Object(
                self.manifest
                    .regions
                    .iter()
                    .map(|(r, i)| (format!("region.{r}"), Json::String(i.ami.clone())))
                    .collect(),
            ),
            _ => Json::Null,
        }
    }

    async fn destroy(&self) -> Result<(), String> {
        let Some(clients) = &self.clients else {
            return Ok(());
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let done = cleanup(clients, &self.created, &tx).await;
        drop(tx);
        while let Some(e) = rx.recv().await {
            tracing::info!(event = ?e, "destroy");
        }
        if done.len() == self.created.len() {
            Ok(())
        } else {
            Err(format!(
                "amiforge-replicate: {} of {} copies could not be deleted",
                self.created.len() - done.len(),
                self.created.len()
            ))
        }
    }
}
