//! Where a server listens and whether it may: `HOST:PORT` (TCP) or `unix:/path` ([`Listen`]); a
//! unix socket file created for the owner only (0600, or 0660 for a configured group), stale
//! ones replaced and live ones refused ([`SocketFile`]); and the rule that a server reachable
//! from other hosts has TLS and authentication ([`exposure`]).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Where a server listens: `HOST:PORT` (TCP; port 0 picks a free one) or `unix:/path/to.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(String),
    Unix(PathBuf),
}

impl Listen {
    pub fn parse(s: &str) -> Result<Listen, String> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(format!(
                    "{s:?}: give the socket's path, e.g. unix:/run/amiforge-validator.sock"
                ));
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        match s.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Listen::Tcp(s.to_string()))
            }
            _ => Err(format!(
                "{s:?}: use HOST:PORT (e.g. 127.0.0.1:7070) or unix:/path/to.sock"
            )),
        }
    }
}

/// How far a listener reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// A unix socket: this host's users the socket's mode lets in.
    Unix,
    /// A loopback address: this host only.
    Loopback,
    /// Any other address: other hosts.
    Network,
}

/// How far the bound address `addr` reaches.
pub fn reach(addr: &SocketAddr) -> Reach {
    if addr.ip().is_loopback() {
        Reach::Loopback
    } else {
        Reach::Network
    }
}

/// Whether `host` (as given in `--listen HOST:PORT`) is a loopback address or `localhost`.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// What a server reachable over the network must have, and whether an operator chose to run
/// without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    pub tls: bool,
    pub authentication: bool,
    /// `--insecure`: listen beyond loopback without TLS or authentication, warned about at
    /// every start.
    pub insecure: bool,
}

/// Refuses a listener that other hosts reach without TLS and authentication (unless the
/// operator said `--insecure`), naming the flags that fix it; `Ok(Some(warning))` for an
/// insecure one the operator allowed.
pub fn exposure(reach: Reach, p: Protection) -> Result<Option<String>, String> {
    if reach != Reach::Network || (p.tls && p.authentication) {
        return Ok(None);
    }
    let mut missing = Vec::new();
    if !p.tls {
        missing.push("TLS (--tls-cert and --tls-key)");
    }
    if !p.authentication {
        missing.push("authentication (--tls-client-ca for client certificates, or --token-file)");
    }
    let what = missing.join(" and ");
    if p.insecure {
        return Ok(Some(format!(
            "WARNING: listening beyond loopback without {what} (--insecure): anyone who reaches \
             this port can launch instances with this server's AWS credentials"
        )));
    }
    Err(format!(
        "--listen: an address other hosts can reach needs {what}; or listen on 127.0.0.1 or a \
         unix socket; --insecure runs without them at your own risk"
    ))
}

/// The socket file of a unix listener: a stale one is removed first (one a live server answers
/// on is refused), it is created for its owner only (0600; 0660 with a group), and removed again
/// when this is dropped.
pub struct SocketFile(PathBuf);

impl SocketFile {
    /// Binds `path`; with `group`, members of that group may connect too.
    pub fn bind(
        path: &Path,
        group: Option<u32>,
    ) -> Result<(SocketFile, tokio::net::UnixListener), String> {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(format!(
                    "--listen unix:{}: the path exists and is not a socket",
                    path.display()
                ));
            }
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "--listen unix:{}: a server is already listening there",
                    path.display()
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| format!("--listen unix:{}: stale socket: {e}", path.display()))?;
        }
        // no window in which others may connect: bind with a umask that leaves only the owner
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
        let bound = tokio::net::UnixListener::bind(path);
        nix::sys::stat::umask(old);
        let l = bound.map_err(|e| format!("--listen unix:{}: {e}", path.display()))?;
        let file = SocketFile(path.to_path_buf());
        if let Some(gid) = group {
            nix::unistd::chown(path, None, Some(nix::unistd::Gid::from_raw(gid)))
                .map_err(|e| format!("--socket-group: {}: {e}", path.display()))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
                .map_err(|e| format!("--socket-group: {}: {e}", path.display()))?;
        }
        Ok((file, l))
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_parse_or_say_how() {
        assert_eq!(
            Listen::parse("127.0.0.1:7070"),
            Ok(Listen::Tcp("127.0.0.1:7070".into()))
        );
        assert_eq!(
            Listen::parse("unix:/tmp/v.sock"),
            Ok(Listen::Unix("/tmp/v.sock".into()))
        );
        for bad in ["unix:", "7070", "127.0.0.1", ":7070", "127.0.0.1:http"] {
            let e = Listen::parse(bad).unwrap_err();
            assert!(
                e.contains("HOST:PORT") || e.contains("unix:/"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn a_stale_socket_is_replaced_and_a_live_or_foreign_file_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.sock");
        drop(std::os::unix::net::UnixListener::bind(&p).unwrap()); // stale: nobody listens
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (file, _l) = SocketFile::bind(&p, None).unwrap();
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "only the owner may connect");
            let e = SocketFile::bind(&p, None).err().unwrap();
            assert!(e.contains("already listening"), "{e}");
            drop(file);
            assert!(!p.exists(), "the socket file is removed");
            let gid = nix::unistd::getgid().as_raw();
            let (_file, _l) = SocketFile::bind(&p, Some(gid)).unwrap();
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o660, "the group may connect too");
        });
        let f = dir.path().join("file");
        std::fs::write(&f, "x").unwrap();
        let e = SocketFile::bind(&f, None).err().unwrap();
        assert!(e.contains("not a socket"), "{e}");
        assert!(f.exists());
    }

    #[test]
    fn only_a_network_listener_needs_protection() {
        let none = Protection {
            tls: false,
            authentication: false,
            insecure: false,
        };
        assert_eq!(exposure(Reach::Loopback, none), Ok(None));
        assert_eq!(exposure(Reach::Unix, none), Ok(None));
        let e = exposure(Reach::Network, none).unwrap_err();
        assert!(
            e.contains("--tls-cert") && e.contains("--token-file"),
            "{e}"
        );
        let tls_only = Protection { tls: true, ..none };
        let e = exposure(Reach::Network, tls_only).unwrap_err();
        assert!(
            !e.contains("--tls-cert") && e.contains("authentication"),
            "{e}"
        );
        let ok = Protection {
            tls: true,
            authentication: true,
            insecure: false,
        };
        assert_eq!(exposure(Reach::Network, ok), Ok(None));
        let w = exposure(
            Reach::Network,
            Protection {
                insecure: true,
                ..none
            },
        )
        .unwrap();
        assert!(w.unwrap().starts_with("WARNING"));
        assert!(is_loopback_host("127.0.0.1") && is_loopback_host("[::1]"));
        assert!(is_loopback_host("localhost") && !is_loopback_host("0.0.0.0"));
    }
}
