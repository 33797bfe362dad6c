//! `Sweep`: removes what validator runs left behind in the regions given (by tag), or lists it
//! with `dry_run`. Only what a lapsed lease left is taken unless `force`. Who may sweep what: a
//! caller only the runs it asked for (their resources carry its identity,
//! `amiforge:validator-owner`), lapsed or, with `force`, still going; an admin (`serve --admin`)
//! anyone's, and `all`.

use std::time::Duration;

use amiforge_model::artifact;
use amiforge_validator_api::{FieldErrors, Path, convert, pb};
use tonic::Status;

use super::audit::Call;
use super::auth::Caller;
use super::service::ValidatorService;
use crate::events::Sink;
use crate::sweep::{self, Scope, Select};

/// How often a sweep looks whether its instances are gone.
const SWEEP_POLL: Duration = Duration::from_secs(2);

/// The sweep `r` asks for, checked: the scope, or every bad field.
fn scope(r: &pb::SweepRequest) -> Result<Scope, FieldErrors> {
    let mut errs = FieldErrors::new();
    let regions = Path::fields(&["regions"]);
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
            Path::fields(&["all"]),
            "give run_id (one run) or all, not both",
        );
    }
    errs.into_result()?;
    Ok(if !r.run_id.is_empty() {
        Scope::Run(r.run_id.clone())
    } else if r.all {
        Scope::All
    } else {
        Scope::Expired
    })
}

/// Whether `caller` may sweep `scope`, and what of it: admins anything, others their own runs.
fn authorize(
    svc: &ValidatorService,
    caller: &Caller,
    scope: Scope,
    force: bool,
) -> Result<Select, Status> {
    let select = Select::new(scope).forced(force);
    if caller.admin {
        return Ok(select);
    }
    match &select.scope {
        Scope::All => Err(Status::permission_denied(format!(
            "all: sweeping every run's resources is for admins (serve --admin); {} may sweep the \
             runs it asked for (run_id, or none for all of them whose lease lapsed)",
            caller.name
        ))),
        Scope::Run(id) => match svc.runs.owner_of(id) {
            Some(owner) if owner != caller.name => Err(Status::permission_denied(format!(
                "run_id: run {id} is another caller's run in progress"
            ))),
            _ => Ok(select.owned_by(&caller.name)),
        },
        Scope::Expired => Ok(select.owned_by(&caller.name)),
    }
}

pub async fn sweep(
    svc: &ValidatorService,
    caller: Caller,
    r: pb::SweepRequest,
) -> Result<pb::SweepResponse, Status> {
    let call = Call::start("Sweep", &caller);
    let select = scope(&r)
        .map_err(|e| convert::invalid(&e))
        .and_then(|s| authorize(svc, &caller, s, r.force))
        .inspect_err(|s| call.refused(s, &r.run_id, 0))?;
    let mut regions = r.regions;
    regions.sort();
    regions.dedup();
    let s = sweep::sweep(
        &svc.clients,
        &regions,
        &select,
        r.dry_run,
        SWEEP_POLL,
        &Sink::none(),
    )
    .await
    .map_err(|e| Status::unavailable(format!("sweep: {e}")))
    .inspect_err(|s| call.refused(s, &r.run_id, 0))?;
    let kinds = |c: &crate::ledger::Created| {
        [
            ("instance", c.instances.clone()),
            ("key pair", c.key_pairs.clone()),
            ("security group", c.security_groups.clone()),
        ]
    };
    let mut found = Vec::new();
    for (region, c) in &s.found {
        for (kind, ids) in kinds(c) {
            found.extend(ids.iter().map(|id| format!("{region}: {kind} {id}")));
        }
    }
    let c = &s.cleanup;
    let mut removed = Vec::new();
    for (kind, ids) in [
        ("instance", &c.instances),
        ("key pair", &c.key_pairs),
        ("security group", &c.security_groups),
    ] {
        // the cleanup lists `region:id`
        removed.extend(ids.iter().map(|x| match x.split_once(':') {
            Some((region, id)) => format!("{region}: {kind} {id}"),
            None => format!("{kind} {x}"),
        }));
    }
    let outcome = if r.dry_run { "dry-run" } else { "ok" };
    call.done(
        &format!("{outcome} found={} removed={}", found.len(), removed.len()),
        &r.run_id,
        0,
    );
    Ok(pb::SweepResponse {
        found,
        removed,
        errors: c.errors.clone(),
    })
}
