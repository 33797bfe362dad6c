//! Post-processors: the [`PostProcessor`] trait and the `PostProcessor` RPC service
//! (`ConfigSpec`, `Configure`, `PostProcess`, `Cancel` on stream 0).
//!
//! `PostProcess` receives a Packer-issued broker id where Packer serves the input `Artifact` and
//! `Ui`. A returned artifact is served on an id of ours for the rest of the run. Remember Packer's
//! rule: when a post-processor fails or returns no artifact, Packer destroys the *input* artifact
//! (for amazon-ebs: deregisters the AMI) unless another post-processor kept it.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::artifact::{Artifact, ArtifactClient, ArtifactService};
use crate::broker::Broker;
use crate::config::{ConfigErrors, PackerConfig};
use crate::lifecycle::{Built, Running, Slot, build_from_configs};
use crate::rpc::server::{Handler, Reply, no_method};
use crate::rpc::value::as_u64;
use crate::rpc::{NIL, RpcClient, encode_body, serve};
use crate::spec::HclSpec;
use crate::ui::Ui;
use crate::wire_spec::{SpecFormat, config_spec_reply};

/// How long Packer may take to connect to an artifact we return.
const ARTIFACT_ACCEPT: Duration = Duration::from_secs(30);

/// Everything a running post-processor can use.
pub struct PostProcessContext {
    pub ui: Ui,
    /// The artifact of the builder or the previous post-processor.
    pub input: ArtifactClient,
    pub packer: PackerConfig,
    /// Tripped by `PostProcessor.Cancel` (Ctrl-C) or when Packer goes away.
    pub cancel: CancellationToken,
}

/// What a post-processor hands back to Packer.
pub struct PostProcessOutput {
    /// The new artifact; `None` makes Packer treat the step as producing nothing (and destroy
    /// the input unless kept elsewhere).
    pub artifact: Option<Arc<dyn Artifact>>,
    /// Keep the input artifact (the user's `keep_input_artifact` overrides this unless
    /// `force_override`).
    pub keep: bool,
    pub force_override: bool,
}

/// A post-processor component.
#[async_trait::async_trait]
pub trait PostProcessor: Sized + Send + Sync + 'static {
    type Config: HclSpec + DeserializeOwned + Send;

    /// Checks the configuration and builds the component (may run more than once).
    fn configure(config: Self::Config, packer: &PackerConfig) -> Result<Self, ConfigErrors>;

    /// Processes the input artifact.
    async fn post_process(&self, ctx: PostProcessContext) -> anyhow::Result<PostProcessOutput>;
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PostProcessReply {
    err: Option<BasicError>,
    keep: bool,
    force_override: bool,
    stream_id: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BasicError {
    message: String,
}

/// The `PostProcessor` RPC service for component `P`.
pub struct PostProcessorService<P: PostProcessor> {
    broker: Arc<Broker>,
    format: SpecFormat,
    configured: Slot<P>,
    running: Running,
}

impl<P: PostProcessor> PostProcessorService<P> {
    pub fn new(broker: Arc<Broker>, format: SpecFormat) -> Self {
        PostProcessorService {
            broker,
            format,
            configured: Slot::default(),
            running: Running::default(),
        }
    }

    async fn post_process(&self, body: rmpv::Value) -> Reply {
        let Built { component, packer } = self
            .configured
            .get()
            .ok_or("PostProcessor.PostProcess called before Configure")?;
        let id = as_u64(&body)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or("PostProcessor.PostProcess: the argument must be a broker id")?;
        let stream = self
            .broker
            .dial(id)
            .await
            .map_err(|e| format!("PostProcessor.PostProcess: {e}"))?;
        let rpc = RpcClient::new(stream);
        let result = self
            .running
            .run(self.broker.session(), |cancel| {
                component.post_process(PostProcessContext {
                    ui: Ui::new(rpc.clone()),
                    input: ArtifactClient::new(rpc),
                    packer,
                    cancel,
                })
            })
            .await;
        let reply = match result {
            Err(e) => PostProcessReply {
                err: Some(BasicError {
                    message: format!("{e:#}"),
                }),
                keep: false,
                force_override: false,
                stream_id: 0,
            },
            Ok(out) => PostProcessReply {
                err: None,
                keep: out.keep,
                force_override: out.force_override,
                stream_id: out.artifact.map_or(0, |a| self.serve_artifact(a)),
            },
        };
        encode_body(&reply)
    }

    /// Issues an id, and serves `a` there once Packer connects (for the rest of the run).
    fn serve_artifact(&self, a: Arc<dyn Artifact>) -> u32 {
        let incoming = self.broker.expect(self.broker.next_id());
        let id = incoming.id();
        tokio::spawn(async move {
            match incoming.accept(ARTIFACT_ACCEPT).await {
                Ok(s) => serve(s, Arc::new(ArtifactService(a))).await,
                Err(e) => tracing::warn!(error = %e, "Packer never connected to our artifact"),
            }
        });
        id
    }
}

#[async_trait::async_trait]
impl<P: PostProcessor> Handler for PostProcessorService<P> {
    fn services(&self) -> &'static [&'static str] {
        &["PostProcessor"]
    }

    async fn call(&self, service: &str, method: &str, body: rmpv::Value) -> Reply {
        match method {
            "ConfigSpec" => config_spec_reply::<P::Config>(&self.format),
            "Configure" => {
                let built = build_from_configs("PostProcessor.Configure", &body, P::configure)?;
                self.configured.set(built);
                Ok(NIL.to_vec())
            }
            "PostProcess" => self.post_process(body).await,
            "Cancel" => {
                self.running.cancel("post-processor");
                Ok(NIL.to_vec())
            }
            _ => Err(no_method(service, method)),
        }
    }
}
