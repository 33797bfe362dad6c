//! Serving net/rpc calls on one stream.
//!
//! The read loop only frames and dispatches: each call runs in its own task, so a long
//! `Provision` never blocks the `Cancel` that follows it on the same stream. Replies go through a
//! single writer task, header and body in one write.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::{EMPTY_STRUCT, Header, ResponseHeader};
use crate::msgpack::ValueReader;

/// What a call returns: the encoded msgpack body, or the error text sent in the header.
pub type Reply = Result<Vec<u8>, String>;

/// A set of services on one stream.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Services this handler serves (for net/rpc's "can't find service" message).
    fn services(&self) -> &'static [&'static str];
    /// Handles `method` of `service` with the decoded request body.
    async fn call(&self, service: &str, method: &str, body: rmpv::Value) -> Reply;
}

/// net/rpc's text for an unknown method of a known service.
pub fn no_method(service: &str, method: &str) -> String {
    format!("rpc: can't find method {service}.{method}")
}

/// Serves `handler` on `stream` until the peer closes it or sends something unreadable.
pub async fn serve<S>(stream: S, handler: Arc<dyn Handler>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (r, w) = tokio::io::split(stream);
    let tx = spawn_writer(w);
    let mut reader = ValueReader::new(r);
    loop {
        let header = match reader.next().await {
            Ok(Some(v)) => v,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "rpc server: unreadable request; closing stream");
                break;
            }
        };
        let body = match reader.next().await {
            Ok(Some(v)) => v,
            Ok(None) | Err(_) => {
                tracing::warn!("rpc server: stream ended before a request body; closing stream");
                break;
            }
        };
        let header = match Header::from_value(&header) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "rpc server: bad request header; closing stream");
                break;
            }
        };
        let handler = handler.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let reply = dispatch(&*handler, &header.service_method, body).await;
            let (err, body) = match &reply {
                Ok(b) => ("", b.as_slice()),
                Err(e) => (e.as_str(), EMPTY_STRUCT),
            };
            if !err.is_empty() {
                tracing::debug!(method = %header.service_method, error = %err, "rpc call failed");
            }
            let mut out = match rmp_serde::to_vec_named(&ResponseHeader {
                service_method: &header.service_method,
                seq: header.seq,
                error: err,
            }) {
                Ok(h) => h,
                Err(e) => {
                    tracing::error!(error = %e, "rpc server: cannot encode a response header");
                    return;
                }
            };
            out.extend_from_slice(body);
            let _ = tx.send(out);
        });
    }
}

async fn dispatch(handler: &dyn Handler, service_method: &str, body: rmpv::Value) -> Reply {
    let Some((service, method)) = service_method.rsplit_once('.') else {
        return Err(format!(
            "rpc: service/method request ill-formed: {service_method}"
        ));
    };
    if !handler.services().contains(&service) {
        return Err(format!("rpc: can't find service {service_method}"));
    }
    handler.call(service, method, body).await
}

/// Starts the task that owns the write half; dropping every sender half-closes the stream.
pub(crate) fn spawn_writer<W>(mut w: W) -> mpsc::UnboundedSender<Vec<u8>>
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        while let Some(buf) = rx.recv().await {
            if let Err(e) = w.write_all(&buf).await {
                tracing::debug!(error = %e, "rpc: write failed");
                return;
            }
            if let Err(e) = w.flush().await {
                tracing::debug!(error = %e, "rpc: flush failed");
                return;
            }
        }
        let _ = w.shutdown().await;
    });
    tx
}
