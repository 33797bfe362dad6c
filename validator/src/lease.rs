//! A run's lease on what it made. Every resource a run creates carries
//! `amiforge:lease-until` (RFC 3339, a few minutes ahead, never past the hard bound
//! `amiforge:expires-at`), and while the run is alive a task of it renews the lease: one
//! CreateTags per region per renewal, naming everything the ledger holds there. A plain `sweep`
//! takes only what a lapsed lease left ([`live_until`]), so a run that is still going is never
//! swept, and a killed run's leftovers are found minutes after it died.
//!
//! The lease lasts [`DEFAULT_TTL`] (renewed every fifth of it); [`LEASE_ENV`] sets another length
//! (the tests use seconds). A run that ends with resources it could not remove releases its
//! lease on them, so `sweep --run-id` (the report's hint) takes them at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use amiforge_aws::client::Clients;
use amiforge_aws::instances;
use amiforge_model::tags;
use tokio_util::sync::CancellationToken;

use crate::ledger::Ledger;
use amiforge_validator_api::report::Cleanup;

/// How long a lease lasts unless renewed.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
/// Environment variable with another lease length (a duration like `90s`).
pub const LEASE_ENV: &str = "AMIFORGE_VALIDATOR_LEASE";

/// How long a lease lasts and how often it is renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    pub ttl: Duration,
    pub renew_every: Duration,
}

impl Term {
    /// A lease of `ttl`, renewed every fifth of it (four renewals may fail before it lapses).
    pub fn new(ttl: Duration) -> Term {
        Term {
            ttl,
            renew_every: (ttl / 5).max(Duration::from_millis(200)),
        }
    }

    /// The length from [`LEASE_ENV`], else [`DEFAULT_TTL`].
    pub fn from_env() -> Term {
        let ttl = match std::env::var(LEASE_ENV) {
            Ok(v) => humantime::parse_duration(v.trim())
                .ok()
                .filter(|d| *d >= Duration::from_secs(1))
                .unwrap_or_else(|| {
                    tracing::warn!(value = %v, "{LEASE_ENV} is not a duration of 1s or more; using the default");
                    DEFAULT_TTL
                }),
            Err(_) => DEFAULT_TTL,
        };
        Term::new(ttl)
    }
}

/// One run's lease: its tags, and until when it holds.
#[derive(Debug, Clone)]
pub struct Lease {
    base: BTreeMap<String, String>,
    expires: SystemTime,
    term: Term,
}

impl Lease {
    /// The lease of run `run_id`, whose resources may live until `expires` at most.
    pub fn new(run_id: &str, expires: SystemTime, term: Term) -> Lease {
        Lease {
            base: crate::launch::run_tags(run_id, expires),
            expires,
            term,
        }
    }

    /// The run was asked for by `owner` (a caller identity): every resource says so.
    pub fn owned_by(mut self, owner: &str) -> Lease {
        self.base
            .insert(tags::VALIDATOR_OWNER.to_string(), owner.to_string());
        self
    }

    /// Until when a lease taken or renewed now holds.
    pub fn until(&self) -> SystemTime {
        (SystemTime::now() + self.term.ttl).min(self.expires)
    }

    /// The tags a resource created now gets: the run's, with a fresh lease.
    pub fn tags(&self) -> BTreeMap<String, String> {
        let mut t = self.base.clone();
        t.insert(tags::LEASE_UNTIL.to_string(), rfc3339(self.until()));
        t
    }

    /// Renews the lease on everything in `ledger` every `renew_every` until `stop`.
    pub async fn keep(&self, clients: &Clients, ledger: &Ledger, stop: &CancellationToken) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.term.renew_every) => {}
                _ = stop.cancelled() => return,
            }
            self.renew(clients, ledger).await;
        }
    }

    /// The run is over: the lease on what `cleanup` could not remove ends now (one CreateTags per
    /// region), so a plain `sweep --run-id` takes it at once.
    pub async fn release(&self, clients: &Clients, ledger: &Ledger, cleanup: &Cleanup) {
        let removed: BTreeSet<&str> = [
            &cleanup.instances,
            &cleanup.security_groups,
            &cleanup.key_pairs,
        ]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
        // rounded down: the lease reads as over at once
        let ended = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        let now = BTreeMap::from([(tags::LEASE_UNTIL.to_string(), ended)]);
        for (region, c) in ledger.snapshot() {
            let gone = |id: &String| removed.contains(format!("{region}:{id}").as_str());
            let keys = c.key_pairs.iter().zip(&c.key_pair_ids);
            let left: Vec<String> = (c.instances.iter().chain(&c.security_groups))
                .filter(|id| !gone(id))
                .chain(keys.filter(|(name, _)| !gone(name)).map(|(_, id)| id))
                .cloned()
                .collect();
            if let Err(e) = instances::tag(clients, &region, &left, &now).await {
                tracing::warn!(%region, error = %e, "ending the run's lease on what is left");
            }
        }
    }

    /// One renewal: one CreateTags per region naming every live resource of the run there.
    async fn renew(&self, clients: &Clients, ledger: &Ledger) {
        let lease = BTreeMap::from([(tags::LEASE_UNTIL.to_string(), rfc3339(self.until()))]);
        let jobs = ledger.leased().into_iter().map(|(region, ids)| {
            let lease = &lease;
            async move {
                if let Err(e) = instances::tag(clients, &region, &ids, lease).await {
                    tracing::warn!(%region, error = %e, "renewing the run's lease; next time");
                }
            }
        });
        futures::future::join_all(jobs).await;
    }
}

/// `t` in whole seconds, rounded up (a lease never reads shorter than it is).
fn rfc3339(t: SystemTime) -> String {
    let frac = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let up = if frac == 0 {
        t
    } else {
        t + Duration::from_nanos(u64::from(1_000_000_000 - frac))
    };
    humantime::format_rfc3339_seconds(up).to_string()
}

/// Until when the run that tagged a resource so holds it: its lease, never past its expiry;
/// only the expiry for resources of older validators; `None` when neither can be read.
pub fn live_until(t: &BTreeMap<String, String>) -> Option<SystemTime> {
    let read = |k: &str| t.get(k).and_then(|v| humantime::parse_rfc3339_weak(v).ok());
    match (read(tags::LEASE_UNTIL), read(tags::EXPIRES_AT)) {
        (Some(l), Some(e)) => Some(l.min(e)),
        (l, e) => l.or(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SystemTime {
        humantime::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn a_lease_is_renewed_five_times_per_length_and_never_outlives_the_expiry() {
        let t = Term::new(Duration::from_secs(300));
        assert_eq!(t.renew_every, Duration::from_secs(60));
        let far = SystemTime::now() + Duration::from_secs(3600);
        let l = Lease::new("r1", far, t);
        let tags = l.tags();
        let until = live_until(&tags).unwrap();
        let ahead = until.duration_since(SystemTime::now()).unwrap();
        // written in whole seconds, rounded up
        assert!(ahead > Duration::from_secs(290) && ahead <= Duration::from_secs(301));
        assert_eq!(tags[tags::VALIDATOR_RUN], "r1");
        assert!(
            !tags.contains_key(tags::VALIDATOR_OWNER),
            "a CLI run has no owner"
        );
        let owned = Lease::new("r1", far, t).owned_by("token:ci").tags();
        assert_eq!(owned[tags::VALIDATOR_OWNER], "token:ci");
        let soon = SystemTime::now() + Duration::from_secs(10);
        let l = Lease::new("r1", soon, t);
        assert!(l.until() <= soon, "capped by amiforge:expires-at");
        let now = SystemTime::now();
        let written = humantime::parse_rfc3339(&rfc3339(now)).unwrap();
        assert!(
            written >= now && written < now + Duration::from_secs(1),
            "rounded up"
        );
    }

    #[test]
    fn the_lease_or_else_the_expiry_says_until_when_a_run_holds_its_resources() {
        let t = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let lease = "2026-11-27T12:05:00Z";
        let expiry = "2026-11-27T14:00:00Z";
        assert_eq!(
            live_until(&t(&[
                (tags::LEASE_UNTIL, lease),
                (tags::EXPIRES_AT, expiry)
            ])),
            Some(at(lease))
        );
        assert_eq!(
            live_until(&t(&[
                (tags::LEASE_UNTIL, expiry),
                (tags::EXPIRES_AT, lease)
            ])),
            Some(at(lease)),
            "never past the hard bound"
        );
        assert_eq!(
            live_until(&t(&[(tags::EXPIRES_AT, expiry)])),
            Some(at(expiry))
        );
        assert_eq!(live_until(&t(&[(tags::LEASE_UNTIL, "soon")])), None);
    }
}
