//! Everything a run created, per region: the intent written down before every create (what the
//! create will be known by: the client token, the name; see [`crate::intents`]), and the id the
//! moment AWS confirms it. And the one cleanup that removes it whatever happened before (pass,
//! failure, timeout, interrupt, a create cancelled or failed midway): the intents still open are
//! looked up first, then instances are terminated, then, once they are gone, security groups
//! (AWS refuses earlier), then key pairs. `sweep` feeds what it finds by tag through the same
//! cleanup; the run's lease is renewed on what the ledger holds ([`Ledger::leased`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use amiforge_aws::client::Clients;
use amiforge_aws::{ErrorKind, instances};

use crate::events::{Event, Sink};
use crate::intents::{self, Intent, Open};
use amiforge_validator_api::report::Cleanup;

/// Resources made in one region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Created {
    pub instances: Vec<String>,
    /// Key pairs by name (what DeleteKeyPair takes) …
    pub key_pairs: Vec<String>,
    /// … and by resource id (what CreateTags takes), when known.
    pub key_pair_ids: Vec<String>,
    pub security_groups: Vec<String>,
}

impl Created {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.key_pairs.is_empty() && self.security_groups.is_empty()
    }
}

/// What one run made and meant to make.
#[derive(Debug, Default)]
pub struct Ledger(Mutex<Book>);

#[derive(Debug, Default)]
struct Book {
    created: BTreeMap<String, Created>,
    /// Creates not known to have ended (by number).
    open: BTreeMap<u64, Open>,
    next: u64,
    /// Instances already terminated (their lease needs no renewal).
    terminated: BTreeSet<(String, String)>,
}

/// An intent written down before a create; [`Ledger::close`] once its outcome is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "close the intent once the create's outcome is known"]
pub struct IntentId(u64);

impl Ledger {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with(&self, region: &str, f: impl FnOnce(&mut Created)) {
        f(self.book().created.entry(region.to_string()).or_default());
    }

    /// Before a create: what it will be known by, so cleanup finds its resource even when the
    /// create is cancelled or fails without saying whether it made anything.
    pub fn intend(&self, region: &str, run_id: &str, intent: Intent) -> IntentId {
        let mut b = self.book();
        b.next += 1;
        let n = b.next;
        b.open.insert(n, Open::new(region, run_id, intent));
        IntentId(n)
    }

    /// The create ended: its resource is recorded by id, or it certainly made nothing.
    pub fn close(&self, id: IntentId) {
        self.book().open.remove(&id.0);
    }

    /// Creates whose outcome is unknown (cancelled, failed midway).
    pub fn open_intents(&self) -> Vec<Open> {
        self.book().open.values().cloned().collect()
    }

    pub fn instance(&self, region: &str, id: &str) {
        self.with(region, |c| c.instances.push(id.to_string()));
    }

    /// A key pair made for the run: its name and resource id.
    pub fn key_pair(&self, region: &str, name: &str, id: &str) {
        self.with(region, |c| {
            c.key_pairs.push(name.to_string());
            c.key_pair_ids.push(id.to_string());
        });
    }

    pub fn security_group(&self, region: &str, id: &str) {
        self.with(region, |c| c.security_groups.push(id.to_string()));
    }

    /// The run terminated this instance already.
    pub fn terminated(&self, region: &str, id: &str) {
        self.book()
            .terminated
            .insert((region.to_string(), id.to_string()));
    }

    pub fn snapshot(&self) -> BTreeMap<String, Created> {
        self.book().created.clone()
    }

    /// Per region, the ids the run's lease is renewed on: every resource recorded there except
    /// instances already terminated.
    pub fn leased(&self) -> BTreeMap<String, Vec<String>> {
        let b = self.book();
        b.created
            .iter()
            .map(|(region, c)| {
                let live = c
                    .instances
                    .iter()
                    .filter(|i| !b.terminated.contains(&(region.clone(), (*i).clone())));
                let ids = live
                    .chain(&c.security_groups)
                    .chain(&c.key_pair_ids)
                    .cloned()
                    .collect::<Vec<_>>();
                (region.clone(), ids)
            })
            .filter(|(_, ids)| !ids.is_empty())
            .collect()
    }
}

/// How long cleanup waits for instances to terminate before deleting their security groups.
pub const TERMINATE_WAIT: Duration = Duration::from_secs(10 * 60);

/// A run's cleanup: the creates whose outcome is unknown looked up first ([`intents::resolve`]),
/// then everything removed ([`clean`]).
pub async fn clean_run(clients: &Clients, ledger: &Ledger, poll: Duration, sink: &Sink) -> Cleanup {
    let (found, errors) = intents::resolve(clients, ledger.open_intents(), poll).await;
    let mut created = ledger.snapshot();
    for (region, c) in found {
        let into = created.entry(region).or_default();
        for (from, to) in [
            (c.instances, &mut into.instances),
            (c.security_groups, &mut into.security_groups),
            (c.key_pairs, &mut into.key_pairs),
        ] {
            for id in from {
                if !to.contains(&id) {
                    to.push(id);
                }
            }
        }
    }
    let mut out = clean(clients, created, poll, sink).await;
    out.errors.extend(errors);
    out
}

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
        l.key_pair("us-west-2", "k", "key-1");
        let s = l.snapshot();
        assert_eq!(s["eu-west-1"].instances, ["i-1"]);
        assert_eq!(s["eu-west-1"].security_groups, ["sg-1"]);
        assert_eq!(s["us-west-2"].key_pairs, ["k"]);
        assert!(!s["us-west-2"].is_empty() && Created::default().is_empty());
    }

    #[test]
    fn intents_stay_open_until_closed_and_leases_skip_terminated_instances() {
        let l = Ledger::default();
        let a = l.intend("eu-west-1", "r", Intent::SecurityGroup);
        let b = l.intend(
            "eu-west-1",
            "r",
            Intent::Instance {
                client_token: "t".into(),
            },
        );
        l.close(a);
        let open = l.open_intents();
        assert_eq!(open.len(), 1);
        assert_eq!(
            open[0].intent,
            Intent::Instance {
                client_token: "t".into()
            }
        );
        l.close(b);
        assert!(l.open_intents().is_empty());
        l.instance("eu-west-1", "i-1");
        l.instance("eu-west-1", "i-2");
        l.security_group("eu-west-1", "sg-1");
        l.key_pair("us-west-2", "k", "key-1");
        l.terminated("eu-west-1", "i-1");
        let leased = l.leased();
        assert_eq!(leased["eu-west-1"], ["i-2", "sg-1"]);
        assert_eq!(leased["us-west-2"], ["key-1"], "key pairs are tagged by id");
    }
}
