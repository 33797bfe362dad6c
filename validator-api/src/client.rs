//! Connecting to a validator server (the gate post-processor, CI tools, tests): one address form
//! for everyone, `HOST:PORT` / `http://HOST:PORT` (plain; loopback), `https://HOST:PORT` (TLS,
//! the server checked against a CA, optionally with a client certificate) or `unix:/path.sock`;
//! a bearer token, when given, goes with every call ([`Credentials`]). Messages up to
//! [`MAX_MESSAGE`] are taken, so the report of the largest request a server allows fits.

use std::path::PathBuf;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity, Uri};

use crate::pb::validator_client::ValidatorClient;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The environment variable a client takes its bearer token from when none is configured.
pub const TOKEN_ENV: &str = "AMIFORGE_VALIDATOR_TOKEN";

/// The bearer token in [`TOKEN_ENV`], if set and not empty.
pub fn token_from_env() -> Option<String> {
    std::env::var(TOKEN_ENV).ok().filter(|t| !t.is_empty())
}

/// The largest message a client or server takes (a report of 256 AMIs on many instance types
/// is a few MiB).
pub const MAX_MESSAGE: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "{0:?} is not a validator address: use HOST:PORT, http://HOST:PORT, https://HOST:PORT or unix:/absolute/path.sock"
    )]
    BadAddress(String),
    #[error("cannot connect to the validator at {addr}: {detail}")]
    Unreachable { addr: String, detail: String },
    #[error("{0}")]
    Credentials(String),
}

/// Where a validator listens, parsed from one of the address forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `unix:/absolute/path`
    Unix(std::path::PathBuf),
    /// `HOST:PORT` or `http://HOST:PORT`
    Http(Uri),
    /// `https://HOST:PORT`
    Https(Uri),
}

/// Parses `addr` without connecting (the gate checks its `address` attribute with this).
pub fn parse(addr: &str) -> Result<Address, ConnectError> {
    let bad = || ConnectError::BadAddress(addr.to_string());
    if let Some(path) = addr.strip_prefix("unix:") {
        if !path.starts_with('/') {
            return Err(bad());
        }
        return Ok(Address::Unix(path.into()));
    }
    let tls = addr.starts_with("https://");
    let url = if addr.starts_with("http://") || tls {
        addr.to_string()
    } else if addr.contains("://") {
        return Err(bad());
    } else {
        format!("http://{addr}")
    };
    let uri: Uri = url.parse().map_err(|_| bad())?;
    if uri.host().is_none_or(str::is_empty) || uri.port_u16().is_none_or(|p| p == 0) {
        return Err(bad());
    }
    Ok(if tls {
        Address::Https(uri)
    } else {
        Address::Http(uri)
    })
}

/// How a client checks the server and proves who it is.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// PEM CA the server's certificate must chain to (`https://`; default: none trusted).
    pub ca: Option<PathBuf>,
    /// PEM client certificate and key, for a server that asks for one (mutual TLS).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// The name the server's certificate must carry, when not the address's host.
    pub server_name: Option<String>,
    /// Sent as `authorization: Bearer …` with every call.
    pub token: Option<SecretString>,
}

/// Adds the bearer token to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

/// A connected client.
pub type Client = ValidatorClient<InterceptedService<Channel, Bearer>>;

impl Credentials {
    fn tls(&self, host: &str) -> Result<ClientTlsConfig, ConnectError> {
        let read = |what: &str, p: &PathBuf| {
            std::fs::read(p)
                .map_err(|e| ConnectError::Credentials(format!("{what} {}: {e}", p.display())))
        };
        let mut tls = ClientTlsConfig::new()
            .domain_name(self.server_name.clone().unwrap_or_else(|| host.to_string()));
        match &self.ca {
            Some(ca) => tls = tls.ca_certificate(Certificate::from_pem(read("the CA", ca)?)),
            None => {
                return Err(ConnectError::Credentials(
                    "an https:// validator needs the CA its certificate chains to".into(),
                ));
            }
        }
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => {
                tls = tls.identity(Identity::from_pem(
                    read("the client certificate", c)?,
                    read("the client key", k)?,
                ))
            }
            (None, None) => {}
            _ => {
                return Err(ConnectError::Credentials(
                    "a client certificate needs its key, and a key its certificate".into(),
                ));
            }
        }
        Ok(tls)
    }

    fn bearer(&self) -> Result<Bearer, ConnectError> {
        let Some(t) = &self.token else {
            return Ok(Bearer(None));
        };
        let v = format!("Bearer {}", t.expose_secret())
            .parse()
            .map_err(|_| ConnectError::Credentials("the token is not printable text".into()))?;
        Ok(Bearer(Some(v)))
    }
}

/// A client of the validator at `addr` without credentials (a local validator), connected.
pub async fn connect(addr: &str) -> Result<Client, ConnectError> {
    connect_with(addr, &Credentials::default()).await
}

/// A client of the validator at `addr`, connected (so an unreachable server is reported here,
/// not at the first call).
pub async fn connect_with(addr: &str, creds: &Credentials) -> Result<Client, ConnectError> {
    let unreachable = |e: tonic::transport::Error| ConnectError::Unreachable {
        addr: addr.to_string(),
        detail: chain(&e),
    };
    let bearer = creds.bearer()?;
    let channel = match parse(addr)? {
        Address::Unix(path) => {
            // the URI is not used for a unix socket, only the connector
            Endpoint::from_static("http://localhost")
                .connect_timeout(CONNECT_TIMEOUT)
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let path = path.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(
                            tokio::net::UnixStream::connect(path).await?,
                        ))
                    }
                }))
                .await
                .map_err(unreachable)?
        }
        Address::Http(uri) => Endpoint::from(uri)
            .connect_timeout(CONNECT_TIMEOUT)
            .connect()
            .await
            .map_err(unreachable)?,
        Address::Https(uri) => {
            let host = uri.host().unwrap_or_default().to_string();
            Endpoint::from(uri)
                .connect_timeout(CONNECT_TIMEOUT)
                .tls_config(creds.tls(&host)?)
                .map_err(unreachable)?
                .connect()
                .await
                .map_err(unreachable)?
        }
    };
    Ok(ValidatorClient::with_interceptor(channel, bearer)
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE))
}

/// An error with its causes (tonic's own text is only "transport error").
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_addresses_are_named_and_unreachable_ones_say_why() {
        for bad in [
            "unix:",
            "unix:rel.sock",
            "ftp://x:1",
            "localhost",
            "http://:7",
            "h:0",
        ] {
            let e = connect(bad).await.err().unwrap();
            assert!(matches!(e, ConnectError::BadAddress(_)), "{bad}: {e}");
            assert!(e.to_string().contains("HOST:PORT"), "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let sock = format!("unix:{}", dir.path().join("none.sock").display());
        let e = connect(&sock).await.err().unwrap();
        assert!(
            matches!(&e, ConnectError::Unreachable { detail, .. } if detail.contains("No such file")),
            "{e}"
        );
        // a port nobody listens on
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = connect(&format!("127.0.0.1:{port}")).await.err().unwrap();
        assert!(
            matches!(&e, ConnectError::Unreachable { detail, .. } if detail.contains("refused")),
            "{e}"
        );
    }
}
