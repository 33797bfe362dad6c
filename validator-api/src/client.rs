//! Connecting to a validator server (the gate post-processor, CI tools, tests): one address form
//! for everyone, `http://HOST:PORT`, `HOST:PORT` or `unix:/path/to.sock`.

use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::pb::validator_client::ValidatorClient;

/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "{0:?} is not a validator address: use HOST:PORT, http://HOST:PORT or unix:/absolute/path.sock"
    )]
    BadAddress(String),
    #[error("cannot connect to the validator at {addr}: {detail}")]
    Unreachable { addr: String, detail: String },
}

/// Where a validator listens, parsed from one of the address forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `unix:/absolute/path`
    Unix(std::path::PathBuf),
    /// `HOST:PORT` or `http://HOST:PORT`
    Http(Uri),
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
    let url = if addr.starts_with("http://") {
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
    Ok(Address::Http(uri))
}

/// A client of the validator at `addr`, connected (so an unreachable server is reported here,
/// not at the first call).
pub async fn connect(addr: &str) -> Result<ValidatorClient<Channel>, ConnectError> {
    let unreachable = |e: tonic::transport::Error| ConnectError::Unreachable {
        addr: addr.to_string(),
        detail: chain(&e),
    };
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
    };
    Ok(ValidatorClient::new(channel))
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
            "https://x:1",
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
