//! What a server allows at once: test instances alive across every concurrent `Validate` call
//! ([`InstanceLimit`], `--max-instances`), so many pipelines sharing a validator never exceed
//! the account's instance quota (a run holds one permit per test instance, from before its launch
//! until its terminate request; its own `max_parallel` applies on top); and runs in progress, in
//! total and per caller ([`Runs`], `--max-runs`, `--max-runs-per-caller`), each known by its id
//! and owner while it lasts.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tonic::Status;

/// Default for `serve --max-runs`.
pub const DEFAULT_MAX_RUNS: usize = 32;
/// Default for `serve --max-runs-per-caller`.
pub const DEFAULT_MAX_RUNS_PER_CALLER: usize = 4;
/// Default for `serve --max-targets`.
pub const DEFAULT_MAX_TARGETS: usize = 256;

/// Default for `serve --max-instances`.
pub const DEFAULT_MAX_INSTANCES: usize = 8;

#[derive(Debug, Clone)]
pub struct InstanceLimit {
    max: usize,
    permits: Arc<Semaphore>,
}

impl InstanceLimit {
    /// A limit of `max` instances (at least 1).
    pub fn new(max: usize) -> InstanceLimit {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        InstanceLimit {
            max,
            permits: Arc::new(Semaphore::new(max)),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Permits held right now (test instances launching or alive).
    pub fn in_use(&self) -> usize {
        self.max.saturating_sub(self.permits.available_permits())
    }

    /// What [`crate::run::run_with`] takes its permits from.
    pub fn semaphore(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }
}

/// The runs in progress: their owners, within the limits.
#[derive(Debug, Clone)]
pub struct Runs {
    max_total: usize,
    max_per_caller: usize,
    live: Arc<Mutex<BTreeMap<String, String>>>,
}

/// A run's place among the runs in progress; dropping it (the run's task ended) frees it.
#[derive(Debug)]
pub struct RunSlot {
    run_id: String,
    live: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Drop for RunSlot {
    fn drop(&mut self) {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.remove(&self.run_id);
    }
}

impl Runs {
    pub fn new(max_total: usize, max_per_caller: usize) -> Runs {
        Runs {
            max_total: max_total.max(1),
            max_per_caller: max_per_caller.max(1),
            live: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for run `run_id` of `owner`, or `RESOURCE_EXHAUSTED` naming the limit reached
    /// (`ALREADY_EXISTS` for an id in use).
    pub fn start(&self, run_id: &str, owner: &str) -> Result<RunSlot, Status> {
        let mut live = self.lock();
        if live.contains_key(run_id) {
            return Err(Status::already_exists(format!(
                "run {run_id} is in progress; give another run_id or none"
            )));
        }
        if live.len() >= self.max_total {
            return Err(Status::resource_exhausted(format!(
                "this validator runs at most {} validations at once (serve --max-runs); try again \
                 when one has finished",
                self.max_total
            )));
        }
        let mine = live.values().filter(|o| o.as_str() == owner).count();
        if mine >= self.max_per_caller {
            return Err(Status::resource_exhausted(format!(
                "{owner} has {mine} validations in progress, the most one caller may have \
                 (serve --max-runs-per-caller); try again when one has finished"
            )));
        }
        live.insert(run_id.to_string(), owner.to_string());
        Ok(RunSlot {
            run_id: run_id.to_string(),
            live: self.live.clone(),
        })
    }

    /// Who runs `run_id`, while it is in progress.
    pub fn owner_of(&self, run_id: &str) -> Option<String> {
        self.lock().get(run_id).cloned()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_limited_in_total_and_per_caller_and_ids_are_unique() {
        let runs = Runs::new(3, 2);
        let a1 = runs.start("a1", "token:a").unwrap();
        let _a2 = runs.start("a2", "token:a").unwrap();
        let e = runs.start("a3", "token:a").unwrap_err();
        assert_eq!(e.code(), tonic::Code::ResourceExhausted);
        assert!(e.message().contains("--max-runs-per-caller"), "{e:?}");
        assert_eq!(
            runs.start("a1", "token:b").unwrap_err().code(),
            tonic::Code::AlreadyExists
        );
        let _b1 = runs.start("b1", "token:b").unwrap();
        let e = runs.start("b2", "token:b").unwrap_err();
        assert!(e.message().contains("--max-runs)"), "{e:?}");
        assert_eq!(runs.owner_of("a1").as_deref(), Some("token:a"));
        drop(a1);
        assert_eq!(runs.owner_of("a1"), None);
        assert_eq!(runs.len(), 2);
        runs.start("b2", "token:b").unwrap();
    }

    #[test]
    fn in_use_counts_held_permits_and_zero_means_one() {
        let l = InstanceLimit::new(3);
        let s = l.semaphore();
        let a = s.try_acquire().unwrap();
        let _b = s.try_acquire().unwrap();
        assert_eq!((l.max(), l.in_use()), (3, 2));
        drop(a);
        assert_eq!(l.in_use(), 1);
        let one = InstanceLimit::new(0);
        assert_eq!(one.max(), 1);
        let _p = one.semaphore().try_acquire_owned().unwrap();
        assert!(one.semaphore().try_acquire_owned().is_err());
    }
}
