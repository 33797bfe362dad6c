//! The artifact `amiforge-replicate` returns: every region's AMI in Packer's `region:ami,…` id
//! (usable by Packer's `manifest` post-processor and by amiforge-validate), the manifest as
//! state, and a Destroy that really deregisters every copy and deletes its snapshots. A dry run
//! copies nothing: its artifact names the AMI it would have copied from and says it is a dry run.

use std::collections::BTreeMap;
use std::sync::Arc;

use amiforge_aws::client::Clients;
use amiforge_model::artifact::format_id;
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
        if self.manifest.dry_run {
            // nothing was copied: the input AMI it would have copied from
            let source = &self.manifest.source;
            format_id(&BTreeMap::from([(
                source.region.clone(),
                source.ami.clone(),
            )]))
        } else {
            self.manifest.artifact_id()
        }
    }

    fn files(&self) -> Vec<String> {
        vec![self.manifest_path.clone()]
    }

    fn string(&self) -> String {
        let mut s = if self.manifest.dry_run {
            let source = &self.manifest.source;
            format!(
                "Dry run: no AMIs were created; the AMI it would have copied from:\n{}: {}\n",
                source.region, source.ami
            )
        } else {
            let mut s = String::from("AMIs were created:\n");
            for (r, i) in &self.manifest.regions {
                s.push_str(&format!("{r}: {}\n", i.ami));
            }
            s
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use amiforge_model::manifest::{RegionImage, SourceImage};

    fn artifact(dry_run: bool) -> ReplicateArtifact {
        let region = |ami: &str, source: bool| RegionImage {
            ami: ami.into(),
            snapshots: vec!["snap-1".into()],
            kms_key: None,
            encrypted: true,
            state: "available".into(),
            tags: BTreeMap::new(),
            deprecation_time: None,
            source,
        };
        let regions = if dry_run {
            BTreeMap::new()
        } else {
            BTreeMap::from([
                ("us-east-1".to_string(), region("ami-12345678", true)),
                ("eu-west-1".to_string(), region("ami-87654321", false)),
            ])
        };
        ReplicateArtifact {
            manifest: Manifest {
                schema: amiforge_model::manifest::SCHEMA.into(),
                sha256: "ab".repeat(32),
                generated_at: "2024-01-01T00:00:00Z".into(),
                build: BTreeMap::new(),
                source: SourceImage {
                    region: "us-east-1".into(),
                    ami: "ami-12345678".into(),
                    name: "web".into(),
                    snapshots: vec!["snap-1".into()],
                },
                family: "web".into(),
                strategy: Default::default(),
                regions,
                failures: BTreeMap::new(),
                sharing: Default::default(),
                cost: Default::default(),
                hardening: None,
                ssm_parameter: None,
                retention: Vec::new(),
                dry_run,
            },
            manifest_path: "m.json".into(),
            created: Vec::new(),
            clients: None,
            generated: Json::Null,
        }
    }

    #[test]
    fn a_dry_run_names_the_ami_it_would_have_copied_from() {
        let a = artifact(true);
        assert_eq!(a.id(), "us-east-1:ami-12345678");
        assert_eq!(
            amiforge_model::artifact::parse_id(&a.id()).map(|m| m.len()),
            Ok(1)
        );
        let text = a.string();
        assert!(text.starts_with("Dry run:"), "{text}");
        assert!(text.contains("us-east-1: ami-12345678"), "{text}");
    }

    #[test]
    fn a_real_run_names_every_region() {
        let a = artifact(false);
        assert_eq!(a.id(), "eu-west-1:ami-87654321,us-east-1:ami-12345678");
        let text = a.string();
        assert!(text.starts_with("AMIs were created:\n"), "{text}");
        assert!(!text.contains("Dry run"), "{text}");
    }
}
