//! The server's TLS: its certificate and key (`--tls-cert`, `--tls-key`, PEM) and, for mutual
//! TLS, the CA client certificates must chain to (`--tls-client-ca`); rustls (ring) through
//! tonic. A client certificate names its caller (see [`super::auth`]).

use std::path::PathBuf;

use tonic::transport::{Certificate, Identity, ServerTlsConfig};

/// Where the server's TLS material is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    pub fn enabled(&self) -> bool {
        self.cert.is_some() || self.key.is_some()
    }

    pub fn mutual(&self) -> bool {
        self.client_ca.is_some()
    }

    /// tonic's TLS configuration, or why not (naming the flag; never quoting a file).
    pub fn config(&self) -> Result<Option<ServerTlsConfig>, String> {
        let read = |flag: &str, p: &PathBuf| {
            std::fs::read(p).map_err(|e| format!("{flag} {}: {e}", p.display()))
        };
        let (cert, key) = match (&self.cert, &self.key) {
            (None, None) if self.client_ca.is_some() => {
                return Err("--tls-client-ca needs --tls-cert and --tls-key".into());
            }
            (None, None) => return Ok(None),
            (Some(c), Some(k)) => (read("--tls-cert", c)?, read("--tls-key", k)?),
            (Some(_), None) => return Err("--tls-cert needs --tls-key".into()),
            (None, Some(_)) => return Err("--tls-key needs --tls-cert".into()),
        };
        for (flag, pem, what) in [
            ("--tls-cert", &cert, "CERTIFICATE"),
            ("--tls-key", &key, "PRIVATE KEY"),
        ] {
            if !String::from_utf8_lossy(pem).contains(what) {
                return Err(format!(
                    "{flag}: not a PEM file holding a {}",
                    what.to_lowercase()
                ));
            }
        }
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(cert, key));
        if let Some(ca) = &self.client_ca {
            let pem = read("--tls-client-ca", ca)?;
            if !String::from_utf8_lossy(&pem).contains("CERTIFICATE") {
                return Err("--tls-client-ca: not a PEM file holding a certificate".into());
            }
            tls = tls.client_ca_root(Certificate::from_pem(pem));
        }
        Ok(Some(tls))
    }
}
