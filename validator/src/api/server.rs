//! Serving the API: the listener (TCP, with TLS when configured, refused beyond loopback without
//! TLS and authentication; or a unix socket for its owner), the service with the standard
//! `grpc.health.v1` beside it, message limits that fit the largest report an allowed request
//! produces, and shutdown: stop accepting, cancel every run, wait for all their cleanups.

use std::sync::Arc;

use amiforge_aws::client::Clients;
use tokio_stream::wrappers::{TcpListenerStream, UnixListenerStream};
use tokio_util::sync::CancellationToken;

use super::config::ServeConfig;
use super::generated::validator_server::ValidatorServer;
use super::limits::{InstanceLimit, Runs};
use super::listen::{Listen, Reach, SocketFile, exposure, reach};
use super::service::ValidatorService;

/// The largest message either side takes: a report of `--max-targets` AMIs on many instance
/// types fits (the gate's client takes as much).
pub const MAX_MESSAGE: usize = amiforge_validator_api::client::MAX_MESSAGE;

/// Serves the API as `config` says until `stop` is cancelled, then stops accepting, cancels every
/// run, waits until each has cleaned up and returns. `ready` is called with the address listened
/// on (`127.0.0.1:PORT` with the chosen port, or `unix:/path`) once connections are accepted.
pub async fn serve(
    clients: Clients,
    config: ServeConfig,
    stop: CancellationToken,
    ready: impl FnOnce(&str),
) -> Result<(), String> {
    let stop = stop.child_token();
    let tls = config.tls.config()?;
    let svc = ValidatorService::new(
        Arc::new(clients),
        InstanceLimit::new(config.max_instances),
        Runs::new(config.max_runs, config.max_runs_per_caller),
        config.auth.clone(),
        config.admission.clone(),
        stop.clone(),
    );
    let tasks = svc.tasks().clone();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<ValidatorServer<ValidatorService>>()
        .await;
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = tls.clone() {
        builder = builder
            .tls_config(tls)
            .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
    }
    let router = builder.add_service(health).add_service(
        ValidatorServer::new(svc)
            .max_decoding_message_size(MAX_MESSAGE)
            .max_encoding_message_size(MAX_MESSAGE),
    );
    let signal = {
        let stop = stop.clone();
        async move {
            stop.cancelled().await;
            tracing::info!("stopping: no new calls; cancelling runs and waiting for their cleanup");
            reporter
                .set_not_serving::<ValidatorServer<ValidatorService>>()
                .await;
        }
    };
    let served = match &config.listen {
        Listen::Tcp(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("--listen {addr}: {e}"))?;
            let local = l
                .local_addr()
                .map_err(|e| format!("--listen {addr}: {e}"))?;
            if let Some(warning) = exposure(reach(&local), config.protection())? {
                tracing::warn!("{warning}");
                eprintln!("amiforge-validator: {warning}");
            }
            ready(&local.to_string());
            router
                .serve_with_incoming_shutdown(TcpListenerStream::new(l), signal)
                .await
        }
        Listen::Unix(path) => {
            exposure(Reach::Unix, config.protection())?;
            if tls.is_some() {
                return Err("--tls-cert: TLS is for TCP listeners; a unix socket is local".into());
            }
            let (_file, l) = SocketFile::bind(path, config.socket_group)?;
            ready(&format!("unix:{}", path.display()));
            router
                .serve_with_incoming_shutdown(UnixListenerStream::new(l), signal)
                .await
        }
    };
    // also when serving failed: no run outlives the server, and every one cleans up
    stop.cancel();
    tasks.close();
    tasks.wait().await;
    served.map_err(|e| format!("serving: {e}"))
}
