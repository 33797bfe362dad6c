//! Calling Packer's net/rpc services (Ui, Communicator, Artifact) over one stream.
//!
//! Calls may overlap; each gets the next `Seq` and waits for the reply with that `Seq`. A reply
//! whose header cannot be read shuts the client down, as Go's client does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

use super::{Header, RequestHeader, server::spawn_writer};
use crate::msgpack::ValueReader;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The call reached Packer and failed there; the text is Packer's.
    #[error("{0}")]
    Remote(String),
    #[error("connection is shut down")]
    Shutdown,
    #[error("{method}: cannot encode the request: {reason}")]
    Encode { method: String, reason: String },
    #[error("{method}: unexpected reply: {reason}")]
    Decode { method: String, reason: String },
}

type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Result<rmpv::Value, RpcError>>>>>>;

/// A net/rpc client; clones share the stream. The stream is half-closed when the last clone
/// is dropped.
#[derive(Clone)]
pub struct RpcClient {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    pending: Pending,
    seq: Arc<AtomicU64>,
}

impl RpcClient {
    pub fn new<S>(stream: S) -> RpcClient
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, w) = tokio::io::split(stream);
        let tx = spawn_writer(w);
        let pending: Pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let p = pending.clone();
        tokio::spawn(async move {
            let mut reader = ValueReader::new(r);
            loop {
                let header = match reader.next().await {
                    Ok(Some(h)) => h,
                    _ => break,
                };
                let body = match reader.next().await {
                    Ok(Some(b)) => b,
                    _ => break,
                };
                let Ok(h) = Header::from_value(&header) else {
                    tracing::warn!("rpc client: unreadable reply header; shutting down");
                    break;
                };
                let waiter = lock(&p).as_mut().and_then(|m| m.remove(&h.seq));
                if let Some(w) = waiter {
                    let r = if h.error.is_empty() {
                        Ok(body)
                    } else {
                        Err(RpcError::Remote(h.error))
                    };
                    let _ = w.send(r);
                }
            }
            // fail whatever is still waiting, refuse new calls
            if let Some(m) = lock(&p).take() {
                for (_, w) in m {
                    let _ = w.send(Err(RpcError::Shutdown));
                }
            }
        });
        RpcClient {
            tx,
            pending,
            seq: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Calls `method` with `arg`; returns the raw reply body.
    pub async fn call<A: Serialize + ?Sized>(
        &self,
        method: &str,
        arg: &A,
    ) -> Result<rmpv::Value, RpcError> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let enc = |e: rmp_serde::encode::Error| RpcError::Encode {
            method: method.to_string(),
            reason: e.to_string(),
        };
        let mut buf = rmp_serde::to_vec_named(&RequestHeader {
            service_method: method,
            seq,
        })
        .map_err(enc)?;
        rmp_serde::encode::write_named(&mut buf, arg).map_err(enc)?;
        let (tx, rx) = oneshot::channel();
        match lock(&self.pending).as_mut() {
            Some(m) => {
                m.insert(seq, tx);
            }
            None => return Err(RpcError::Shutdown),
        }
        if self.tx.send(buf).is_err() {
            if let Some(m) = lock(&self.pending).as_mut() {
                m.remove(&seq);
            }
            return Err(RpcError::Shutdown);
        }
        rx.await.map_err(|_| RpcError::Shutdown)?
    }

    /// Calls `method` and decodes the reply into `R`.
    pub async fn call_as<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        method: &str,
        arg: &A,
    ) -> Result<R, RpcError> {
        let v = self.call(method, arg).await?;
        rmpv::ext::from_value(v).map_err(|e| RpcError::Decode {
            method: method.to_string(),
            reason: e.to_string(),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
