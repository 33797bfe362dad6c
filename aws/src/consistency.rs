//! EC2's eventual consistency, in one place. Right after a create (CopyImage, RunInstances,
//! CreateSecurityGroup, CreateKeyPair, …) calls naming the new id may answer `…NotFound` and
//! filtered describes may leave it out, for a while (AWS documents it for the EC2 API; Terraform's
//! AWS provider and Packer's waiters retry for the same reason).
//!
//! [`Consistency`] remembers which ids this process created and when (every create function of
//! this crate records what it made). Within [`Consistency::window`] of a birth:
//! * [`retry`]: a call naming the id that answers NotFound is retried, with jittered exponential
//!   backoff, until it answers otherwise or the window has passed;
//! * [`delete`]: a delete answered NotFound is not taken on faith: it is repeated until it
//!   succeeds (the resource showed up and is now deleted) or the window has passed (the resource
//!   is really absent). Either way the id is forgotten, so later NotFounds are final at once.
//!
//! Ids this process did not create (a user's AMI, leftovers of another run) are not waited for:
//! NotFound about them is final. The window defaults to [`DEFAULT_WINDOW`] (Terraform's
//! propagation timeout); [`WINDOW_ENV`] or [`crate::Clients::with_consistency_window`] change it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Result;

/// How long a new id may stay invisible (Terraform's AWS provider waits as long).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(120);
/// Environment variable with another window (a duration like `30s`).
pub const WINDOW_ENV: &str = "AMIFORGE_CONSISTENCY_WINDOW";

const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(4);

/// The ids this process created, with their birth times, and how long each may be invisible.
#[derive(Debug)]
pub struct Consistency {
    window: Duration,
    born: Mutex<HashMap<(String, String), Instant>>,
}

impl Consistency {
    pub fn new(window: Duration) -> Consistency {
        Consistency {
            window,
            born: Mutex::new(HashMap::new()),
        }
    }

    /// The window from [`WINDOW_ENV`], else [`DEFAULT_WINDOW`] (an unreadable value is logged
    /// and ignored).
    pub fn from_env() -> Consistency {
        let window = match std::env::var(WINDOW_ENV) {
            Ok(v) => humantime::parse_duration(v.trim()).unwrap_or_else(|e| {
                tracing::warn!(value = %v, error = %e, "{WINDOW_ENV} is not a duration; using the default");
                DEFAULT_WINDOW
            }),
            Err(_) => DEFAULT_WINDOW,
        };
        Consistency::new(window)
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Instant>> {
        self.born.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `id` (a resource id, or a key pair's name) was created in `region` just now.
    pub fn born(&self, region: &str, id: &str) {
        self.born_at(region, id, Instant::now());
    }

    /// `id` was created in `region` at `at` (e.g. a snapshot learnt of later, born with its AMI).
    pub fn born_at(&self, region: &str, id: &str, at: Instant) {
        let mut m = self.map();
        let window = self.window;
        m.retain(|_, t| t.elapsed() < window);
        m.entry((region.to_string(), id.to_string())).or_insert(at);
    }

    /// When `id` was created, if by this process within the window.
    pub fn born_when(&self, region: &str, id: &str) -> Option<Instant> {
        self.map()
            .get(&(region.to_string(), id.to_string()))
            .copied()
            .filter(|t| t.elapsed() < self.window)
    }

    /// `id` is gone (deleted by us): NotFound about it is final from now on.
    pub fn forget(&self, region: &str, id: &str) {
        self.map().remove(&(region.to_string(), id.to_string()));
    }

    /// Until when NotFound about any of `ids` may only mean "not visible yet": the newest birth
    /// among them plus the window, if that is still ahead.
    pub fn settles_at(&self, region: &str, ids: &[&str]) -> Option<Instant> {
        let m = self.map();
        ids.iter()
            .filter_map(|id| m.get(&(region.to_string(), id.to_string())))
            .map(|t| *t + self.window)
            .filter(|t| *t > Instant::now())
            .max()
    }
}

/// `d` scaled by a random factor in [0.5, 1) (so many callers do not retry in step).
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, RandomState};
    let r = RandomState::new().hash_one(Instant::now()) % 1000;
    d.mul_f64(0.5 + r as f64 / 2000.0)
}

/// Runs `call` (an operation naming `ids` in `region`); while it answers NotFound and one of
/// `ids` is younger than the window, waits (jittered exponential backoff) and calls again.
/// Every other answer, and NotFound once the window has passed, is returned as it is.
pub async fn retry<T, F, Fut>(c: &Consistency, region: &str, ids: &[&str], mut call: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut delay = FIRST_DELAY;
    loop {
        let e = match call().await {
            Err(e) if e.is_not_found() => e,
            done => return done,
        };
        let Some(until) = c.settles_at(region, ids) else {
            return Err(e);
        };
        let left = until.saturating_duration_since(Instant::now());
        tracing::debug!(region, ?ids, op = %e.op, code = ?e.code, ?left, "not visible yet; retrying");
        tokio::time::sleep(jitter(delay).min(left)).await;
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// A delete of `id` (`call`) that is confirmed, never taken on faith: success, or NotFound once
/// `id` is past its window (really absent), means gone and the id is forgotten; NotFound within
/// the window is retried ([`retry`]). Other errors are returned.
pub async fn delete<F, Fut>(c: &Consistency, region: &str, id: &str, call: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<()>>,
{
    match retry(c, region, &[id], call).await {
        Err(e) if !e.is_not_found() => Err(e),
        _ => {
            c.forget(region, id);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind};
    use std::sync::atomic::{AtomicU32, Ordering};

    fn not_found() -> Error {
        Error::new("DescribeThing", ErrorKind::NotFound, "no such thing")
    }

    #[tokio::test]
    async fn not_found_about_a_new_id_is_retried_until_it_shows_up() {
        let c = Consistency::new(Duration::from_secs(60));
        c.born("eu-west-1", "i-1");
        let calls = AtomicU32::new(0);
        let r = retry(&c, "eu-west-1", &["i-1"], || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0..=2 => Err(not_found()),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(r, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn not_found_is_final_for_ids_not_made_here_and_after_the_window() {
        let c = Consistency::new(Duration::from_millis(900));
        let calls = AtomicU32::new(0);
        let once = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(not_found())
        };
        assert!(retry(&c, "eu-west-1", &["ami-old"], once).await.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "someone else's id: no waiting"
        );
        c.born("eu-west-1", "ami-new");
        let start = Instant::now();
        assert!(retry(&c, "eu-west-1", &["ami-new"], once).await.is_err());
        assert!(
            start.elapsed() >= Duration::from_millis(850),
            "{:?}",
            start.elapsed()
        );
        assert!(start.elapsed() < Duration::from_secs(5), "bounded");
        assert!(calls.load(Ordering::SeqCst) >= 3);
    }

    #[tokio::test]
    async fn other_errors_are_never_retried() {
        let c = Consistency::new(Duration::from_secs(60));
        c.born("eu-west-1", "sg-1");
        let calls = AtomicU32::new(0);
        let r: Result<()> = retry(&c, "eu-west-1", &["sg-1"], || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(Error::new("X", ErrorKind::DependencyViolation, "in use"))
        })
        .await;
        assert!(r.unwrap_err().is(ErrorKind::DependencyViolation));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_delete_answered_not_found_is_confirmed_before_it_counts() {
        let c = Consistency::new(Duration::from_secs(60));
        c.born("eu-west-1", "sg-1");
        let calls = AtomicU32::new(0);
        let r = delete(&c, "eu-west-1", "sg-1", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(not_found()),
                _ => Ok(()),
            }
        })
        .await;
        assert_eq!(r, Ok(()));
        assert_eq!(
            calls.load(Ordering::SeqCst),
            3,
            "deleted for real on the third call"
        );
        assert_eq!(
            c.born_when("eu-west-1", "sg-1"),
            None,
            "forgotten once gone"
        );
        // a gone id is not waited for again
        let start = Instant::now();
        assert_eq!(
            delete(&c, "eu-west-1", "sg-1", || async { Err(not_found()) }).await,
            Ok(())
        );
        assert!(start.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn births_are_per_region_and_expire_with_the_window() {
        let c = Consistency::new(Duration::from_secs(60));
        let early = Instant::now() - Duration::from_secs(61);
        c.born_at("eu-west-1", "old", early);
        c.born("eu-west-1", "new");
        assert_eq!(c.settles_at("eu-west-1", &["old"]), None);
        assert!(c.settles_at("eu-west-1", &["old", "new"]).is_some());
        assert_eq!(c.settles_at("us-west-2", &["new"]), None);
        let j = jitter(Duration::from_secs(2));
        assert!(
            j >= Duration::from_secs(1) && j < Duration::from_secs(2),
            "{j:?}"
        );
    }
}
