//! `amiforge-validator check`: the in-guest checks against a host that already runs (a
//! bastion-reachable instance, a VM, a test sandbox), over SSH, without AWS. One suite, the same
//! verdict and exit codes as `run`.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::events::{Event, Sink};
use amiforge_validator_api::report::{Report, Suite};

use super::session::Session;
use super::ssh::{Address, Ssh};
use super::{Plan, run_checks};

/// One host to check.
#[derive(Debug, Clone)]
pub struct HostCheck {
    pub user: String,
    pub address: Address,
    /// Private key file that logs in as `user`.
    pub key: PathBuf,
    pub plan: Plan,
    /// Connection failures are retried this long (sshd starting).
    pub wait: Duration,
    pub connect_timeout: Duration,
}

/// The suite's `region` field for host checks (there is no region).
pub const HOST: &str = "host";

/// Runs the plan on the host; the report has one suite named `host user@address in-guest`.
pub async fn check_host(h: &HostCheck, sink: &Sink, cancel: &CancellationToken) -> Report {
    let started_at = SystemTime::now();
    let started = Instant::now();
    let dest = format!("{}@{}", h.user, h.address);
    let checks = match Session::new() {
        Ok(session) => {
            let t = Ssh {
                user: h.user.clone(),
                address: h.address.clone(),
                key: h.key.clone(),
                known_hosts: session.known_hosts("host"),
                connect_timeout: h.connect_timeout,
                wait_until: Instant::now() + h.wait,
                command_timeout: super::instance::COMMAND_TIMEOUT,
            };
            run_checks(&t, &h.plan, cancel).await
        }
        Err(e) => super::skipped(&h.plan, &e)
            .into_iter()
            .map(|mut c| {
                c.status = amiforge_validator_api::report::Status::Error;
                c
            })
            .collect(),
    };
    for c in &checks {
        sink.send(Event::Check {
            region: HOST.into(),
            ami: dest.clone(),
            instance_type: Some("in-guest".into()),
            check: c.clone(),
        });
    }
    let suites = vec![Suite {
        region: HOST.into(),
        ami: dest.clone(),
        instance_type: Some("in-guest".into()),
        instance_id: None,
        checks,
    }];
    let cleanup = amiforge_validator_api::report::Cleanup::default();
    let interrupted = cancel.is_cancelled();
    let report = Report::finish(
        "",
        started_at,
        started.elapsed().as_secs_f64(),
        suites,
        cleanup,
        interrupted,
        &format!("on {dest}"),
    );
    sink.send(Event::Verdict {
        verdict: report.verdict,
        summary: report.summary.clone(),
    });
    report
}
