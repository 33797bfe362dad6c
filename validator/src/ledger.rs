//! Everything a run created, per region, written down the moment AWS confirms it, and the one
//! cleanup that removes it whatever happened before (pass, failure, timeout, interrupt): instances
//! first, then, once they are gone, security groups (AWS refuses earlier), then key pairs.
//! `sweep` feeds what it finds by tag through the same cleanup.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use amiforge_aws::client::Clients;
use amiforge_aws::{ErrorKind, instances};

use crate::events::{Event, Sink};
use amiforge_validator_api::report::Cleanup;

/// Resources made in one region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    pub instances: Vec<String>,
    pub key_pairs: Vec<String>,
    pub security_groups: Vec<String>,
}

impl Created {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.key_pairs.is_empty() && self.security_groups.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct Ledger(Mutex<BTreeMap<String, Created>>);

impl Ledger {
    fn with(&self, region: &str, f: impl FnOnce(&mut Created)) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(m.entry(region.to_string()).or_default());
    }

    pub fn instance(&self, region: &str, id: &str) {
        self.with(region, |c| c.instances.push(id.to_string()));
    }

    pub fn key_pair(&self, region: &str, name: &str) {
        self.with(region, |c| c.key_pairs.push(name.to_string()));
    }

    pub fn security_group(&self, region: &str, id: &str) {
        self.with(region, |c| c.security_groups.push(id.to_string()));
    }

    pub fn snapshot(&self) -> BTreeMap<String, Created> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// How long cleanup waits for instances to terminate before deleting their security groups.
pub const TERMINATE_WAIT: Duration = Duration::from_secs(10 * 60);

/// Removes everything in `created`, all regions at once. Never stops at the first error: what
/// could not be removed is listed in [`Cleanup::errors`].
pub async fn clean(
    clients: &Clients,
    created: BTreeMap<String, Created>,
    poll: Duration,
    sink: &Sink,
) -> Cleanup {
    let jobs = created
        .into_iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(region, c)| async move { clean_region(clients, &region, c, poll, sink).await });
    let mut total = Cleanup::default();
    for c in futures::future::join_all(jobs).await {
        total.instances.extend(c.instances);
        total.key_pairs.extend(c.key_pairs);
        total.security_groups.extend(c.security_groups);
        total.errors.extend(c.errors);
    }
    total
}

async fn clean_region(
    clients: &Clients,
    region: &str,
    c: Created,
    poll: Duration,
    sink: &Sink,
) -> Cleanup {
    let mut out = Cleanup::default();
    let removed = |what: String| {
        sink.send(Event::CleanedUp {
            region: region.to_string(),
            resource: what,
        })
    };
    let mut instances_gone = true;
    if !c.instances.is_empty() {
        match instances::terminate(clients, region, &c.instances).await {
            Ok(()) => {
                instances_gone =
                    wait_terminated(clients, region, &c.instances, poll, &mut out).await;
                for id in &c.instances {
                    removed(format!("instance {id}"));
                    out.instances.push(format!("{region}:{id}"));
                }
            }
            Err(e) => {
                instances_gone = false;
                out.errors.push(format!(
                    "{region}: instances {}: {e}",
                    c.instances.join(", ")
                ));
            }
        }
    }
    for g in &c.security_groups {
        match delete_group(clients, region, g, instances_gone, poll).await {
            Ok(()) => {
                removed(format!("security group {g}"));
                out.security_groups.push(format!("{region}:{g}"));
            }
            Err(e) => out
                .errors
                .push(format!("{region}: security group {g}: {e}")),
        }
    }
    for k in &c.key_pairs {
        match instances::delete_key_pair(clients, region, k).await {
            Ok(()) => {
                removed(format!("key pair {k}"));
                out.key_pairs.push(format!("{region}:{k}"));
            }
            Err(e) => out.errors.push(format!("{region}: key pair {k}: {e}")),
        }
    }
    out
}

/// Waits until every instance is terminated (or unknown). False on timeout.
async fn wait_terminated(
    clients: &Clients,
    region: &str,
    ids: &[String],
    poll: Duration,
    out: &mut Cleanup,
) -> bool {
    let deadline = Instant::now() + TERMINATE_WAIT;
    let mut left: Vec<String> = ids.to_vec();
    while !left.is_empty() {
        let mut still = Vec::new();
        for id in &left {
            match instances::describe(clients, region, id).await {
                Ok(Some(i)) if i.state != "terminated" => still.push(id.clone()),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(region, id, error = %e, "describing a terminating instance");
                    still.push(id.clone());
                }
            }
        }
        left = still;
        if left.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            out.errors.push(format!(
                "{region}: instances {} not terminated after {}",
                left.join(", "),
                humantime::format_duration(TERMINATE_WAIT)
            ));
            return false;
        }
        tokio::time::sleep(poll).await;
    }
    true
}

/// Deletes a security group, retrying while AWS still sees it in use by terminating instances.
async fn delete_group(
    clients: &Clients,
    region: &str,
    id: &str,
    instances_gone: bool,
    poll: Duration,
) -> Result<(), amiforge_aws::Error> {
    let deadline = Instant::now()
        + if instances_gone {
            Duration::from_secs(120)
        } else {
            Duration::ZERO
        };
    loop {
        match instances::delete_security_group(clients, region, id).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is(ErrorKind::DependencyViolation) && Instant::now() < deadline => {
                tokio::time::sleep(poll).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_keeps_what_it_is_told_per_region() {
        let l = Ledger::default();
        l.instance("eu-west-1", "i-1");
        l.security_group("eu-west-1", "sg-1");
        l.key_pair("us-west-2", "k");
        let s = l.snapshot();
        assert_eq!(s["eu-west-1"].instances, ["i-1"]);
        assert_eq!(s["eu-west-1"].security_groups, ["sg-1"]);
        assert_eq!(s["us-west-2"].key_pairs, ["k"]);
        assert!(!s["us-west-2"].is_empty() && Created::default().is_empty());
    }
}
