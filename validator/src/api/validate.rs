//! `Validate`: a request is converted (bad fields named), admitted (limits, nothing read from
//! disk for the caller), given a run id and a place among the runs in progress, then run in a
//! task of its own. Events stream as they happen, the verdict with the JSON report comes last; a
//! client that goes away cancels its run, whose task lives on until its cleanup is done. The
//! call is audited when it ends, with the verdict.

use std::pin::Pin;
use std::task::{Context, Poll};

use amiforge_validator_api::{Path, convert, pb};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::DropGuard;
use tonic::Status;

use super::audit::Call;
use super::auth::Caller;
use super::service::ValidatorService;
use crate::events::{Event, Sink};

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

/// Starts the run `r` asks for on behalf of `caller`, or refuses it (audited either way).
pub fn validate(
    svc: &ValidatorService,
    caller: Caller,
    r: pb::ValidateRequest,
) -> Result<EventStream, Status> {
    let call = Call::start("Validate", &caller);
    let refuse = |s: Status, run_id: &str, n: usize| {
        call.refused(&s, run_id, n);
        Err(s)
    };
    let max = svc.admission.max_targets;
    if r.targets.len() > max {
        let e = amiforge_validator_api::FieldErrors::one(
            Path::fields(&["targets"]),
            format!(
                "{} AMIs; this validator takes at most {max} per request (serve --max-targets): \
                 split the request",
                r.targets.len()
            ),
        );
        return refuse(convert::invalid(&e), &r.run_id, r.targets.len());
    }
    let mut req = match convert::request(r) {
        Ok(req) => req,
        Err(e) => return refuse(convert::invalid(&e), "", 0),
    };
    let targets = req.targets.len();
    if let Err(e) = svc.admission.admit(&mut req) {
        return refuse(convert::invalid(&e), &req.run_id, targets);
    }
    if svc.stop.is_cancelled() {
        return refuse(
            Status::unavailable("the validator is shutting down"),
            &req.run_id,
            targets,
        );
    }
    if req.run_id.is_empty() {
        req.run_id = crate::run::new_run_id();
    }
    let slot = match svc.runs.start(&req.run_id, &caller.name) {
        Ok(s) => s,
        Err(s) => return refuse(s, &req.run_id, targets),
    };
    let cancel = svc.stop.child_token();
    let (tx, rx) = mpsc::channel(256);
    let clients = svc.clients.clone();
    let shared = svc.limit.semaphore();
    let run_cancel = cancel.clone();
    let run_id = req.run_id.clone();
    let owner = caller.name.clone();
    svc.tasks.spawn(async move {
        let _slot = slot;
        let (etx, mut erx) = mpsc::unbounded_channel();
        let opts = crate::run::Options {
            shared: Some(shared),
            owner: Some(owner),
            ..crate::run::Options::default()
        };
        let run = crate::run::run_opts(&clients, req, Sink::new(etx), run_cancel.clone(), opts);
        let forward = async {
            while let Some(e) = erx.recv().await {
                // the verdict goes out last, with the report
                if matches!(e, Event::Verdict { .. }) {
                    continue;
                }
                if tx.send(Ok(convert::event(&e))).await.is_err() && !run_cancel.is_cancelled() {
                    tracing::info!(run_id = %run_id, "the client went away; cancelling its run");
                    run_cancel.cancel();
                }
            }
        };
        let (res, ()) = tokio::join!(run, forward);
        let last = match res {
            Ok(report) => {
                let verdict = serde_json::to_value(report.verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                call.done(&verdict, &run_id, targets);
                Ok(convert::final_verdict(&report))
            }
            Err(e) => {
                let s = convert::invalid(&e);
                call.refused(&s, &run_id, targets);
                Err(s)
            }
        };
        let _ = tx.send(last).await;
    });
    Ok(EventStream {
        events: ReceiverStream::new(rx),
        _cancel_on_drop: cancel.drop_guard(),
    })
}
