//! [`FakePacker`]: Packer's end of one plugin connection, in-process. It serves a component over
//! a yamux session on a socket pair (we play Packer: the yamux client, broker ids of Packer's
//! own) or talks to a plugin process's socket, and drives the component the way Packer 1.6.6
//! does: `Prepare`/`Configure` with `Configs`, then `Provision`/`PostProcess` with the
//! [`Callbacks`] served on a broker id it issued.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::callbacks::Callbacks;
use super::communicator::{RecordingCommunicator, Target};
use crate::artifact::ArtifactClient;
use crate::broker::Broker;
use crate::invocation::Kind;
use crate::mux::{MuxStream, Session};
use crate::plugin::{Factory, Plugin, serve_connection};
use crate::rpc::server::Handler;
use crate::rpc::value::{as_str, as_u64, get};
use crate::rpc::{RpcClient, RpcError, serve};
use crate::wire_spec::SpecFormat;

/// How long a stream, a dial or a whole `Provision`/`PostProcess` may take.
const STREAM_TIMEOUT: Duration = Duration::from_secs(5);
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// `{"Configs": parts}`: the argument of `Provisioner.Prepare` and `PostProcessor.Configure`.
pub fn configs(parts: Vec<rmpv::Value>) -> rmpv::Value {
    rmpv::Value::Map(vec![("Configs".into(), rmpv::Value::Array(parts))])
}

/// The map of Packer's build variables Packer 1.6.6 appends to a component's configuration.
pub fn build_variables(build_name: &str, builder_type: &str) -> rmpv::Value {
    rmpv::Value::Map(vec![
        ("packer_build_name".into(), build_name.into()),
        ("packer_builder_type".into(), builder_type.into()),
    ])
}

/// What `PostProcessor.PostProcess` answered.
pub struct PostProcessed {
    /// The component's error (`Err.Message`), if it failed.
    pub error: Option<String>,
    pub keep: bool,
    pub force_override: bool,
    /// The artifact it returned, connected on the id it announced.
    pub artifact: Option<ArtifactClient>,
}

/// Packer's end of one plugin connection.
pub struct FakePacker {
    broker: Arc<Broker>,
    plugin: Option<JoinHandle<Result<(), String>>>,
    rpc: OnceCell<RpcClient>,
}

impl FakePacker {
    /// Serves the component `factory` makes over an in-process connection (as
    /// `Plugin::main` would after the handshake) and connects to it.
    pub fn connect(factory: Factory, format: SpecFormat) -> FakePacker {
        let (a, b) = tokio::net::UnixStream::pair().expect("socket pair");
        let plugin = tokio::spawn(serve_connection(a.compat(), factory, format));
        FakePacker {
            plugin: Some(plugin),
            ..Self::over(b)
        }
    }

    /// [`connect`](Self::connect)s to component `name` of `kind` of `plugin`, with gob specs
    /// (Packer 1.6.6). Panics when there is no such component.
    pub fn start(plugin: &Plugin, kind: Kind, name: &str) -> FakePacker {
        let c = plugin
            .find(kind, name, false)
            .unwrap_or_else(|| panic!("{kind:?} {name} is not registered"));
        Self::connect(c.factory, SpecFormat::Gob)
    }

    /// Plays Packer over an established connection to a plugin (e.g. a plugin process's socket).
    pub fn over(io: tokio::net::UnixStream) -> FakePacker {
        let (session, inbound) = Session::start_with_mode(io.compat(), yamux::Mode::Client);
        FakePacker {
            broker: Broker::start(session, inbound),
            plugin: None,
            rpc: OnceCell::new(),
        }
    }

    /// Our broker (Packer's side of the session).
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// The session, e.g. to close it as Packer does at the end of a run.
    pub fn session(&self) -> &Session {
        self.broker.session()
    }

    /// Whether the in-process plugin has ended (false for a plugin process).
    pub fn plugin_finished(&self) -> bool {
        self.plugin.as_ref().is_some_and(JoinHandle::is_finished)
    }

    /// The in-process plugin's task (what `serve_connection` returns). Panics for a plugin
    /// process.
    pub fn into_plugin(self) -> JoinHandle<Result<(), String>> {
        self.plugin.expect("an in-process plugin")
    }

    /// Dials broker id 0, the component's RPC stream, as raw bytes (at most 5 s). The plugin
    /// accepts id 0 once: use this or [`rpc`](Self::rpc), not both.
    pub async fn stream0(&self) -> MuxStream {
        tokio::time::timeout(STREAM_TIMEOUT, self.broker.dial(0))
            .await
            .expect("dial 0 in time")
            .expect("dial 0")
    }

    /// The net/rpc client on stream 0 (dialed on first use).
    pub async fn rpc(&self) -> &RpcClient {
        self.rpc
            .get_or_init(|| async { RpcClient::new(self.stream0().await) })
            .await
    }

    /// A Communicator in front of `target` that dials through our broker.
    pub fn communicator(&self, target: Arc<dyn Target>) -> RecordingCommunicator {
        RecordingCommunicator::new(self.broker.clone(), target)
    }

    /// Issues a broker id of ours and serves `handler` there once the component connects.
    pub fn serve(&self, handler: Arc<dyn Handler>) -> u32 {
        let id = self.broker.next_id();
        let incoming = self.broker.expect(id);
        tokio::spawn(async move {
            if let Ok(s) = incoming.accept(STREAM_TIMEOUT).await {
                serve(s, handler).await;
            }
        });
        id
    }

    /// `Provisioner.Prepare` with `Configs` = `parts`.
    pub async fn prepare(&self, parts: Vec<rmpv::Value>) -> Result<rmpv::Value, RpcError> {
        let rpc = self.rpc().await;
        rpc.call("Provisioner.Prepare", &configs(parts)).await
    }

    /// Serves `callbacks` and starts `Provisioner.Provision` with `generated` as the build's
    /// generated data; the returned task ends with its reply.
    pub async fn start_provision(
        &self,
        callbacks: Arc<Callbacks>,
        generated: rmpv::Value,
    ) -> JoinHandle<Result<rmpv::Value, RpcError>> {
        let args = rmpv::Value::Map(vec![
            ("GeneratedData".into(), generated),
            ("StreamID".into(), self.serve(callbacks).into()),
        ]);
        let rpc = self.rpc().await.clone();
        tokio::spawn(async move { rpc.call("Provisioner.Provision", &args).await })
    }

    /// [`start_provision`](Self::start_provision) and its reply; panics after 30 s.
    pub async fn provision(
        &self,
        callbacks: Arc<Callbacks>,
        generated: rmpv::Value,
    ) -> Result<rmpv::Value, RpcError> {
        let call = self.start_provision(callbacks, generated).await;
        tokio::time::timeout(RUN_TIMEOUT, call)
            .await
            .expect("Provision within 30 s")
            .expect("the Provision call task")
    }

    /// `PostProcessor.Configure` with `Configs` = `parts`.
    pub async fn configure(&self, parts: Vec<rmpv::Value>) -> Result<rmpv::Value, RpcError> {
        let rpc = self.rpc().await;
        rpc.call("PostProcessor.Configure", &configs(parts)).await
    }

    /// Serves `callbacks` (input artifact + Ui) and runs `PostProcessor.PostProcess`; panics
    /// after 30 s.
    pub async fn post_process(&self, callbacks: Arc<Callbacks>) -> Result<PostProcessed, RpcError> {
        let id = self.serve(callbacks);
        let call = self.rpc().await.call("PostProcessor.PostProcess", &id);
        let reply = tokio::time::timeout(RUN_TIMEOUT, call)
            .await
            .expect("PostProcess within 30 s")?;
        let flag = |k: &str| matches!(get(&reply, k), Some(rmpv::Value::Boolean(true)));
        let error = get(&reply, "Err")
            .and_then(|e| get(e, "Message"))
            .and_then(as_str);
        let artifact = match get(&reply, "StreamId").and_then(as_u64).unwrap_or(0) {
            0 => None,
            id => {
                let id = u32::try_from(id).expect("a broker id");
                let s = tokio::time::timeout(STREAM_TIMEOUT, self.broker.dial(id))
                    .await
                    .expect("dial the artifact in time")
                    .expect("dial the artifact");
                Some(ArtifactClient::new(RpcClient::new(s)))
            }
        };
        Ok(PostProcessed {
            error,
            keep: flag("Keep"),
            force_override: flag("ForceOverride"),
            artifact,
        })
    }
}
