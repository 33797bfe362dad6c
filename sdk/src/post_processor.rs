//! Post-processors: the [`PostProcessor`] trait and the `PostProcessor` RPC service
//! (`ConfigSpec`, `Configure`, `PostProcess`, `Cancel` on stream 0).
//!
//! `PostProcess` receives a Packer-issued broker id where Packer serves the input `Artifact` and
//! `Ui`. A returned artifact is served on an id of ours for the rest of the run. Remember Packer's
//! rule: when a post-processor fails or returns no artifact, Packer destroys the *input* artifact
//! (for amazon-ebs: deregisters the AMI) unless another post-processor kept it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::artifact::{Artifact, ArtifactClient, ArtifactService};
use crate::broker::Broker;
use crate::config::{self, ConfigErrors, PackerConfig};
use crate::provisioner::lock;
use crate::rpc::server::{Handler, Reply, no_method};
use crate::rpc::value::{as_array, as_u64, get};
use crate::rpc::{NIL, RpcClient, encode_body, serve};
use crate::secrets;
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

struct Configured<P> {
    component: Arc<P>,
    packer: PackerConfig,
}

/// The `PostProcessor` RPC service for component `P`.
pub struct PostProcessorService<P: PostProcessor> {
    broker: Arc<Broker>,
    format: SpecFormat,
    configured: Mutex<Option<Configured<P>>>,
    running: Mutex<Option<CancellationToken>>,
}

impl<P: PostProcessor> PostProcessorService<P> {
    pub fn new(broker: Arc<Broker>, format: SpecFormat) -> Self {
        PostProcessorService {
            broker,
            format,
            configured: Mutex::new(None),
            running: Mutex::new(None),
        }
    }

    fn configure(&self, body: &rmpv::Value) -> Reply {
        let configs = get(body, "Configs")
            .and_then(as_array)
            .ok_or("PostProcessor.Configure: missing Configs")?;
        let d = config::decode::<P::Config>(configs).map_err(|e| e.to_string())?;
        for s in &d.packer.sensitive_variables {
            secrets::register(s);
        }
        let component = P::configure(d.config, &d.packer).map_err(|e| e.to_string())?;
        *lock(&self.configured) = Some(Configured {
            component: Arc::new(component),
            packer: d.packer,
        });
        Ok(NIL.to_vec())
    }

    async fn post_process(&self, body: rmpv::Value) -> Reply {
        let (component, packer) = match &*lock(&self.configured) {
            Some(c) => (c.component.clone(), c.packer.clone()),
            None => return Err("PostProcessor.PostProcess called before Configure".into()),
        };
        let id = as_u64(&body)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or("PostProcessor.PostProcess: the argument must be a broker id")?;
        let stream = self
            .broker
            .dial(id)
            .await
            .map_err(|e| format!("PostProcessor.PostProcess: {e}"))?;
        let rpc = RpcClient::new(stream);
        let cancel = CancellationToken::new();
        *lock(&self.running) = Some(cancel.clone());
        let session = self.broker.session().clone();
        let ctx = PostProcessContext {
            ui: Ui::new(rpc.clone()),
            input: ArtifactClient::new(rpc),
            packer,
            cancel,
        };
        let result = tokio::select! {
            r = component.post_process(ctx) => r,
            _ = session.closed() => Err(anyhow::anyhow!("connection to Packer lost")),
        };
        lock(&self.running).take();
        let reply = match result {
            Err(e) => PostProcessReply {
                err: Some(BasicError {
                    message: format!("{e:#}"),
                }),
                keep: false,
                force_override: false,
                stream_id: 0,
            },
            Ok(out) => {
                let stream_id = match out.artifact {
                    Some(a) => self.serve_artifact(a),
                    None => 0,
                };
                PostProcessReply {
                    err: None,
                    keep: out.keep,
                    force_override: out.force_override,
                    stream_id,
                }
            }
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
            "Configure" => self.configure(&body),
            "PostProcess" => self.post_process(body).await,
            "Cancel" => {
                if let Some(t) = lock(&self.running).as_ref() {
                    tracing::info!("Packer cancelled the post-processor");
                    t.cancel();
                }
                Ok(NIL.to_vec())
            }
            _ => Err(no_method(service, method)),
        }
    }
}
