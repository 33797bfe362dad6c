//! What the `Provisioner` and `PostProcessor` services share: building the component from the
//! `Configs` Packer sends, and the one running operation that `Cancel` (or Packer leaving) stops.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::config::{self, ConfigErrors, PackerConfig};
use crate::mux::Session;
use crate::rpc::value::{as_array, get};
use crate::secrets;
use crate::spec::HclSpec;

/// A component built by the last successful `Prepare`/`Configure`.
pub(crate) struct Built<T> {
    pub component: Arc<T>,
    pub packer: PackerConfig,
}

impl<T> Clone for Built<T> {
    fn clone(&self) -> Self {
        Built {
            component: self.component.clone(),
            packer: self.packer.clone(),
        }
    }
}

/// Decodes `{Configs: […]}` into config type `C` and builds the component with `build`.
/// Sensitive variable values are registered for masking before anything can print them.
pub(crate) fn build_from_configs<C, T>(
    method: &str,
    body: &rmpv::Value,
    build: impl FnOnce(C, &PackerConfig) -> Result<T, ConfigErrors>,
) -> Result<Built<T>, String>
where
    C: HclSpec + DeserializeOwned,
{
    let configs = get(body, "Configs")
        .and_then(as_array)
        .ok_or_else(|| format!("{method}: missing Configs"))?;
    let d = config::decode::<C>(configs).map_err(|e| e.to_string())?;
    for s in &d.packer.sensitive_variables {
        secrets::register(s);
    }
    let component = build(d.config, &d.packer).map_err(|e| e.to_string())?;
    Ok(Built {
        component: Arc::new(component),
        packer: d.packer,
    })
}

/// The slot for the latest built component.
pub(crate) struct Slot<T>(Mutex<Option<Built<T>>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(Mutex::new(None))
    }
}

impl<T> Slot<T> {
    pub fn set(&self, b: Built<T>) {
        *lock(&self.0) = Some(b);
    }

    pub fn get(&self) -> Option<Built<T>> {
        lock(&self.0).clone()
    }
}

/// The operation in flight (at most one per component instance).
#[derive(Default)]
pub(crate) struct Running(Mutex<Option<CancellationToken>>);

impl Running {
    /// Runs `op` with a fresh token that [`Running::cancel`] trips; gives up with an error if
    /// Packer goes away first.
    pub async fn run<F, Fut, R>(&self, session: &Session, op: F) -> anyhow::Result<R>
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = anyhow::Result<R>>,
    {
        let token = CancellationToken::new();
        *lock(&self.0) = Some(token.clone());
        let result = tokio::select! {
            r = op(token) => r,
            _ = session.closed() => Err(anyhow::anyhow!("connection to Packer lost")),
        };
        lock(&self.0).take();
        result
    }

    /// Cancels the operation in flight, if any.
    pub fn cancel(&self, what: &str) {
        if let Some(t) = lock(&self.0).as_ref() {
            tracing::info!("Packer cancelled the {what}");
            t.cancel();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // a panic while holding one of these locks leaves nothing half-updated
    m.lock().unwrap_or_else(|p| p.into_inner())
}
