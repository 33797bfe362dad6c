//! Who is calling ([`Caller`]), decided before any handler runs ([`Authenticator`], a tonic
//! interceptor): the client certificate of a mutual-TLS connection (its subject's common name,
//! or first DNS name), a bearer token (`authorization: Bearer …`, looked up by its sha256 in the
//! operator's token file: tokens are never stored), or the uid of a unix socket's peer. A local
//! caller on loopback without credentials is `local` when the server requires none. Admins (by
//! name) may act on other callers' runs.

use std::collections::BTreeSet;
use std::path::Path;

use amiforge_model::digest::sha256_hex;
use subtle::ConstantTimeEq;
use tonic::Status;
use tonic::transport::server::{TcpConnectInfo, UdsConnectInfo};

/// The identity a call is made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `cert:NAME`, `token:NAME`, `uid:N` or `local`.
    pub name: String,
    /// The peer's address (`127.0.0.1:50123`, `unix uid 1000`), for the audit log.
    pub peer: String,
    pub admin: bool,
}

/// One entry of a token file: a name and the sha256 of its token.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TokenEntry {
    name: String,
    sha256: [u8; 32],
}

/// Reads a token file: one `NAME sha256:HEX` per line (`#` comments, blank lines ignored), as
/// `amiforge-validator token NAME` prints them. Errors give the line number, never its text.
pub fn read_token_file(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--token-file {}: {e}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || {
            format!(
                "--token-file {} line {}: write NAME sha256:HEX (as `amiforge-validator token NAME` prints)",
                path.display(),
                i + 1
            )
        };
        let (name, hash) = line.split_once(char::is_whitespace).ok_or_else(bad)?;
        let hex = hash.trim().strip_prefix("sha256:").ok_or_else(bad)?;
        if !amiforge_model::digest::is_sha256(hex) || !valid_name(name) {
            return Err(bad());
        }
        out.push((name.to_string(), hex.to_ascii_lowercase()));
    }
    Ok(out)
}

fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

/// A new random token and the token-file line for it (the token is shown once, only its sha256
/// is kept).
pub fn new_token(name: &str) -> Result<(String, String), String> {
    if !valid_name(name) {
        return Err(format!(
            "{name:?}: a token name is 1-64 letters, digits, '.', '_', '-' or '@'"
        ));
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    let token = format!("afv_{}", hex::encode(bytes));
    let line = format!("{name} sha256:{}", sha256_hex(token.as_bytes()));
    Ok((token, line))
}

/// How a server decides who is calling.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    tokens: Vec<TokenEntry>,
    admins: BTreeSet<String>,
    /// Callers must prove who they are (a client certificate or a token) on TCP.
    pub required: bool,
}

impl Authenticator {
    /// From the token file's entries, the admins' names (`token:ci`, `cert:ops`, `uid:0`, or a
    /// bare name matching any of those) and whether TCP callers must authenticate.
    pub fn new(tokens: Vec<(String, String)>, admins: Vec<String>, required: bool) -> Self {
        let tokens = tokens
            .into_iter()
            .filter_map(|(name, hex)| {
                let mut sha256 = [0u8; 32];
                hex::decode_to_slice(&hex, &mut sha256).ok()?;
                Some(TokenEntry { name, sha256 })
            })
            .collect();
        Authenticator {
            tokens,
            admins: admins.into_iter().collect(),
            required,
        }
    }

    fn is_admin(&self, name: &str) -> bool {
        let bare = name.split_once(':').map_or(name, |(_, n)| n);
        self.admins.contains(name) || self.admins.contains(bare)
    }

    /// The token's owner, compared in constant time against every entry.
    fn token_owner(&self, token: &str) -> Option<&str> {
        let digest = sha2_digest(token.as_bytes());
        let mut found = None;
        for e in &self.tokens {
            if bool::from(e.sha256.ct_eq(&digest)) {
                found = Some(e.name.as_str());
            }
        }
        found
    }

    /// The caller of `req`, or why the call is refused.
    pub fn caller<T>(&self, req: &tonic::Request<T>) -> Result<Caller, Status> {
        let token = bearer(req)?;
        let peer_certs = req.peer_certs();
        let tcp = req
            .extensions()
            .get::<TcpConnectInfo>()
            .cloned()
            .or_else(|| {
                req.extensions()
                    .get::<tonic::transport::server::TlsConnectInfo<TcpConnectInfo>>()
                    .map(|t| t.get_ref().clone())
            });
        let uds = req.extensions().get::<UdsConnectInfo>();
        let peer = match (&tcp, uds) {
            (Some(t), _) => t
                .remote_addr()
                .map_or_else(|| "tcp".to_string(), |a| a.to_string()),
            (None, Some(u)) => match u.peer_cred {
                Some(c) => format!("unix uid {}", c.uid()),
                None => "unix".to_string(),
            },
            (None, None) => "unknown".to_string(),
        };
        let name = if let Some(t) = token {
            let owner = self.token_owner(&t).ok_or_else(|| {
                Status::unauthenticated("the token is not known to this validator")
            })?;
            format!("token:{owner}")
        } else if let Some(cert) = peer_certs.as_ref().and_then(|c| c.first().cloned()) {
            format!(
                "cert:{}",
                cert_name(&cert).unwrap_or_else(|| "unnamed".into())
            )
        } else if let Some(c) = uds.and_then(|u| u.peer_cred) {
            format!("uid:{}", c.uid())
        } else if !self.required {
            "local".to_string()
        } else {
            return Err(Status::unauthenticated(
                "this validator needs a client certificate or a bearer token",
            ));
        };
        Ok(Caller {
            admin: self.is_admin(&name),
            name,
            peer,
        })
    }
}

fn sha2_digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// The bearer token of `req`, if it sends one (a malformed header is refused).
fn bearer<T>(req: &tonic::Request<T>) -> Result<Option<String>, Status> {
    let Some(v) = req.metadata().get("authorization") else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| Status::unauthenticated("the authorization header is not text"))?;
    match v.strip_prefix("Bearer ") {
        Some(t) if !t.trim().is_empty() => Ok(Some(t.trim().to_string())),
        _ => Err(Status::unauthenticated(
            "write the authorization header as `Bearer TOKEN`",
        )),
    }
}

/// The subject's common name of a certificate, else its first DNS name.
pub fn cert_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    if let Some(cn) = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
    {
        return Some(cn.to_string());
    }
    cert.subject_alternative_name()
        .ok()
        .flatten()
        .and_then(|san| {
            san.value.general_names.iter().find_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some(d.to_string()),
                _ => None,
            })
        })
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
