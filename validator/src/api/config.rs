//! Everything a server is configured with ([`ServeConfig`]), checked as a whole before it
//! listens: where, how many runs and instances at once, TLS, who may call (tokens, admins, unix
//! socket group), and what requests may use on this host (allowed directories, named keys).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::admit::Admission;
use super::auth::Authenticator;
use super::listen::{Listen, Protection};
use super::tls::TlsFiles;

/// A server's configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: Listen,
    /// Test instances alive at once across every call.
    pub max_instances: usize,
    /// Runs in progress at once, in total and per caller.
    pub max_runs: usize,
    pub max_runs_per_caller: usize,
    pub tls: TlsFiles,
    /// Who may call (token digests, admins) and whether TCP callers must prove it.
    pub auth: Authenticator,
    /// `--insecure`: listen beyond loopback without TLS or authentication (warned about at every
    /// start).
    pub insecure: bool,
    /// Group allowed on the unix socket (0660) besides its owner.
    pub socket_group: Option<u32>,
    /// What requests may use on this host.
    pub admission: Admission,
}

impl ServeConfig {
    /// A configuration for `listen` with every limit at its default, no TLS, no tokens, nothing
    /// allowed on disk (what the gate's local validator and the tests use).
    pub fn local(listen: Listen, max_instances: usize) -> ServeConfig {
        ServeConfig {
            listen,
            max_instances,
            max_runs: super::limits::DEFAULT_MAX_RUNS,
            max_runs_per_caller: super::limits::DEFAULT_MAX_RUNS_PER_CALLER,
            tls: TlsFiles::default(),
            auth: Authenticator::default(),
            insecure: false,
            socket_group: None,
            admission: Admission {
                max_targets: super::limits::DEFAULT_MAX_TARGETS,
                ..Admission::default()
            },
        }
    }

    /// What protects a listener of this configuration.
    pub fn protection(&self) -> Protection {
        Protection {
            tls: self.tls.enabled(),
            authentication: self.auth.required,
            insecure: self.insecure,
        }
    }
}

/// The `--ssh-key NAME=FILE` entries as a map (a name given twice is an error).
pub fn ssh_keys(entries: &[(String, PathBuf)]) -> Result<BTreeMap<String, PathBuf>, String> {
    let mut keys = BTreeMap::new();
    for (name, file) in entries {
        if keys.insert(name.clone(), file.clone()).is_some() {
            return Err(format!("--ssh-key {name}=…: the name is given twice"));
        }
    }
    Ok(keys)
}
