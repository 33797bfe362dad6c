//! Artifacts: what a builder or post-processor produced (for AWS, AMIs by region).
//!
//! [`ArtifactClient`] reads the artifact Packer hands a post-processor; [`Artifact`] is what a
//! post-processor returns, served to Packer by [`ArtifactService`] on a broker stream of ours for
//! the rest of the run (Packer calls `String`, `Id`, `State`, and `Destroy` when it discards it).

use std::sync::Arc;

use serde_json::Value as Json;

use crate::rpc::server::{Handler, Reply, no_method};
use crate::rpc::value::{as_str, to_json};
use crate::rpc::{NIL, RpcClient, RpcError, encode_body};

/// An artifact this plugin returns to Packer.
#[async_trait::async_trait]
pub trait Artifact: Send + Sync + 'static {
    /// Who made it, e.g. `mitchellh.amazonebs`; post-processors use it to recognise input.
    fn builder_id(&self) -> String;
    /// Machine-readable id; for AMIs `region:ami-id,…` sorted by region.
    fn id(&self) -> String;
    /// Local files that make up the artifact.
    fn files(&self) -> Vec<String> {
        Vec::new()
    }
    /// Human-readable description, shown in "Builds finished".
    fn string(&self) -> String;
    /// Named state; `generated_data` must be a map of strings (or null);
    /// `par.artifact.metadata` ([`crate::registry::ARTIFACT_STATE_URI`]) the artifact's images
    /// for the HCP Packer registry ([`crate::registry::to_state`]).
    fn state(&self, _name: &str) -> Json {
        Json::Null
    }
    /// Deletes what the artifact stands for.
    async fn destroy(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Serves an [`Artifact`] as Packer's `Artifact` RPC service.
pub struct ArtifactService(pub Arc<dyn Artifact>);

#[async_trait::async_trait]
impl Handler for ArtifactService {
    fn services(&self) -> &'static [&'static str] {
        &["Artifact"]
    }

    async fn call(&self, service: &str, method: &str, body: rmpv::Value) -> Reply {
        let a = &self.0;
        match method {
            "BuilderId" => encode_body(&a.builder_id()),
            "Id" => encode_body(&a.id()),
            "String" => encode_body(&a.string()),
            "Files" => encode_body(&a.files()),
            "State" => {
                let name = as_str(&body).ok_or("Artifact.State: the argument must be a string")?;
                encode_body(&a.state(&name))
            }
            // Go decodes this reply into `error`: anything but nil breaks the connection.
            "Destroy" => a.destroy().await.map(|()| NIL.to_vec()),
            _ => Err(no_method(service, method)),
        }
    }
}

/// The artifact Packer passes to a post-processor.
#[derive(Clone)]
pub struct ArtifactClient {
    rpc: RpcClient,
}

impl ArtifactClient {
    pub fn new(rpc: RpcClient) -> Self {
        ArtifactClient { rpc }
    }

    pub async fn builder_id(&self) -> Result<String, RpcError> {
        self.rpc.call_as("Artifact.BuilderId", &()).await
    }

    pub async fn id(&self) -> Result<String, RpcError> {
        self.rpc.call_as("Artifact.Id", &()).await
    }

    pub async fn string(&self) -> Result<String, RpcError> {
        self.rpc.call_as("Artifact.String", &()).await
    }

    pub async fn files(&self) -> Result<Vec<String>, RpcError> {
        let v = self.rpc.call("Artifact.Files", &()).await?;
        Ok(match v {
            rmpv::Value::Array(a) => a.iter().filter_map(as_str).collect(),
            _ => Vec::new(),
        })
    }

    /// `State(name)` as JSON (`null` when the builder has none).
    pub async fn state(&self, name: &str) -> Result<Json, RpcError> {
        Ok(to_json(&self.rpc.call("Artifact.State", name).await?))
    }

    pub async fn destroy(&self) -> Result<(), RpcError> {
        self.rpc.call("Artifact.Destroy", &()).await.map(drop)
    }
}

/// A plain artifact value, handy for components whose output is fully known when they return.
#[derive(Debug, Clone, Default)]
pub struct StaticArtifact {
    pub builder_id: String,
    pub id: String,
    pub files: Vec<String>,
    pub string: String,
    /// `State` by name (e.g. `generated_data`).
    pub state: serde_json::Map<String, Json>,
}

#[async_trait::async_trait]
impl Artifact for StaticArtifact {
    fn builder_id(&self) -> String {
        self.builder_id.clone()
    }
    fn id(&self) -> String {
        self.id.clone()
    }
    fn files(&self) -> Vec<String> {
        self.files.clone()
    }
    fn string(&self) -> String {
        self.string.clone()
    }
    fn state(&self, name: &str) -> Json {
        self.state.get(name).cloned().unwrap_or(Json::Null)
    }
}
