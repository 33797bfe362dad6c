//! Clients per region from one configuration: the standard credential chain (env, profiles,
//! SSO, IMDS …), `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_EC2` honoured, the SDK's adaptive retry
//! (client-side rate limiting on throttling), and one rustls (ring) HTTPS client shared by all.
//! The clients also carry the process's [`Consistency`] record (which ids it created, and when).

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::consistency::Consistency;

/// How many attempts a call gets (throttling and transient errors are retried with backoff).
pub const MAX_ATTEMPTS: u32 = 10;

/// Loads the shared AWS configuration (home region `region`).
pub async fn load(region: &str) -> SdkConfig {
    loader(region).load().await
}

/// A configuration for an explicit endpoint with fixed test credentials (emulators, tests): no
/// environment, profile or IMDS lookups.
pub async fn load_for_endpoint(region: &str, endpoint: &str) -> SdkConfig {
    loader(region)
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "amiforge-test",
        ))
        .load()
        .await
}

/// What every configuration shares: rustls (ring) HTTPS, the home region, adaptive retry.
fn loader(region: &str) -> aws_config::ConfigLoader {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .region(Region::new(region.to_string()))
        .retry_config(RetryConfig::adaptive().with_max_attempts(MAX_ATTEMPTS))
}

/// Per-region clients over one configuration (each created on first use, then reused: they share
/// the configuration's HTTP client and the adaptive retry's token bucket per client), and what
/// every call naming a new id consults ([`Clients::consistency`]).
pub struct Clients {
    sdk: SdkConfig,
    consistency: Consistency,
    ec2: PerRegion<aws_sdk_ec2::Client>,
    kms: PerRegion<aws_sdk_kms::Client>,
    ssm: PerRegion<aws_sdk_ssm::Client>,
}

/// One client per region, made on first use.
struct PerRegion<C>(Mutex<BTreeMap<String, C>>);

impl<C: Clone> PerRegion<C> {
    fn new() -> Self {
        PerRegion(Mutex::new(BTreeMap::new()))
    }

    fn get(&self, region: &str, make: impl FnOnce(Region) -> C) -> C {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(region.to_string())
            .or_insert_with(|| make(Region::new(region.to_string())))
            .clone()
    }
}

impl Clients {
    /// Clients over `sdk`, with the consistency window from the environment
    /// ([`crate::consistency::WINDOW_ENV`], else the default).
    pub fn new(sdk: SdkConfig) -> Clients {
        Clients {
            sdk,
            consistency: Consistency::from_env(),
            ec2: PerRegion::new(),
            kms: PerRegion::new(),
            ssm: PerRegion::new(),
        }
    }

    /// The same clients with another consistency window (how long a new id may stay invisible).
    pub fn with_consistency_window(mut self, window: std::time::Duration) -> Clients {
        self.consistency = Consistency::new(window);
        self
    }

    /// The ids this process created, and how long NotFound about them means "not yet".
    pub fn consistency(&self) -> &Consistency {
        &self.consistency
    }

    /// Loads the configuration and wraps it.
    pub async fn load(home_region: &str) -> Clients {
        Clients::new(load(home_region).await)
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        self.ec2.get(region, |r| {
            aws_sdk_ec2::Client::from_conf(
                aws_sdk_ec2::config::Builder::from(&self.sdk)
                    .region(r)
                    .build(),
            )
        })
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        self.kms.get(region, |r| {
            aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(&self.sdk)
                    .region(r)
                    .build(),
            )
        })
    }

    pub fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        self.ssm.get(region, |r| {
            aws_sdk_ssm::Client::from_conf(
                aws_sdk_ssm::config::Builder::from(&self.sdk)
                    .region(r)
                    .build(),
            )
        })
    }
}
