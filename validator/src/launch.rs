//! One test launch: an instance of one type from one AMI, IMDSv2 required, tagged with the run,
//! in the region's test network (a given subnet and security groups, or a temporary group with
//! no ingress), waited on until running and both status checks pass (or fail, or time out),
//! then terminated. Every create is written to the [`Ledger`] as an intent before it is sent
//! and by id the moment AWS answers, so cleanup finds what it made even when it is cancelled
//! midway. When the AMI has in-guest checks (see [`crate::guest`]), they run on the instance once
//! both status checks passed, before it is terminated. An instance that someone else (or AWS)
//! stops or terminates gives no verdict on the AMI (an error); only one that shut itself down
//! fails it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use amiforge_aws::client::Clients;
use amiforge_aws::instances::{self, LaunchRequest, StatusChecks};
use amiforge_model::tags;
use base64::Engine;
use tokio_util::sync::CancellationToken;

use crate::events::{Event, Sink};
use crate::intents::Intent;
use crate::lease::Lease;
use crate::ledger::Ledger;
use amiforge_validator_api::report::{Check, Status, Suite};
use amiforge_validator_api::request::{Request, Target};

/// Tags on everything a run makes: who made it, which run, when anyone may sweep it.
pub fn run_tags(run_id: &str, expires: SystemTime) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            tags::MANAGED_BY.to_string(),
            "amiforge-validator".to_string(),
        ),
        (tags::VALIDATOR_RUN.to_string(), run_id.to_string()),
        (
            tags::EXPIRES_AT.to_string(),
            humantime::format_rfc3339_seconds(expires).to_string(),
        ),
        ("Name".to_string(), format!("amiforge-validator {run_id}")),
    ])
}

/// The network a region's test instances use.
#[derive(Debug, Clone, Default)]
pub struct Network {
    pub subnet: Option<String>,
    pub security_groups: Vec<String>,
    /// The key pair instances launch with (SSH in-guest checks).
    pub key: Option<crate::guest::session::RegionKey>,
}

/// Sets up the region's network: the given subnet and groups, or a temporary security group
/// without ingress (its intent, then its id, recorded in the ledger).
pub async fn prepare_network(
    clients: &Clients,
    req: &Request,
    region: &str,
    tags: &BTreeMap<String, String>,
    ledger: &Ledger,
) -> Result<Network, String> {
    let subnet = req.launch.subnets.get(region).cloned();
    if req.launch.security_groups.contains_key(region) {
        return Ok(Network {
            subnet,
            security_groups: req.launch.security_groups.ids(region),
            key: None,
        });
    }
    let vpc = match &subnet {
        Some(s) => Some(subnet_vpc(clients, region, s).await?),
        None => None,
    };
    let name = format!("amiforge-validator-{}", req.run_id);
    // SSH in-guest checks: tcp/22 from the runner's CIDR, nothing else
    let ssh_from = (req.guest.transport == amiforge_validator_api::Transport::Ssh
        && crate::guest::needs_guest(req))
    .then_some(req.guest.ssh_cidr.as_deref())
    .flatten();
    let intent = ledger.intend(region, &req.run_id, Intent::SecurityGroup);
    let made =
        instances::create_security_group(clients, region, &name, vpc.as_deref(), ssh_from, tags)
            .await;
    let id = match made {
        Ok(id) => {
            ledger.security_group(region, &id);
            ledger.close(intent);
            id
        }
        Err(e) => {
            if !e.may_have_happened() {
                ledger.close(intent);
            }
            return Err(e.to_string());
        }
    };
    Ok(Network {
        subnet,
        security_groups: vec![id],
        key: None,
    })
}

async fn subnet_vpc(clients: &Clients, region: &str, subnet: &str) -> Result<String, String> {
    let out = clients
        .ec2(region)
        .describe_subnets()
        .subnet_ids(subnet)
        .send()
        .await
        .map_err(|e| amiforge_aws::Error::sdk("DescribeSubnets", &e).to_string())?;
    out.subnets()
        .first()
        .and_then(|s| s.vpc_id())
        .map(str::to_string)
        .ok_or_else(|| format!("launch.subnets[{region:?}]: {subnet} not found"))
}

/// Everything one test launch needs.
pub struct Launch<'a> {
    pub clients: &'a Clients,
    pub req: &'a Request,
    pub target: &'a Target,
    pub instance_type: &'a str,
    pub network: &'a Network,
    /// The run's lease: the tags a new instance gets.
    pub lease: &'a Lease,
    pub ledger: &'a Ledger,
    pub sink: &'a Sink,
    pub cancel: &'a CancellationToken,
    /// The run's private SSH material; `None` when no AMI of the run has in-guest checks.
    pub session: Option<&'a crate::guest::session::Session>,
}

impl Launch<'_> {
    fn emit(&self, c: &Check) {
        self.sink.send(Event::Check {
            region: self.target.region.clone(),
            ami: self.target.ami.clone(),
            instance_type: Some(self.instance_type.to_string()),
            check: c.clone(),
        });
    }

    /// Launches, waits, checks and terminates; returns the suite of this instance.
    pub async fn run(&self) -> Suite {
        let t = self.target;
        let mut suite = Suite {
            region: t.region.clone(),
            ami: t.ami.clone(),
            instance_type: Some(self.instance_type.to_string()),
            instance_id: None,
            checks: Vec::new(),
        };
        let started = Instant::now();
        let push = |suite: &mut Suite, mut c: Check, since: Instant| {
            c.seconds = since.elapsed().as_secs_f64();
            self.emit(&c);
            suite.checks.push(c);
        };
        let id = match self.launch().await {
            Ok(id) => id,
            Err(e) => {
                push(
                    &mut suite,
                    Check::new("instance.launch", Status::Error, "running", "not launched")
                        .with_message(e),
                    started,
                );
                push(
                    &mut suite,
                    skipped("instance.status-checks", "the instance was not launched"),
                    started,
                );
                return suite;
            }
        };
        suite.instance_id = Some(id.clone());
        self.sink.send(Event::Launched {
            region: t.region.clone(),
            ami: t.ami.clone(),
            instance_type: self.instance_type.to_string(),
            instance_id: id.clone(),
        });
        let deadline = started + self.req.launch.timeout;
        let (running, imds) = self.wait_running(&id, deadline).await;
        let was_running = running.status == Status::Passed;
        push(&mut suite, running, started);
        if let Some(c) = imds {
            push(&mut suite, c, started);
        }
        let since = Instant::now();
        let status = if was_running {
            self.wait_status(&id, deadline).await
        } else {
            skipped("instance.status-checks", "the instance never ran")
        };
        let status_passed = status.status == Status::Passed;
        push(&mut suite, status, since);
        let mut guest = self.guest_checks(&id, status_passed).await;
        if guest.iter().any(|c| c.status == Status::Failed) {
            self.unless_stopped_by_others(&id, &mut guest).await;
        }
        for c in guest {
            self.emit(&c);
            suite.checks.push(c);
        }
        // terminate now (the run's cleanup waits for it and removes the rest)
        match instances::terminate(self.clients, &t.region, std::slice::from_ref(&id)).await {
            Ok(()) => self.ledger.terminated(&t.region, &id),
            Err(e) => {
                tracing::warn!(region = %t.region, %id, error = %e, "terminate after the test; cleanup retries")
            }
        }
        suite
    }

    async fn launch(&self) -> Result<String, String> {
        let t = self.target;
        let r = LaunchRequest {
            ami: t.ami.clone(),
            instance_type: self.instance_type.to_string(),
            subnet: self.network.subnet.clone(),
            security_groups: self.network.security_groups.clone(),
            key_name: self.network.key.as_ref().map(|k| k.name.clone()),
            iam_instance_profile: self.req.guest.instance_profile.clone(),
            user_data: self
                .req
                .launch
                .user_data
                .as_ref()
                .map(|u| base64::engine::general_purpose::STANDARD.encode(u)),
            tags: self.lease.tags(),
            client_token: format!("{}-{}-{}", self.req.run_id, t.ami, self.instance_type),
        };
        let intent = Intent::Instance {
            client_token: r.client_token.clone(),
        };
        let intent = self.ledger.intend(&t.region, &self.req.run_id, intent);
        // cancelled: the intent stays open and cleanup looks for what the launch made
        let made = tokio::select! {
            r = instances::launch(self.clients, &t.region, &r) => r,
            _ = self.cancel.cancelled() => return Err("interrupted before the launch finished".into()),
        };
        match made {
            Ok(id) => {
                self.ledger.instance(&t.region, &id);
                self.ledger.close(intent);
                Ok(id)
            }
            Err(e) => {
                if !e.may_have_happened() {
                    self.ledger.close(intent);
                }
                Err(e.to_string())
            }
        }
    }

    /// After in-guest checks failed: if the instance was stopped or terminated meanwhile, and not
    /// by itself, the failures say nothing about the AMI and become errors.
    async fn unless_stopped_by_others(&self, id: &str, checks: &mut [Check]) {
        let Ok(Some(i)) = instances::describe(self.clients, &self.target.region, id).await else {
            return;
        };
        if matches!(i.state.as_str(), "running" | "pending") || stopped_by_itself(&i) {
            return;
        }
        let why = format!(
            "the instance was {} by someone else or by AWS during the check ({}): no verdict on the AMI",
            i.state,
            i.state_reason.unwrap_or_default()
        );
        for c in checks.iter_mut().filter(|c| c.status == Status::Failed) {
            c.status = Status::Error;
            c.message = if c.message.is_empty() {
                why.clone()
            } else {
                format!("{why}; {}", c.message)
            };
        }
    }

    /// The in-guest checks (when the AMI has any): run once the status checks passed, else
    /// skipped.
    async fn guest_checks(&self, id: &str, status_passed: bool) -> Vec<Check> {
        use crate::guest::{self, Plan};
        let Some(plan) = Plan::for_target(self.req, self.target) else {
            return Vec::new();
        };
        if !status_passed {
            return guest::skipped(&plan, "the instance did not pass its status checks");
        }
        let Some(session) = self.session else {
            return guest::skipped(&plan, "no private temp directory for SSH material")
                .into_iter()
                .map(|mut c| {
                    c.status = Status::Error;
                    c
                })
                .collect();
        };
        guest::instance::Instance {
            clients: self.clients,
            req: self.req,
            target: self.target,
            id,
            key: self.network.key.as_ref(),
            session,
            cancel: self.cancel,
        }
        .checks()
        .await
    }

    /// Waits for `running`: the launch check, plus whether IMDSv2 is enforced on the instance.
    async fn wait_running(&self, id: &str, deadline: Instant) -> (Check, Option<Check>) {
        const N: &str = "instance.launch";
        let region = &self.target.region;
        let mut last = String::from("unknown");
        loop {
            match instances::describe(self.clients, region, id).await {
                Ok(Some(i)) => {
                    last = i.state.clone();
                    match i.state.as_str() {
                        "running" => {
                            let tokens = i.http_tokens.as_deref().unwrap_or("optional");
                            let imds = Check::new(
                                "instance.imds-v2",
                                if tokens == "required" {
                                    Status::Passed
                                } else {
                                    Status::Failed
                                },
                                "http tokens required",
                                format!("http tokens {tokens}"),
                            );
                            return (
                                Check::new(N, Status::Passed, "running", "running"),
                                Some(imds),
                            );
                        }
                        "shutting-down" | "terminated" | "stopping" | "stopped" => {
                            return (stopped(N, "running", &i), None);
                        }
                        _ => {}
                    }
                }
                Ok(None) => last = "not visible yet".into(),
                Err(e) => {
                    return (
                        Check::new(N, Status::Error, "running", last).with_message(e.to_string()),
                        None,
                    );
                }
            }
            if let Some(c) = self.pause(N, "running", &last, deadline).await {
                return (c, None);
            }
        }
    }

    /// Waits for both status checks to pass.
    async fn wait_status(&self, id: &str, deadline: Instant) -> Check {
        const N: &str = "instance.status-checks";
        let want = "instance ok, system ok";
        let mut last = StatusChecks::default();
        loop {
            match instances::status_checks(self.clients, &self.target.region, id).await {
                Ok(s) if is_stopped(&s.state) => {
                    return match instances::describe(self.clients, &self.target.region, id).await {
                        Ok(Some(i)) => stopped(N, want, &i),
                        _ => Check::new(N, Status::Error, want, s.state.as_str())
                            .with_message("the instance stopped; no verdict on the AMI"),
                    };
                }
                Ok(s) if s.passed() => return Check::new(N, Status::Passed, want, shown(&s)),
                Ok(s) if s.failed() => {
                    return Check::new(N, Status::Failed, want, shown(&s))
                        .with_message("EC2 reports the instance impaired");
                }
                Ok(s) => last = s,
                Err(e) => {
                    return Check::new(N, Status::Error, want, shown(&last))
                        .with_message(e.to_string());
                }
            }
            if let Some(c) = self.pause(N, want, &shown(&last), deadline).await {
                return c;
            }
        }
    }

    /// Sleeps one poll; a check result when the deadline passed or the run was interrupted.
    async fn pause(&self, name: &str, want: &str, last: &str, deadline: Instant) -> Option<Check> {
        let now = Instant::now();
        if now >= deadline {
            return Some(
                Check::new(name, Status::Failed, want, last).with_message(format!(
                    "timed out after {}",
                    humantime::format_duration(round(self.req.launch.timeout))
                )),
            );
        }
        let nap = self.req.launch.poll_interval.min(deadline - now);
        tokio::select! {
            _ = tokio::time::sleep(nap) => None,
            _ = self.cancel.cancelled() => Some(Check::new(name, Status::Error, want, last).with_message("interrupted")),
        }
    }
}

fn is_stopped(state: &str) -> bool {
    matches!(
        state,
        "shutting-down" | "terminated" | "stopping" | "stopped"
    )
}

/// Whether the guest shut the instance down itself (what an AMI can be blamed for).
fn stopped_by_itself(i: &instances::InstanceInfo) -> bool {
    i.state_reason_code.as_deref() == Some("Client.InstanceInitiatedShutdown")
}

/// The check `name` of an instance that stopped before it was done: failed when the guest shut
/// itself down; otherwise (someone called Stop/TerminateInstances, AWS ended it) an error, which
/// gives no verdict on the AMI.
fn stopped(name: &str, want: &str, i: &instances::InstanceInfo) -> Check {
    let why = i.state_reason.clone().unwrap_or_default();
    if stopped_by_itself(i) {
        Check::new(name, Status::Failed, want, i.state.as_str())
            .with_message(format!("the instance stopped by itself: {why}"))
    } else {
        Check::new(name, Status::Error, want, i.state.as_str()).with_message(format!(
            "the instance was {} by someone else or by AWS ({why}): no verdict on the AMI",
            i.state
        ))
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}

fn shown(s: &StatusChecks) -> String {
    let v = |x: &str| {
        if x.is_empty() {
            "not reported".to_string()
        } else {
            x.to_string()
        }
    };
    format!("instance {}, system {}", v(&s.instance), v(&s.system))
}

pub fn skipped(name: &str, why: &str) -> Check {
    Check::new(name, Status::Skipped, "", "").with_message(why)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_instance_that_shut_itself_down_fails_the_ami() {
        let i = |code: &str| instances::InstanceInfo {
            id: "i-1".into(),
            state: "terminated".into(),
            state_reason: Some(format!("{code}: …")),
            state_reason_code: Some(code.into()),
            ..Default::default()
        };
        let own = stopped(
            "instance.launch",
            "running",
            &i("Client.InstanceInitiatedShutdown"),
        );
        assert_eq!(own.status, Status::Failed);
        for other in [
            "Client.UserInitiatedShutdown",
            "Server.InternalError",
            "Server.SpotInstanceTermination",
        ] {
            let c = stopped("instance.launch", "running", &i(other));
            assert_eq!(c.status, Status::Error, "{other}");
            assert!(c.message.contains("no verdict"), "{}", c.message);
        }
    }

    #[test]
    fn run_tags_say_who_which_run_and_until_when() {
        let t = run_tags(
            "r1",
            humantime::parse_rfc3339("2026-11-27T01:00:00Z").unwrap(),
        );
        assert_eq!(t[tags::VALIDATOR_RUN], "r1");
        assert_eq!(t[tags::EXPIRES_AT], "2026-11-27T01:00:00Z");
        assert_eq!(t[tags::MANAGED_BY], "amiforge-validator");
    }
}
