//! Provisioners: the [`Provisioner`] trait a component implements, and the `Provisioner` RPC
//! service that adapts it to Packer (`ConfigSpec`, `Prepare`, `Provision`, `Cancel` on stream 0).
//!
//! `Prepare` builds a fresh component value from the decoded configuration each time it is called
//! (HCL2 calls it twice). `Provision` dials the stream Packer names, where Packer serves `Ui` and
//! `Communicator` on one connection, and runs the component with a cancellation token that
//! `Cancel` (or Packer going away) trips.

use std::sync::Arc;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::communicator::Communicator;
use crate::config::{ConfigErrors, PackerConfig};
use crate::lifecycle::{Built, Running, Slot, build_from_configs};
use crate::rpc::server::{Handler, Reply, no_method};
use crate::rpc::value::{get, to_json};
use crate::rpc::{NIL, RpcClient};
use crate::secrets;
use crate::spec::HclSpec;
use crate::ui::Ui;
use crate::wire_spec::{SpecFormat, config_spec_reply};

/// Everything a running provisioner can use.
pub struct ProvisionContext {
    pub ui: Ui,
    pub comm: Communicator,
    /// The builder's generated data (`Host`, `Port`, `User`, `ID`, …); secrets in it are
    /// registered for redaction.
    pub generated: serde_json::Map<String, serde_json::Value>,
    pub packer: PackerConfig,
    /// Tripped by `Provisioner.Cancel` or when Packer goes away.
    pub cancel: CancellationToken,
}

/// A provisioner component.
#[async_trait::async_trait]
pub trait Provisioner: Sized + Send + Sync + 'static {
    /// The configuration; its `HclSpec` is the component's ConfigSpec.
    type Config: HclSpec + DeserializeOwned + Send;

    /// Checks the configuration and builds the component (called on `packer validate` and
    /// before every run; errors name the field).
    fn prepare(config: Self::Config, packer: &PackerConfig) -> Result<Self, ConfigErrors>;

    /// Provisions the machine.
    async fn provision(&self, ctx: ProvisionContext) -> anyhow::Result<()>;
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProvisionArgs {
    #[serde(rename = "StreamID", alias = "StreamId")]
    stream_id: u32,
}

/// The `Provisioner` RPC service for component `P`.
pub struct ProvisionerService<P: Provisioner> {
    broker: Arc<Broker>,
    format: SpecFormat,
    prepared: Slot<P>,
    running: Running,
}

impl<P: Provisioner> ProvisionerService<P> {
    pub fn new(broker: Arc<Broker>, format: SpecFormat) -> Self {
        ProvisionerService {
            broker,
            format,
            prepared: Slot::default(),
            running: Running::default(),
        }
    }

    async fn provision(&self, body: rmpv::Value) -> Reply {
        let Built { component, packer } = self
            .prepared
            .get()
            .ok_or("Provisioner.Provision called before Prepare")?;
        let generated = match to_json(get(&body, "GeneratedData").unwrap_or(&rmpv::Value::Nil)) {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        for key in ["Password", "WinRMPassword", "SSHPrivateKey"] {
            if let Some(serde_json::Value::String(s)) = generated.get(key) {
                secrets::register(s);
            }
        }
        let args: ProvisionArgs = rmpv::ext::from_value(body)
            .map_err(|e| format!("Provisioner.Provision: bad arguments: {e}"))?;
        let stream = self
            .broker
            .dial(args.stream_id)
            .await
            .map_err(|e| format!("Provisioner.Provision: {e}"))?;
        let rpc = RpcClient::new(stream);
        let result = self
            .running
            .run(self.broker.session(), |cancel| {
                component.provision(ProvisionContext {
                    ui: Ui::new(rpc.clone()),
                    comm: Communicator::new(rpc, self.broker.clone()),
                    generated,
                    packer,
                    cancel,
                })
            })
            .await;
        result.map(|()| NIL.to_vec()).map_err(|e| format!("{e:#}"))
    }
}

#[async_trait::async_trait]
impl<P: Provisioner> Handler for ProvisionerService<P> {
    fn services(&self) -> &'static [&'static str] {
        &["Provisioner"]
    }

    async fn call(&self, service: &str, method: &str, body: rmpv::Value) -> Reply {
        match method {
            "ConfigSpec" => config_spec_reply::<P::Config>(&self.format),
            "Prepare" => {
                let built = build_from_configs("Provisioner.Prepare", &body, P::prepare)?;
                self.prepared.set(built);
                Ok(NIL.to_vec())
            }
            "Provision" => self.provision(body).await,
            "Cancel" => {
                self.running.cancel("provisioner");
                Ok(NIL.to_vec())
            }
            _ => Err(no_method(service, method)),
        }
    }
}
