//! The `amiforge.validator.v1.Validator` service: every call authenticated first ([`Caller`]),
//! then handled (`Validate` in [`super::validate`], `Sweep` in [`super::sweep`], `Health`
//! here) and audited. The service holds what every call shares: the AWS clients, the instance
//! and run limits, what requests may use on this host, and the token that stops it.

use std::sync::Arc;

use amiforge_aws::client::Clients;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

use amiforge_validator_api::pb;

use super::admit::Admission;
use super::audit::Call;
use super::auth::{Authenticator, Caller};
use super::generated::validator_server::Validator;
use super::limits::{InstanceLimit, Runs};
use super::validate::EventStream;

/// The service's shared state (cheap to clone: every part is shared).
#[derive(Clone)]
pub struct ValidatorService {
    pub(super) clients: Arc<Clients>,
    pub(super) limit: InstanceLimit,
    pub(super) runs: Runs,
    pub(super) tasks: TaskTracker,
    pub(super) auth: Arc<Authenticator>,
    pub(super) admission: Arc<Admission>,
    pub(super) stop: CancellationToken,
}

impl ValidatorService {
    pub fn new(
        clients: Arc<Clients>,
        limit: InstanceLimit,
        runs: Runs,
        auth: Authenticator,
        admission: Admission,
        stop: CancellationToken,
    ) -> Self {
        ValidatorService {
            clients,
            limit,
            runs,
            tasks: TaskTracker::new(),
            auth: Arc::new(auth),
            admission: Arc::new(admission),
            stop,
        }
    }

    /// The tasks of the runs in progress (each ends after its run's cleanup).
    pub fn tasks(&self) -> &TaskTracker {
        &self.tasks
    }

    /// The caller of `req`; a refused one is audited under `method`.
    pub(super) fn authenticate<T>(
        &self,
        method: &'static str,
        req: &Request<T>,
    ) -> Result<Caller, Status> {
        self.auth.caller(req).inspect_err(|s| {
            Call::anonymous(method).refused(s, "", 0);
        })
    }
}

#[tonic::async_trait]
impl Validator for ValidatorService {
    type ValidateStream = EventStream;

    async fn validate(
        &self,
        request: Request<pb::ValidateRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let caller = self.authenticate("Validate", &request)?;
        super::validate::validate(self, caller, request.into_inner()).map(Response::new)
    }

    async fn sweep(
        &self,
        request: Request<pb::SweepRequest>,
    ) -> Result<Response<pb::SweepResponse>, Status> {
        let caller = self.authenticate("Sweep", &request)?;
        super::sweep::sweep(self, caller, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn health(
        &self,
        request: Request<pb::HealthRequest>,
    ) -> Result<Response<pb::HealthResponse>, Status> {
        let caller = self.authenticate("Health", &request)?;
        let n = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Call::start("Health", &caller).done("ok", "", 0);
        Ok(Response::new(pb::HealthResponse {
            version: env!("CARGO_PKG_VERSION").into(),
            max_instances: n(self.limit.max()),
            instances_in_use: n(self.limit.in_use()),
            runs_in_progress: n(self.runs.len()),
        }))
    }
}
