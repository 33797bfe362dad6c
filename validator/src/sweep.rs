//! Removing what validator runs left behind (a killed process cannot clean up after itself):
//! everything tagged by the validator in the given regions, narrowed to one run, to runs whose
//! `amiforge:expires-at` has passed (the default, so a sweep never pulls instances out from under
//! a run still going), or all of them. Idempotent; `dry_run` only lists.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use amiforge_aws::client::Clients;
use amiforge_aws::instances;
use amiforge_model::tags;

use crate::events::Sink;
use crate::ledger::{self, Created};
use amiforge_validator_api::report::Cleanup;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One run's resources (its id is in the report and in the resources' tags).
    Run(String),
    /// Resources whose run is over (expiry passed).
    Expired,
    /// Every validator resource.
    All,
}

impl Scope {
    fn wants(&self, t: &BTreeMap<String, String>, now: SystemTime) -> bool {
        match self {
            Scope::All => true,
            Scope::Run(id) => t.get(tags::VALIDATOR_RUN) == Some(id),
            Scope::Expired => t
                .get(tags::EXPIRES_AT)
                .and_then(|e| humantime::parse_rfc3339_weak(e).ok())
                // no (readable) expiry: not ours to judge, unless asked for all
                .is_some_and(|e| e <= now),
        }
    }
}

/// What a sweep found (per region) and, unless dry, what it removed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Swept {
    pub found: BTreeMap<String, Created>,
    pub cleanup: Cleanup,
}

/// Finds the validator's resources in `regions` that `scope` selects, and removes them.
pub async fn sweep(
    clients: &Clients,
    regions: &[String],
    scope: &Scope,
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
                .filter(|i| scope.wants(&i.tags, now))
                .map(|i| i.id.clone())
                .collect(),
            key_pairs: t
                .key_pairs
                .iter()
                .filter(|(_, tg)| scope.wants(tg, now))
                .map(|(k, _)| k.clone())
                .collect(),
            security_groups: t
                .security_groups
                .iter()
                .filter(|(_, tg)| scope.wants(tg, now))
                .map(|(g, _)| g.clone())
                .collect(),
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

    #[test]
    fn scopes_select_by_run_and_by_expiry() {
        let now = humantime::parse_rfc3339("2026-11-27T12:00:00Z").unwrap();
        let t = |run: &str, exp: &str| {
            BTreeMap::from([
                (tags::VALIDATOR_RUN.to_string(), run.to_string()),
                (tags::EXPIRES_AT.to_string(), exp.to_string()),
            ])
        };
        let old = t("a", "2026-11-27T11:00:00Z");
        let live = t("b", "2026-11-27T13:00:00Z");
        assert!(Scope::Expired.wants(&old, now) && !Scope::Expired.wants(&live, now));
        assert!(
            Scope::Run("b".into()).wants(&live, now) && !Scope::Run("b".into()).wants(&old, now)
        );
        assert!(Scope::All.wants(&live, now));
        assert!(!Scope::Expired.wants(&BTreeMap::new(), now));
    }
}
