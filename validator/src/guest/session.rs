//! A run's private SSH material: one temp directory (0700, removed when the run ends) holding the
//! private keys of key pairs made for the run (0600 files, never logged) and one known-hosts file
//! per instance; and the per-region key pair an SSH run launches with (made for the run, its
//! intent and then its name and id recorded in the ledger; or the one the request names).

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use amiforge_aws::client::Clients;
use amiforge_aws::instances;
use secrecy::{ExposeSecret, SecretString};

use crate::intents::Intent;
use crate::ledger::Ledger;
use amiforge_validator_api::request::Request;

pub struct Session {
    dir: tempfile::TempDir,
}

/// The key pair test instances of one region launch with, and its private key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionKey {
    pub name: String,
    pub file: PathBuf,
}

impl Session {
    pub fn new() -> Result<Session, String> {
        let dir = tempfile::Builder::new()
            .prefix("amiforge-validator-")
            .tempdir()
            .map_err(|e| format!("cannot make a private temp directory: {e}"))?;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot make {} private: {e}", dir.path().display()))?;
        Ok(Session { dir })
    }

    /// Writes `key` to a new 0600 file (named for the region) and returns its path.
    pub fn store_key(&self, region: &str, key: &SecretString) -> Result<PathBuf, String> {
        let path = self.dir.path().join(format!("key-{region}"));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot write the private key for {region}: {e}"))?;
        let mut pem = key.expose_secret().to_string();
        if !pem.ends_with('\n') {
            pem.push('\n');
        }
        f.write_all(pem.as_bytes())
            .map_err(|e| format!("cannot write the private key for {region}: {e}"))?;
        Ok(path)
    }

    /// The known-hosts file for one instance (its first host key is accepted, then kept).
    pub fn known_hosts(&self, instance: &str) -> PathBuf {
        self.dir.path().join(format!("known_hosts-{instance}"))
    }
}

/// The key pair an SSH run uses in `region`: the request's (`ssh_keypair_name` +
/// `ssh_private_key_file`), else one made for the run, recorded in the ledger before its key
/// is written anywhere.
pub async fn region_key(
    clients: &Clients,
    req: &Request,
    region: &str,
    tags: &BTreeMap<String, String>,
    ledger: &Ledger,
    session: &Session,
) -> Result<RegionKey, String> {
    if let (Some(name), Some(file)) = (&req.guest.ssh_keypair_name, &req.guest.ssh_private_key_file)
    {
        return Ok(RegionKey {
            name: name.clone(),
            file: file.clone(),
        });
    }
    let name = format!("amiforge-validator-{}", req.run_id);
    let intent = Intent::KeyPair { name: name.clone() };
    let intent = ledger.intend(region, &req.run_id, intent);
    let key = match instances::create_key_pair(clients, region, &name, tags).await {
        Ok(k) => {
            ledger.key_pair(region, &name, &k.id);
            ledger.close(intent);
            k
        }
        Err(e) => {
            if !e.may_have_happened() {
                ledger.close(intent);
            }
            return Err(e.to_string());
        }
    };
    let file = session.store_key(region, &key.material)?;
    Ok(RegionKey { name, file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_private_files_that_vanish_with_the_session() {
        let s = Session::new().unwrap();
        let k = SecretString::from("-----BEGIN OPENSSH PRIVATE KEY-----\nabc".to_string());
        let p = s.store_key("eu-west-1", &k).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(std::fs::read_to_string(&p).unwrap().ends_with("abc\n"));
        assert!(s.store_key("eu-west-1", &k).is_err(), "never overwritten");
        let dir = p.parent().unwrap().to_path_buf();
        let dmode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(dmode, 0o700);
        drop(s);
        assert!(!dir.exists());
    }
}
