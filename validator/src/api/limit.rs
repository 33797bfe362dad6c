//! The one limit on test instances alive at once across every concurrent `Validate` call of a
//! server (`--max-instances`), so many pipelines sharing a validator never exceed the account's
//! instance quota. A run holds one permit per test instance, from before its launch until its
//! terminate request; its own `max_parallel` applies on top.

use std::sync::Arc;

use tokio::sync::Semaphore;

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

#[cfg(test)]
mod tests {
    use super::*;

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
