//! Provisioners: the [`Provisioner`] trait a component implements, and the `Provisioner` RPC
//! service that adapts it to Packer (`ConfigSpec`, `Prepare`, `Provision`, `Cancel` on stream 0).
//!
//! `Prepare` builds a fresh component value from the decoded configuration each time it is called
//! (HCL2 calls it twice). `Provision` dials the stream Packer names, where Packer serves `Ui` and
//! `Communicator` on one connection, and runs the component with a cancellation token that
//! `Cancel` (or Packer going away) trips.

use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::communicator::Communicator;
use crate::config::{self, ConfigErrors, PackerConfig};
use crate::rpc::server::{Handler, Reply, no_method};
use crate::rpc::value::{as_array, get, to_json};
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

struct Prepared<P> {
    component: Arc<P>,
    packer: PackerConfig,
}

/// The `Provisioner` RPC service for component `P`.
pub struct ProvisionerService<P: Provisioner> {
    broker: Arc<Broker>,
    format: SpecFormat,
    prepared: Mutex<Option<Prepared<P>>>,
    running: Mutex<Option<CancellationToken>>,
}

impl<P: Provisioner> ProvisionerService<P> {
    pub fn new(broker: Arc<Broker>, format: SpecFormat) -> Self {
        ProvisionerService {
            broker,
            format,
            prepared: Mutex::new(None),
            running: Mutex::new(None),
        }
    }

    fn prepare(&self, body: &rmpv::Value) -> Reply {
        let configs = get(body, "Configs")
            .and_then(as_array)
            .ok_or("Provisioner.Prepare: missing Configs")?;
        let d = config::decode::<P::Config>(configs).map_err(|e| e.to_string())?;
        for s in &d.packer.sensitive_variables {
            secrets::register(s);
        }
        let component = P::prepare(d.config, &d.packer).map_err(|e| e.to_string())?;
        *lock(&self.prepared) = Some(Prepared {
            component: Arc::new(component),
            packer: d.packer,
        });
        Ok(NIL.to_vec())
    }

    async fn provision(&self, body: rmpv::Value) -> Reply {
        let (component, packer) = match &*lock(&self.prepared) {
            Some(p) => (p.component.clone(), p.packer.clone()),
            None => return Err("Provisioner.Provision called before Prepare".into()),
        };
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
        let cancel = CancellationToken::new();
        *lock(&self.running) = Some(cancel.clone());
        let session = self.broker.session().clone();
        let ctx = ProvisionContext {
            ui: Ui::new(rpc.clone()),
            comm: Communicator::new(rpc, self.broker.clone()),
            generated,
            packer,
            cancel: cancel.clone(),
        };
        let result = tokio::select! {
            r = component.provision(ctx) => r,
            _ = session.closed() => Err(anyhow::anyhow!("connection to Packer lost")),
        };
        lock(&self.running).take();
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
            "Prepare" => self.prepare(&body),
            "Provision" => self.provision(body).await,
            "Cancel" => {
                if let Some(t) = lock(&self.running).as_ref() {
                    tracing::info!("Packer cancelled the provisioner");
                    t.cancel();
                }
                Ok(NIL.to_vec())
            }
            _ => Err(no_method(service, method)),
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
