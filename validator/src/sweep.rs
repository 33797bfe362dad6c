//! Removing what validator runs left behind (a killed process cannot clean up after itself):
//! everything tagged by the validator in the given regions, narrowed to one run, to runs whose
//! lease lapsed (the default), or all of them. A run that is alive renews its lease
//! (`amiforge:lease-until`, see [`crate::lease`]), so no sweep takes its resources unless
//! `force`d: a sweep never pulls an instance out from under a run still going. Idempotent;
//! `dry_run` only lists.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use amiforge_aws::client::Clients;
use amiforge_aws::instances;
use amiforge_model::tags;

use crate::events::Sink;
use crate::lease::live_until;
use crate::ledger::{self, Created};
use amiforge_validator_api::report::Cleanup;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One run's resources (its id is in the report and in the resources' tags).
    Run(String),
    /// Resources whose lease (or, without one, expiry) can be read: runs that are over.
    Expired,
    /// Every validator resource, also ones whose lease cannot be read.
    All,
}

impl Scope {
    /// Whether a resource tagged `t` is taken: in scope, and its run's lease lapsed (`force`:
    /// live runs too).
    fn wants(&self, t: &BTreeMap<String, String>, now: SystemTime, force: bool) -> bool {
        let until = live_until(t);
        let in_scope = match self {
            Scope::All => true,
            Scope::Run(id) => t.get(tags::VALIDATOR_RUN) == Some(id),
            // no (readable) lease or expiry: not ours to judge, unless asked for all
            Scope::Expired => until.is_some(),
        };
        in_scope && (force || until.is_none_or(|u| u <= now))
    }
}

/// What a sweep takes: the [`Scope`], whether live runs too (`force`), and whose runs (`owner`:
/// only resources tagged [`tags::VALIDATOR_OWNER`] with that identity; `None`: anyone's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    pub scope: Scope,
    pub force: bool,
    pub owner: Option<String>,
}

impl Select {
    /// `scope`, lapsed leases only, anyone's runs.
    pub fn new(scope: Scope) -> Select {
        Select {
            scope,
            force: false,
            owner: None,
        }
    }

    pub fn forced(mut self, force: bool) -> Select {
        self.force = force;
        self
    }

    /// Only the runs `owner` asked for.
    pub fn owned_by(mut self, owner: &str) -> Select {
        self.owner = Some(owner.to_string());
        self
    }

    fn wants(&self, t: &BTreeMap<String, String>, now: SystemTime) -> bool {
        let mine = match &self.owner {
            None => true,
            Some(o) => t.get(tags::VALIDATOR_OWNER) == Some(o),
        };
        mine && self.scope.wants(t, now, self.force)
    }
}

/// What a sweep found (per region) and, unless dry, what it removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Swept {
    pub found: BTreeMap<String, Created>,
    pub cleanup: Cleanup,
}

/// Finds the validator's resources in `regions` that `select` takes (by default what lapsed leases
/// left), and removes them.
pub async fn sweep(
    clients: &Clients,
    regions: &[String],
    select: &Select,
    dry_run: bool,
    poll: Duration,
    sink: &Sink,
) -> Result<Swept, String> {
    let now = SystemTime::now();
    let finds = regions.iter().map(|r| async move {
        instances::find_tagged(clients, r, tags::MANAGED_BY, "amiforge-validator")
            .await
            .map(|t| (r.clone(), t))
    });
    let mut found = BTreeMap::new();
    for res in futures::future::join_all(finds).await {
        let (region, t) = res.map_err(|e| e.to_string())?;
        let c = Created {
            instances: t
                .instances
                .iter()
                .filter(|i| select.wants(&i.tags, now))
                .map(|i| i.id.clone())
                .collect(),
            key_pairs: t
                .key_pairs
                .iter()
                .filter(|(_, tg)| select.wants(tg, now))
                .map(|(k, _)| k.clone())
                .collect(),
            security_groups: t
                .security_groups
                .iter()
                .filter(|(_, tg)| select.wants(tg, now))
                .map(|(g, _)| g.clone())
                .collect(),
            ..Created::default()
        };
        if !c.is_empty() {
            found.insert(region, c);
        }
    }
    let cleanup = if dry_run {
        Cleanup::default()
    } else {
        ledger::clean(clients, found.clone(), poll, sink).await
    };
    Ok(Swept { found, cleanup })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(run: &str, exp: &str, lease: Option<&str>) -> BTreeMap<String, String> {
        let mut t = BTreeMap::from([
            (tags::VALIDATOR_RUN.to_string(), run.to_string()),
            (tags::EXPIRES_AT.to_string(), exp.to_string()),
        ]);
        if let Some(l) = lease {
            t.insert(tags::LEASE_UNTIL.to_string(), l.to_string());
        }
        t
    }

    #[test]
    fn scopes_select_by_run_and_by_expiry() {
        let now = humantime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
        let old = t("a", "2026-11-27T11:00:00Z", None);
        let live = t("b", "2026-11-27T13:00:00Z", None);
        assert!(Scope::Expired.wants(&old, now, false) && !Scope::Expired.wants(&live, now, false));
        assert!(Scope::Run("a".into()).wants(&old, now, false));
        assert!(!Scope::Run("b".into()).wants(&old, now, true));
        assert!(Scope::All.wants(&old, now, false));
        assert!(!Scope::Expired.wants(&BTreeMap::new(), now, false));
        assert!(
            Scope::All.wants(&BTreeMap::new(), now, false),
            "unjudgeable: only --all"
        );
    }

    #[test]
    fn a_live_lease_is_never_taken_unless_forced() {
        let now = humantime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
        let far = "2026-11-27T14:00:00Z";
        let live = t("b", far, Some("2026-11-27T12:04:00Z"));
        let lapsed = t("c", far, Some("2026-11-27T11:59:00Z"));
        for scope in [Scope::Expired, Scope::All, Scope::Run("b".into())] {
            assert!(!scope.wants(&live, now, false), "{scope:?} took a live run");
            assert!(
                matches!(scope, Scope::Run(_)) || scope.wants(&lapsed, now, false),
                "{scope:?} left a lapsed lease"
            );
        }
        assert!(Scope::Run("c".into()).wants(&lapsed, now, false));
        assert!(Scope::Run("b".into()).wants(&live, now, true), "forced");
        assert!(Scope::All.wants(&live, now, true));
        // the hard bound wins over a lease renewed beyond it
        let stuck = t("d", "2026-11-27T11:00:00Z", Some("2026-11-27T12:04:00Z"));
        assert!(Scope::Expired.wants(&stuck, now, false));
    }

    #[test]
    fn an_owner_selects_only_runs_tagged_with_that_identity() {
        let now = humantime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
        let mut alice = t("a", "2026-11-27T11:00:00Z", None);
        alice.insert(tags::VALIDATOR_OWNER.to_string(), "token:alice".to_string());
        let cli = t("b", "2026-11-27T11:00:00Z", None);
        let anyone = Select::new(Scope::Expired);
        assert!(anyone.wants(&alice, now) && anyone.wants(&cli, now));
        let hers = Select::new(Scope::Expired).owned_by("token:alice");
        assert!(hers.wants(&alice, now));
        assert!(
            !hers.wants(&cli, now),
            "a run without an owner is nobody's to take"
        );
        let bob = Select::new(Scope::Run("a".into())).owned_by("token:bob");
        assert!(!bob.forced(true).wants(&alice, now), "even forced");
    }
}
