//! Creates whose outcome is unknown. Before every create a run writes down what its resource
//! will be known by ([`Intent`]: an instance by its client token, the run's security group and
//! key pair by the run's tag and their name), because a create that is cancelled, or fails without
//! saying whether it made anything (a lost answer, AWS failing midway), may still have made it.
//! [`resolve`] finds those resources by the run's tag, looking again until each intent is
//! matched or the consistency window since it was written has passed (EC2's filtered describes
//! may not list a new resource yet; after the window, absent means never made).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use amiforge_aws::client::Clients;
use amiforge_aws::instances::{self, Tagged};
use amiforge_model::tags;

use crate::ledger::Created;

/// What a create's resource will be known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// RunInstances with this client token.
    Instance { client_token: String },
    /// The run's temporary security group in the region (one per run and region).
    SecurityGroup,
    /// The run's key pair in the region.
    KeyPair { name: String },
}

/// An intent whose create has not (yet) said what it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub region: String,
    pub run_id: String,
    pub intent: Intent,
    /// When it was written (just before the create was sent).
    pub at: Instant,
}

impl Open {
    pub fn new(region: &str, run_id: &str, intent: Intent) -> Open {
        Open {
            region: region.to_string(),
            run_id: run_id.to_string(),
            intent,
            at: Instant::now(),
        }
    }

    /// This intent's resources among what carries its run's tag.
    fn matches(&self, t: &Tagged) -> Created {
        let mut c = Created::default();
        match &self.intent {
            Intent::Instance { client_token } => {
                c.instances = t
                    .instances
                    .iter()
                    .filter(|i| &i.client_token == client_token)
                    .map(|i| i.id.clone())
                    .collect();
            }
            Intent::SecurityGroup => {
                c.security_groups = t.security_groups.iter().map(|(g, _)| g.clone()).collect();
            }
            Intent::KeyPair { name } => {
                c.key_pairs = t
                    .key_pairs
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(k, _)| k.clone())
                    .collect();
            }
        }
        c
    }
}

/// Looks up what the `open` intents' creates made, per region; and what could not be looked up.
pub async fn resolve(
    clients: &Clients,
    open: Vec<Open>,
    poll: Duration,
) -> (BTreeMap<String, Created>, Vec<String>) {
    let mut groups: BTreeMap<(String, String), Vec<Open>> = BTreeMap::new();
    for o in open {
        groups
            .entry((o.region.clone(), o.run_id.clone()))
            .or_default()
            .push(o);
    }
    let jobs = groups.into_iter().map(|((region, run), open)| async move {
        let r = resolve_run(clients, &region, &run, open, poll).await;
        (region, r)
    });
    let mut found = BTreeMap::new();
    let mut errors = Vec::new();
    for (region, (c, err)) in futures::future::join_all(jobs).await {
        if let Some(e) = err {
            errors.push(e);
        }
        if !c.is_empty() {
            found.insert(region, c);
        }
    }
    (found, errors)
}

/// One run's open intents in one region.
async fn resolve_run(
    clients: &Clients,
    region: &str,
    run: &str,
    mut open: Vec<Open>,
    poll: Duration,
) -> (Created, Option<String>) {
    let window = clients.consistency().window();
    let give_up = open.iter().map(|o| o.at + window).max();
    let mut found = Created::default();
    let mut last_error;
    let poll = poll.max(Duration::from_millis(500));
    loop {
        match instances::find_tagged(clients, region, tags::VALIDATOR_RUN, run).await {
            Ok(t) => {
                last_error = None;
                open.retain(|o| {
                    let c = o.matches(&t);
                    let hit = !c.is_empty();
                    found.instances.extend(c.instances);
                    found.security_groups.extend(c.security_groups);
                    found.key_pairs.extend(c.key_pairs);
                    !hit
                });
            }
            Err(e) => last_error = Some(e),
        }
        if open.is_empty() || give_up.is_none_or(|g| Instant::now() >= g) {
            break;
        }
        tokio::time::sleep(poll).await;
    }
    for o in &open {
        tracing::info!(region, run, intent = ?o.intent, "the create made nothing");
    }
    found.instances.dedup();
    found.security_groups.dedup();
    found.key_pairs.dedup();
    let err = last_error.map(|e| {
        format!("{region}: could not look up what the interrupted creates of run {run} made: {e}")
    });
    (found, err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use amiforge_aws::instances::InstanceInfo;

    #[test]
    fn intents_match_their_own_resources_only() {
        let inst = |id: &str, token: &str| InstanceInfo {
            id: id.into(),
            client_token: token.into(),
            ..InstanceInfo::default()
        };
        let t = Tagged {
            instances: vec![inst("i-1", "run-a-t3"), inst("i-2", "run-a-m5")],
            key_pairs: vec![("amiforge-validator-run".into(), BTreeMap::new())],
            security_groups: vec![("sg-1".into(), BTreeMap::new())],
        };
        let o = |intent| Open::new("eu-west-1", "run", intent);
        let i = o(Intent::Instance {
            client_token: "run-a-m5".into(),
        })
        .matches(&t);
        assert_eq!(i.instances, ["i-2"]);
        assert!(i.security_groups.is_empty() && i.key_pairs.is_empty());
        assert_eq!(
            o(Intent::SecurityGroup).matches(&t).security_groups,
            ["sg-1"]
        );
        let k = o(Intent::KeyPair {
            name: "amiforge-validator-run".into(),
        });
        assert_eq!(k.matches(&t).key_pairs, ["amiforge-validator-run"]);
        let other = o(Intent::KeyPair {
            name: "another".into(),
        });
        assert!(other.matches(&t).is_empty());
    }
}
