//! One validation run, start to verdict: check the request, the attribute gate for every AMI
//! (concurrently, nothing launched), then test launches for the AMIs that passed it (bounded by
//! `max_parallel` across regions and instance types), then cleanup of everything the run made,
//! whatever happened, then the verdict. From the first launch until its cleanup is done, the
//! run renews its lease on what it made ([`crate::lease`]), so no plain sweep takes it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use amiforge_aws::client::Clients;
use amiforge_aws::kms;
use tokio::sync::{Mutex, Semaphore, SemaphorePermit};
use tokio_util::sync::CancellationToken;

use crate::attributes;
use crate::events::{Event, Sink};
use crate::guest;
use crate::launch::{self, Launch, Network};
use crate::lease::{Lease, Term};
use crate::ledger::{self, Ledger};
use amiforge_validator_api::report::{Check, Report, Status, Suite};
use amiforge_validator_api::{FieldErrors, Request, Target};

/// A fresh run id: UTC time plus a few random-enough hex digits (pid and clock).
pub fn new_run_id() -> String {
    let now = SystemTime::now();
    let t = humantime::format_rfc3339_seconds(now).to_string();
    let stamp: String = t.chars().filter(char::is_ascii_digit).collect();
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("v{stamp}-{:05x}", (nanos ^ std::process::id()) & 0xfffff)
}

/// Runs `req` to its report. Bad input is refused before anything is asked of AWS.
pub async fn run(
    clients: &Clients,
    req: Request,
    sink: Sink,
    cancel: CancellationToken,
) -> Result<Report, FieldErrors> {
    run_with(clients, req, sink, cancel, None).await
}

/// [`run`], where every test launch also holds a permit of `shared` (a limit across runs, e.g.
/// the gRPC server's `--max-instances`) on top of the request's own `max_parallel`.
pub async fn run_with(
    clients: &Clients,
    req: Request,
    sink: Sink,
    cancel: CancellationToken,
    shared: Option<Arc<Semaphore>>,
) -> Result<Report, FieldErrors> {
    let opts = Options {
        shared,
        ..Options::default()
    };
    run_opts(clients, req, sink, cancel, opts).await
}

/// [`run_with`], with the lease on the run's resources lasting as `term` says (instead of
/// [`crate::lease::LEASE_ENV`] or the default).
pub async fn run_leased(
    clients: &Clients,
    req: Request,
    sink: Sink,
    cancel: CancellationToken,
    shared: Option<Arc<Semaphore>>,
    term: Term,
) -> Result<Report, FieldErrors> {
    let opts = Options {
        shared,
        term,
        owner: None,
    };
    run_opts(clients, req, sink, cancel, opts).await
}

/// How a run is held beyond its request.
#[derive(Debug, Clone)]
pub struct Options {
    /// A limit across runs every test launch also takes a permit of.
    pub shared: Option<Arc<Semaphore>>,
    /// The lease on the run's resources.
    pub term: Term,
    /// Who asked for the run (tagged on its resources as `amiforge:validator-owner`).
    pub owner: Option<String>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            shared: None,
            term: Term::from_env(),
            owner: None,
        }
    }
}

/// [`run`] held as `opts` says.
pub async fn run_opts(
    clients: &Clients,
    mut req: Request,
    sink: Sink,
    cancel: CancellationToken,
    opts: Options,
) -> Result<Report, FieldErrors> {
    let Options {
        shared,
        term,
        owner,
    } = opts;
    req.check()?;
    amiforge_validator_api::request::files::problems(&req).into_result()?;
    if req.run_id.is_empty() {
        req.run_id = new_run_id();
    }
    let started_at = SystemTime::now();
    let started = Instant::now();
    let launches = if req.launch.launch {
        req.targets.len() * req.launch.instance_types.len()
    } else {
        0
    };
    sink.send(Event::Started {
        run_id: req.run_id.clone(),
        targets: req.targets.len(),
        instances: launches,
    });

    // 1. the attribute gate, every AMI at once
    let attr_jobs = req
        .targets
        .iter()
        .map(|t| attribute_suite(clients, &req, t, &sink));
    let attr_suites: Vec<Suite> = futures::future::join_all(attr_jobs).await;

    // 2. launches for AMIs that passed it (with in-guest checks where the AMI has any)
    let ledger = Ledger::default();
    let session = guest_session(&req);
    let mut suites = attr_suites.clone();
    let expires = started_at + req.launch.timeout * 2 + Duration::from_secs(30 * 60);
    let mut lease = Lease::new(&req.run_id, expires, term);
    if let Some(o) = &owner {
        lease = lease.owned_by(o);
    }
    let leased = CancellationToken::new();
    let work = async {
        if req.launch.launch && !cancel.is_cancelled() {
            let env = LaunchEnv {
                lease: &lease,
                ledger: &ledger,
                sink: &sink,
                cancel: &cancel,
                session: session.as_ref(),
                shared: shared.as_deref(),
            };
            suites.extend(launch_all(clients, &req, &attr_suites, &env).await);
        }
        // 3. cleanup, whatever happened (creates cut short are looked up first)
        let cleanup = ledger::clean_run(clients, &ledger, req.launch.poll_interval, &sink).await;
        leased.cancel();
        cleanup
    };
    let (cleanup, ()) = tokio::join!(work, lease.keep(clients, &ledger, &leased));
    if !cleanup.errors.is_empty() {
        // the run is over: what it could not remove is anyone's to sweep, now
        lease.release(clients, &ledger, &cleanup).await;
    }
    let interrupted = cancel.is_cancelled();
    let report = Report::finish(
        &req.run_id,
        started_at,
        started.elapsed().as_secs_f64(),
        suites,
        cleanup,
        interrupted,
        &format!("across {} AMI(s)", req.targets.len()),
    );
    sink.send(Event::Verdict {
        verdict: report.verdict,
        summary: report.summary.clone(),
    });
    Ok(report)
}

async fn attribute_suite(clients: &Clients, req: &Request, t: &Target, sink: &Sink) -> Suite {
    let started = Instant::now();
    let mut t = t.clone();
    let mut key_problem = None;
    if let Some(k) = t.expect.kms_key.clone()
        && !k.starts_with("arn:")
    {
        match kms::resolve(clients, &t.region, &k).await {
            Ok(arn) => t.expect.kms_key = Some(arn),
            Err(e) => {
                key_problem = Some(format!("the expected key {k} could not be resolved: {e}"))
            }
        }
    }
    let checks = match attributes::fetch(clients, &t).await {
        Ok(facts) => {
            let mut checks = attributes::evaluate(&t, &req.policy, &facts, SystemTime::now());
            if let Some(p) = key_problem
                && let Some(c) = checks.iter_mut().find(|c| c.name == "ami.encrypted")
            {
                *c = Check::new(
                    "ami.encrypted",
                    Status::Error,
                    c.expected.clone(),
                    c.found.clone(),
                )
                .with_message(p);
            }
            checks
        }
        Err(e) => {
            vec![Check::new("ami.available", Status::Error, "available", "unknown").with_message(e)]
        }
    };
    let per = started.elapsed().as_secs_f64() / checks.len().max(1) as f64;
    let checks: Vec<Check> = checks
        .into_iter()
        .map(|mut c| {
            c.seconds = per;
            sink.send(Event::Check {
                region: t.region.clone(),
                ami: t.ami.clone(),
                instance_type: None,
                check: c.clone(),
            });
            c
        })
        .collect();
    Suite {
        region: t.region.clone(),
        ami: t.ami.clone(),
        instance_type: None,
        instance_id: None,
        checks,
    }
}

/// The private temp directory for in-guest checks, when any AMI of the run has them.
fn guest_session(req: &Request) -> Option<guest::session::Session> {
    if !req.launch.launch
        || !req
            .targets
            .iter()
            .any(|t| guest::Plan::for_target(req, t).is_some())
    {
        return None;
    }
    match guest::session::Session::new() {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "in-guest checks cannot run");
            None
        }
    }
}

/// What every launch of a run shares.
struct LaunchEnv<'a> {
    lease: &'a Lease,
    ledger: &'a Ledger,
    sink: &'a Sink,
    cancel: &'a CancellationToken,
    session: Option<&'a guest::session::Session>,
    /// The server's instance limit shared by every caller (`serve`), if any.
    shared: Option<&'a Semaphore>,
}

async fn launch_all(
    clients: &Clients,
    req: &Request,
    attr_suites: &[Suite],
    env: &LaunchEnv<'_>,
) -> Vec<Suite> {
    let LaunchEnv {
        lease,
        ledger,
        sink,
        cancel,
        session,
        shared,
    } = *env;
    let limit = Arc::new(Semaphore::new(req.launch.max_parallel as usize));
    // one network per region, made by the first launch there
    let networks: BTreeMap<&str, Mutex<Option<Result<Network, String>>>> = req
        .targets
        .iter()
        .map(|t| (t.region.as_str(), Mutex::new(None)))
        .collect();
    let mut jobs = Vec::new();
    for (t, attrs) in req.targets.iter().zip(attr_suites) {
        let blocked = attrs
            .checks
            .iter()
            .any(|c| matches!(c.status, Status::Failed | Status::Error));
        for itype in &req.launch.instance_types {
            let limit = limit.clone();
            let networks = &networks;
            jobs.push(async move {
                let skipped_suite = |why: &str| {
                    let checks: Vec<Check> = ["instance.launch", "instance.status-checks"]
                        .into_iter()
                        .map(|n| launch::skipped(n, why))
                        .collect();
                    Suite {
                        region: t.region.clone(),
                        ami: t.ami.clone(),
                        instance_type: Some(itype.clone()),
                        instance_id: None,
                        checks,
                    }
                };
                let not_launched = |s: Suite| {
                    for c in &s.checks {
                        sink.send(Event::Check {
                            region: s.region.clone(),
                            ami: s.ami.clone(),
                            instance_type: s.instance_type.clone(),
                            check: c.clone(),
                        });
                    }
                    s
                };
                if blocked {
                    return not_launched(skipped_suite(
                        "the AMI failed its attribute checks; not launched",
                    ));
                }
                let Ok(_permit) = limit.acquire().await else {
                    return not_launched(skipped_suite("the run was stopped"));
                };
                let Some(_shared) = shared_permit(shared, cancel).await else {
                    return not_launched(skipped_suite("interrupted before the launch"));
                };
                if cancel.is_cancelled() {
                    return not_launched(skipped_suite("interrupted before the launch"));
                }
                let network = {
                    let mut slot = networks[t.region.as_str()].lock().await;
                    if slot.is_none() {
                        *slot = Some(region_network(clients, req, &t.region, env).await);
                    }
                    slot.clone().unwrap_or_else(|| Err("no network".into()))
                };
                let network = match network {
                    Ok(n) => n,
                    Err(e) => {
                        let mut s = skipped_suite("the test network could not be made");
                        s.checks[0] =
                            Check::new("instance.launch", Status::Error, "running", "not launched")
                                .with_message(e);
                        return not_launched(s);
                    }
                };
                Launch {
                    clients,
                    req,
                    target: t,
                    instance_type: itype,
                    network: &network,
                    lease,
                    ledger,
                    sink,
                    cancel,
                    session,
                }
                .run()
                .await
            });
        }
    }
    futures::future::join_all(jobs).await
}

/// The network of a region's test instances (made by its first launch): subnet, security
/// groups and, for SSH in-guest checks, the region's key pair.
async fn region_network(
    clients: &Clients,
    req: &Request,
    region: &str,
    env: &LaunchEnv<'_>,
) -> Result<Network, String> {
    let mut net =
        launch::prepare_network(clients, req, region, &env.lease.tags(), env.ledger).await?;
    if let Some(s) = env.session
        && req.guest.transport == amiforge_validator_api::Transport::Ssh
        && guest::needs_guest(req)
    {
        let tags = env.lease.tags();
        net.key =
            Some(guest::session::region_key(clients, req, region, &tags, env.ledger, s).await?);
    }
    Ok(net)
}

/// A permit of the limit shared with other runs (taken after the run's own, so a run waiting on
/// itself holds none of them); `Some(None)` without one, `None` when interrupted while waiting.
async fn shared_permit<'a>(
    shared: Option<&'a Semaphore>,
    cancel: &CancellationToken,
) -> Option<Option<SemaphorePermit<'a>>> {
    let Some(s) = shared else {
        return Some(None);
    };
    tokio::select! {
        p = s.acquire() => p.ok().map(Some),
        _ = cancel.cancelled() => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_ids_are_tag_and_name_safe_and_differ() {
        let a = super::new_run_id();
        assert!(a.starts_with('v') && a.len() > 16, "{a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }
}
