//! Shared by the gRPC tests: a one-region release as manifest JSON, a Validate request with short
//! polls, a server in this process on a unix socket, and every event of one Validate call.

use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_validator::api::config::ServeConfig;
use amiforge_validator::api::listen::Listen;
use amiforge_validator::api::server;
use amiforge_validator_api::client::{Client, connect};
use amiforge_validator_api::pb;
use amiforge_validator_api::pb::validate_event::Event as E;
use tokio_util::sync::CancellationToken;

/// The region the gRPC tests' releases and runs are in.
pub const REGION: &str = "eu-west-1";

/// A one-region release (what replicate makes), as manifest JSON bytes.
pub async fn release(c: &Clients, region: &str) -> Vec<u8> {
    let m = super::release(c, &[region]).await;
    serde_json::to_vec(&m).unwrap()
}

/// A request for the release with short polls, on the given instance types.
pub fn request(manifest: &[u8], instance_types: &[&str]) -> pb::ValidateRequest {
    pb::ValidateRequest {
        manifest_json: manifest.to_vec(),
        launch: Some(pb::Launch {
            instance_types: instance_types.iter().map(|t| t.to_string()).collect(),
            timeout: "30s".into(),
            poll_interval: "100ms".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A server in this process on a unix socket in a temporary directory.
pub struct Served {
    pub addr: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), String>>,
    _dir: tempfile::TempDir,
}

pub async fn serve(c: Clients, max_instances: usize) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let listen = Listen::Unix(dir.path().join("validator.sock"));
    serve_with(c, ServeConfig::local(listen, max_instances), dir).await
}

/// A server in this process as `config` says (its files in `dir`, kept while it runs).
pub async fn serve_with(c: Clients, config: ServeConfig, dir: tempfile::TempDir) -> Served {
    let stop = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = stop.clone();
    let task = tokio::spawn(async move {
        server::serve(c, config, s, move |a| {
            let _ = tx.send(a.to_string());
        })
        .await
    });
    let addr = rx.await.expect("the server is ready");
    Served {
        addr,
        stop,
        task,
        _dir: dir,
    }
}

impl Served {
    pub async fn client(&self) -> Client {
        connect(&self.addr).await.unwrap()
    }

    pub async fn shutdown(self) {
        self.stop.cancel();
        let done = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        done.expect("the server stops").unwrap().unwrap();
    }
}

/// Every event of one Validate call, in order.
pub async fn events(c: &mut Client, req: pb::ValidateRequest) -> Result<Vec<E>, tonic::Status> {
    let mut stream = c.validate(req).await?.into_inner();
    let mut out = Vec::new();
    while let Some(e) = stream.message().await? {
        out.push(e.event.expect("every event has a kind"));
    }
    Ok(out)
}
