//! The gRPC service and its listener. `Validate` runs each validation in a task of its own: events
//! stream as they happen, the verdict with the JSON report comes last; a client that goes away
//! cancels its run, and the task lives on until the run's cleanup is done. `Sweep` and `Health`
//! (plus the standard `grpc.health.v1` service). Listens on TCP or a unix socket; shutting down
//! stops accepting, cancels every run and waits for all their cleanups.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_model::artifact;
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream, UnixListenerStream};
use tokio_util::sync::{CancellationToken, DropGuard};
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

use amiforge_validator_api::{FieldErrors, convert, pb};

use super::limit::InstanceLimit;
use super::service::validator_server::{Validator, ValidatorServer};
use crate::events::{Event, Sink};
use crate::sweep::{self, Scope};

/// How often a sweep looks whether its instances are gone.
const SWEEP_POLL: Duration = Duration::from_secs(2);

/// Where a server listens: `HOST:PORT` (TCP; port 0 picks a free one) or `unix:/path/to.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(String),
    Unix(PathBuf),
}

impl Listen {
    pub fn parse(s: &str) -> Result<Listen, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!(
                    "{s:?}: give the socket's path, e.g. unix:/run/amiforge-validator.sock"
                ));
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Listen::Tcp(s.to_string()))
            }
            _ => Err(format!(
                "{s:?}: use HOST:PORT (e.g. 127.0.0.1:7070) or unix:/path/to.sock"
            )),
        }
    }
}

/// The `amiforge.validator.v1.Validator` service.
#[derive(Clone)]
pub struct ValidatorService {
    clients: Arc<Clients>,
    limit: InstanceLimit,
    runs: TaskTracker,
    stop: CancellationToken,
}

impl ValidatorService {
    /// A service whose runs share `limit` and are all cancelled by `stop`.
    pub fn new(clients: Arc<Clients>, limit: InstanceLimit, stop: CancellationToken) -> Self {
        ValidatorService {
            clients,
            limit,
            runs: TaskTracker::new(),
            stop,
        }
    }

    /// The tasks of the runs in progress (each ends after its run's cleanup).
    pub fn runs(&self) -> &TaskTracker {
        &self.runs
    }
}

/// The events of one `Validate` call; dropping it (the client went away) cancels the run.
pub struct EventStream {
    events: ReceiverStream<Result<pb::ValidateEvent, Status>>,
    _cancel_on_drop: DropGuard,
}

impl Stream for EventStream {
    type Item = Result<pb::ValidateEvent, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.events).poll_next(cx)
    }
}

#[tonic::async_trait]
impl Validator for ValidatorService {
    type ValidateStream = EventStream;

    async fn validate(
        &self,
        request: Request<pb::ValidateRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let req = convert::request(request.into_inner()).map_err(|e| convert::invalid(&e))?;
        if self.stop.is_cancelled() {
            return Err(Status::unavailable("the validator is shutting down"));
        }
        let cancel = self.stop.child_token();
        let (tx, rx) = mpsc::channel(256);
        let clients = self.clients.clone();
        let shared = self.limit.semaphore();
        let run_cancel = cancel.clone();
        self.runs.spawn(async move {
            let (etx, mut erx) = mpsc::unbounded_channel();
            let run = crate::run::run_with(
                &clients,
                req,
                Sink::new(etx),
                run_cancel.clone(),
                Some(shared),
            );
            let forward = async {
                while let Some(e) = erx.recv().await {
                    // the verdict goes out last, with the report
                    if matches!(e, Event::Verdict { .. }) {
                        continue;
                    }
                    if tx.send(Ok(convert::event(&e))).await.is_err() && !run_cancel.is_cancelled()
                    {
                        tracing::info!("the client went away; cancelling its run");
                        run_cancel.cancel();
                    }
                }
            };
            let (res, ()) = tokio::join!(run, forward);
            let last = match res {
                Ok(report) => {
                    tracing::info!(run_id = %report.run_id, verdict = ?report.verdict, "run done");
                    Ok(convert::final_verdict(&report))
                }
                Err(e) => Err(convert::invalid(&e)),
            };
            let _ = tx.send(last).await;
        });
        Ok(Response::new(EventStream {
            events: ReceiverStream::new(rx),
            _cancel_on_drop: cancel.drop_guard(),
        }))
    }

    async fn sweep(
        &self,
        request: Request<pb::SweepRequest>,
    ) -> Result<Response<pb::SweepResponse>, Status> {
        let r = request.into_inner();
        let mut errs = FieldErrors::new();
        let regions = amiforge_validator_api::Path::fields(&["regions"]);
        if r.regions.is_empty() {
            errs.push(regions.clone(), "name at least one region (like eu-west-1)");
        }
        for (i, region) in r.regions.iter().enumerate() {
            if !artifact::is_region(region) {
                errs.push(
                    regions.clone().index(i),
                    format!("{region:?} is not a region name (like eu-west-1)"),
                );
            }
        }
        if r.all && !r.run_id.is_empty() {
            errs.push(
                amiforge_validator_api::Path::fields(&["all"]),
                "give run_id (one run) or all, not both",
            );
        }
        if !errs.is_empty() {
            return Err(convert::invalid(&errs));
        }
        let scope = if !r.run_id.is_empty() {
            Scope::Run(r.run_id)
        } else if r.all {
            Scope::All
        } else {
            Scope::Expired
        };
        let mut regions = r.regions;
        regions.sort();
        regions.dedup();
        let s = sweep::sweep(
            &self.clients,
            &regions,
            &scope,
            r.force,
            r.dry_run,
            SWEEP_POLL,
            &Sink::none(),
        )
        .await
        .map_err(|e| Status::unavailable(format!("sweep: {e}")))?;
        let mut found = Vec::new();
        for (region, c) in &s.found {
            let kinds = [
                ("instance", &c.instances),
                ("key pair", &c.key_pairs),
                ("security group", &c.security_groups),
            ];
            for (kind, ids) in kinds {
                found.extend(ids.iter().map(|id| format!("{region}: {kind} {id}")));
            }
        }
        let c = &s.cleanup;
        let mut removed = Vec::new();
        let kinds = [
            ("instance", &c.instances),
            ("key pair", &c.key_pairs),
            ("security group", &c.security_groups),
        ];
        for (kind, ids) in kinds {
            // the cleanup lists `region:id`
            removed.extend(ids.iter().map(|x| match x.split_once(':') {
                Some((region, id)) => format!("{region}: {kind} {id}"),
                None => format!("{kind} {x}"),
            }));
        }
        tracing::info!(
            found = found.len(),
            removed = removed.len(),
            dry_run = r.dry_run,
            "sweep"
        );
        Ok(Response::new(pb::SweepResponse {
            found,
            removed,
            errors: c.errors.clone(),
        }))
    }

    async fn health(
        &self,
        _: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthResponse>, Status> {
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Ok(Response::new(pb::HealthResponse {
            version: env!("CARGO_PKG_VERSION").into(),
            max_instances: n(self.limit.max()),
            instances_in_use: n(self.limit.in_use()),
            runs_in_progress: n(self.runs.len()),
        }))
    }
}

/// The socket file of a unix listener: a stale one is removed first (one a live server answers
/// on is refused), and it is removed again when this is dropped.
struct SocketFile(PathBuf);

impl SocketFile {
    fn bind(path: &Path) -> Result<(SocketFile, tokio::net::UnixListener), String> {
        use std::os::unix::fs::FileTypeExt;
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(format!(
                    "--listen unix:{}: the path exists and is not a socket",
                    path.display()
                ));
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "--listen unix:{}: a server is already listening there",
                    path.display()
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| format!("--listen unix:{}: stale socket: {e}", path.display()))?;
        }
        let l = tokio::net::UnixListener::bind(path)
            .map_err(|e| format!("--listen unix:{}: {e}", path.display()))?;
        Ok((SocketFile(path.to_path_buf()), l))
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Serves the API on `listen` until `stop` is cancelled, then stops accepting, cancels every run,
/// waits until each has cleaned up and returns. `ready` is called with the address listened on
/// (`127.0.0.1:PORT` with the chosen port, or `unix:/path`) once connections are accepted.
pub async fn serve(
    clients: Clients,
    listen: &Listen,
    max_instances: usize,
    stop: CancellationToken,
    ready: impl FnOnce(&str),
) -> Result<(), String> {
    let stop = stop.child_token();
    let limit = InstanceLimit::new(max_instances);
    let svc = ValidatorService::new(Arc::new(clients), limit, stop.clone());
    let runs = svc.runs().clone();
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<ValidatorServer<ValidatorService>>()
        .await;
    let router = tonic::transport::Server::builder()
        .add_service(health)
        .add_service(ValidatorServer::new(svc));
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
    let served = match listen {
        Listen::Tcp(addr) => {
            let l = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("--listen {addr}: {e}"))?;
            let local = l
                .local_addr()
                .map_err(|e| format!("--listen {addr}: {e}"))?;
            ready(&local.to_string());
            router
                .serve_with_incoming_shutdown(TcpListenerStream::new(l), signal)
                .await
        }
        Listen::Unix(path) => {
            let (_file, l) = SocketFile::bind(path)?;
            ready(&format!("unix:{}", path.display()));
            router
                .serve_with_incoming_shutdown(UnixListenerStream::new(l), signal)
                .await
        }
    };
    // also when serving failed: no run outlives the server, and every one cleans up
    stop.cancel();
    runs.close();
    runs.wait().await;
    served.map_err(|e| format!("serving: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_parse_or_say_how() {
        assert_eq!(
            Listen::parse("127.0.0.1:7070"),
            Ok(Listen::Tcp("127.0.0.1:7070".into()))
        );
        assert_eq!(
            Listen::parse("unix:/tmp/v.sock"),
            Ok(Listen::Unix("/tmp/v.sock".into()))
        );
        for bad in ["unix:", "7070", "127.0.0.1", ":7070", "127.0.0.1:http"] {
            let e = Listen::parse(bad).unwrap_err();
            assert!(
                e.contains("HOST:PORT") || e.contains("unix:/"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_or_foreign_file_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.sock");
        drop(std::os::unix::net::UnixListener::bind(&p).unwrap()); // stale: nobody listens
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (file, _l) = SocketFile::bind(&p).unwrap();
            let e = SocketFile::bind(&p).err().unwrap();
            assert!(e.contains("already listening"), "{e}");
            drop(file);
            assert!(!p.exists(), "the socket file is removed");
        });
        let f = dir.path().join("file");
        std::fs::write(&f, "x").unwrap();
        let e = SocketFile::bind(&f).err().unwrap();
        assert!(e.contains("not a socket"), "{e}");
        assert!(f.exists());
    }
}
