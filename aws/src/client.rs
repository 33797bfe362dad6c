//! Clients per region from one configuration: the standard credential chain (env, profiles,
//! SSO, IMDS …), `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_EC2` honoured, the SDK's adaptive retry
//! (client-side rate limiting on throttling), and one rustls (ring) HTTPS client shared by all.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

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

/// Per-region clients over one configuration (created on first use, then reused).
pub struct Clients {
    sdk: SdkConfig,
    ec2: Mutex<BTreeMap<String, aws_sdk_ec2::Client>>,
}

impl Clients {
    pub fn new(sdk: SdkConfig) -> Clients {
        Clients {
            sdk,
            ec2: Mutex::new(BTreeMap::new()),
        }
    }

    /// Loads the configuration and wraps it.
    pub async fn load(home_region: &str) -> Clients {
        Clients::new(load(home_region).await)
    }

    pub fn ec2(&self, region: &str) -> aws_sdk_ec2::Client {
        let mut m = self.ec2.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(region.to_string())
            .or_insert_with(|| {
                let conf = aws_sdk_ec2::config::Builder::from(&self.sdk)
                    .region(Region::new(region.to_string()))
                    .build();
                aws_sdk_ec2::Client::from_conf(conf)
            })
            .clone()
    }

    pub fn kms(&self, region: &str) -> aws_sdk_kms::Client {
        let conf = aws_sdk_kms::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_kms::Client::from_conf(conf)
    }

    pub fn ssm(&self, region: &str) -> aws_sdk_ssm::Client {
        let conf = aws_sdk_ssm::config::Builder::from(&self.sdk)
            .region(Region::new(region.to_string()))
            .build();
        aws_sdk_ssm::Client::from_conf(conf)
    }
}

/// An AWS error as one line: operation, error code and message (never credentials).
pub fn describe<E>(op: &str, e: &aws_sdk_ec2::error::SdkError<E>) -> String
where
    E: std::error::Error + aws_sdk_ec2::error::ProvideErrorMetadata + 'static,
{
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{op}: {c}: {m}"),
        (Some(c), None) => format!("{op}: {c}"),
        _ => format!("{op}: {}", aws_sdk_ec2::error::DisplayErrorContext(e)),
    }
}

/// The error code of an AWS error, if the service sent one.
pub fn code<E>(e: &aws_sdk_ec2::error::SdkError<E>) -> Option<String>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata,
{
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    e.code().map(str::to_string)
}
