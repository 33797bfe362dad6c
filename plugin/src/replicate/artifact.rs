//! The artifact `amiforge-replicate` returns: every region's AMI in Packer's `region:ami,…` id
//! (usable by Packer's `manifest` post-processor and by amiforge-validate), the manifest as
//! state, every region's AMI as HCP Packer registry metadata (`par.artifact.metadata`, labelled
//! with the release: family, strategy, run, source AMI, manifest and hardening digests), and a
//! Destroy that really deregisters every copy and deletes its snapshots. A dry run copies
//! nothing: its artifact names the AMI it would have copied from and says it is a dry run.

use std::collections::BTreeMap;
use std::sync::Arc;

use amiforge_aws::client::Clients;
use amiforge_model::artifact::format_id;
use amiforge_model::manifest::Manifest;
use packer_sdk::Artifact;
use packer_sdk::registry::{self, RegistryImage};
use serde_json::Value as Json;

use super::engine::{Created, cleanup};
use crate::input::{PROVIDER, base_ami};

pub const BUILDER_ID: &str = "amiforge.replicate";

/// What every image of the release carries as registry labels (Packer merges them into the
/// build's labels, so they are the release's, the same for every region).
fn registry_labels(m: &Manifest) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        ("amiforge_family".to_string(), m.family.clone()),
        ("amiforge_strategy".to_string(), m.strategy.to_string()),
        (
            "amiforge_source_ami".to_string(),
            format!("{}:{}", m.source.region, m.source.ami),
        ),
        ("amiforge_built_at".to_string(), m.generated_at.clone()),
        ("amiforge_manifest_sha256".to_string(), m.sha256.clone()),
    ]);
    for (label, key) in [
        ("amiforge_run_id", "packer_run_uuid"),
        ("amiforge_build_name", "packer_build_name"),
    ] {
        if let Some(v) = m.build.get(key).filter(|v| !v.is_empty()) {
            l.insert(label.to_string(), v.clone());
        }
    }
    if let Some(h) = &m.hardening {
        l.insert("amiforge_hardening_profile".into(), h.profile.clone());
        l.insert(
            "amiforge_hardening_profile_sha256".into(),
            h.profile_sha256.clone(),
        );
        l.insert(
            "amiforge_hardening_report_sha256".into(),
            h.report_sha256.clone(),
        );
    }
    if m.dry_run {
        l.insert("amiforge_dry_run".into(), "true".into());
    }
    l
}

pub struct ReplicateArtifact {
    pub manifest: Manifest,
    pub manifest_path: String,
    pub created: Vec<Created>,
    pub clients: Option<Arc<Clients>>,
    /// The input artifact's `generated_data`, passed on for later post-processors.
    pub generated: Json,
}

impl ReplicateArtifact {
    /// One registry image per AMI the artifact's id names (on a dry run, the source AMI).
    pub fn registry_images(&self) -> Vec<RegistryImage> {
        let labels = registry_labels(&self.manifest);
        let source = base_ami(&self.generated);
        let image = |region: &str, ami: &str| RegistryImage {
            labels: labels.clone(),
            source_image_id: source.clone(),
            ..RegistryImage::new(PROVIDER, region, ami)
        };
        if self.manifest.dry_run {
            let s = &self.manifest.source;
            return vec![image(&s.region, &s.ami)];
        }
        self.manifest
            .regions
            .iter()
            .map(|(r, i)| image(r, &i.ami))
            .collect()
    }
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
            registry::ARTIFACT_STATE_URI => registry::to_state(&self.registry_images()),
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

    fn registry(a: &ReplicateArtifact) -> Vec<RegistryImage> {
        let images = registry::from_state(&a.state(registry::ARTIFACT_STATE_URI)).unwrap();
        for (n, i) in images.iter().enumerate() {
            assert_eq!(i.check(n), Ok(()), "{i:?}");
        }
        images
    }

    #[test]
    fn the_registry_gets_every_region_with_the_release_as_labels() {
        let mut a = artifact(false);
        a.manifest.build = BTreeMap::from([
            ("packer_run_uuid".to_string(), "run-42".to_string()),
            ("packer_build_name".to_string(), "web".to_string()),
        ]);
        a.manifest.hardening = Some(amiforge_model::manifest::Hardening {
            report_sha256: "r".repeat(64),
            profile: "cis-debian 1.0".into(),
            profile_sha256: "p".repeat(64),
            results_sha256: "x".repeat(64),
            sbom_sha256: "s".repeat(64),
        });
        a.generated = serde_json::json!({"SourceAMI": "ami-0base", "BuildRegion": "us-east-1"});
        let images = registry(&a);
        let got: Vec<_> = images
            .iter()
            .map(|i| (i.provider_region.as_str(), i.image_id.as_str()))
            .collect();
        assert_eq!(
            got,
            [("eu-west-1", "ami-87654321"), ("us-east-1", "ami-12345678")]
        );
        for i in &images {
            assert_eq!(i.provider_name, "aws");
            assert_eq!(i.source_image_id, "ami-0base");
            let l = &i.labels;
            assert_eq!(l["amiforge_family"], "web");
            assert_eq!(l["amiforge_strategy"], a.manifest.strategy.as_str());
            assert_eq!(l["amiforge_source_ami"], "us-east-1:ami-12345678");
            assert_eq!(l["amiforge_run_id"], "run-42");
            assert_eq!(l["amiforge_build_name"], "web");
            assert_eq!(l["amiforge_built_at"], "2024-01-01T00:00:00Z");
            assert_eq!(l["amiforge_manifest_sha256"], "ab".repeat(32));
            assert_eq!(l["amiforge_hardening_profile"], "cis-debian 1.0");
            assert_eq!(l["amiforge_hardening_report_sha256"], "r".repeat(64));
            assert_eq!(l["amiforge_hardening_profile_sha256"], "p".repeat(64));
            assert!(!l.contains_key("amiforge_dry_run"));
        }
        // the same images Packer's atlas metadata names
        let atlas = a.state("atlas.artifact.metadata");
        for i in &images {
            assert_eq!(atlas[format!("region.{}", i.provider_region)], i.image_id);
        }
    }

    #[test]
    fn a_dry_run_registers_what_its_id_names_marked_as_a_dry_run() {
        let a = artifact(true);
        let images = registry(&a);
        assert_eq!(images.len(), 1);
        assert_eq!(
            format!("{}:{}", images[0].provider_region, images[0].image_id),
            a.id()
        );
        assert_eq!(images[0].labels["amiforge_dry_run"], "true");
        // no builder data, no hardening, no run: no parent and no such labels
        assert_eq!(images[0].source_image_id, "");
        assert!(!images[0].labels.contains_key("amiforge_hardening_profile"));
        assert!(!images[0].labels.contains_key("amiforge_run_id"));
    }
}
