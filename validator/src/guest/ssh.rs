//! The SSH transport: the system `ssh` client (no config files, batch mode, a known-hosts file
//! of our own that learns each new host key), `sh -s` as root (`sudo -n` when the login user
//! is not root) with the script on stdin. While sshd is not up yet, or does not take the key
//! yet (cloud-init installs it during boot), connecting is retried until a deadline. The key
//! file's contents are never read or logged here.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::transport::{Output, Transport, last_line};

pub use amiforge_validator_api::settings::ssh::{Address, check_user, parse_destination};

/// One guest reached over SSH.
#[derive(Debug, Clone)]
pub struct Ssh {
    pub user: String,
    pub address: Address,
    /// The private key file (0600). Its path is passed to ssh; its contents never leave it.
    pub key: PathBuf,
    /// A known-hosts file of this run; a host's first key is accepted and kept.
    pub known_hosts: PathBuf,
    pub connect_timeout: Duration,
    /// Connection failures are retried until then (sshd starting, key not installed yet).
    pub wait_until: Instant,
    /// One script may run this long.
    pub command_timeout: Duration,
}

impl Ssh {
    fn command(&self) -> tokio::process::Command {
        let mut c = tokio::process::Command::new("ssh");
        let opt = |k: &str, v: &str| format!("{k}={v}");
        c.arg("-F")
            .arg("none")
            .arg("-T")
            .arg("-i")
            .arg(&self.key)
            .arg("-p")
            .arg(self.address.port.to_string());
        for o in [
            opt("BatchMode", "yes"),
            opt("IdentitiesOnly", "yes"),
            opt("StrictHostKeyChecking", "accept-new"),
            opt(
                "UserKnownHostsFile",
                &self.known_hosts.display().to_string(),
            ),
            opt("GlobalKnownHostsFile", "/dev/null"),
            opt(
                "ConnectTimeout",
                &self.connect_timeout.as_secs().max(1).to_string(),
            ),
            opt("ServerAliveInterval", "15"),
            opt("ServerAliveCountMax", "4"),
            opt("LogLevel", "ERROR"),
        ] {
            c.arg("-o").arg(o);
        }
        c.arg("--")
            .arg(format!("{}@{}", self.user, self.address.host))
            .arg(if self.user == "root" {
                "sh -s"
            } else {
                "sudo -n sh -s"
            });
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        c
    }

    async fn once(&self, script: &str) -> Result<Output, String> {
        let mut child = self
            .command()
            .spawn()
            .map_err(|e| format!("cannot run ssh (is openssh-client installed?): {e}"))?;
        let mut stdin = child.stdin.take();
        let input = script.as_bytes().to_vec();
        let writer = tokio::spawn(async move {
            if let Some(s) = stdin.as_mut() {
                // a refused connection closes the pipe early: not an error of its own
                let _ = s.write_all(&input).await;
                let _ = s.shutdown().await;
            }
        });
        let out = tokio::time::timeout(self.command_timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                format!(
                    "{}: no answer within {}",
                    self.describe(),
                    humantime::format_duration(self.command_timeout)
                )
            })?
            .map_err(|e| format!("ssh: {e}"))?;
        let _ = writer.await;
        let exit = out.status.code().ok_or_else(|| {
            format!(
                "ssh to {} ended by a signal: {}",
                self.describe(),
                last_line(&String::from_utf8_lossy(&out.stderr))
            )
        })?;
        Ok(Output {
            exit,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

impl Transport for Ssh {
    async fn run(&self, script: &str) -> Result<Output, String> {
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let out = self.once(script).await?;
            // 255 with nothing on stdout: ssh itself failed (refused, timed out, key refused)
            if out.exit != 255 || !out.stdout.is_empty() {
                return Ok(out);
            }
            let now = Instant::now();
            if now >= self.wait_until {
                return Err(format!(
                    "ssh {}: {} (after {attempts} attempt(s))",
                    self.describe(),
                    last_line(&out.stderr)
                ));
            }
            tracing::debug!(guest = %self.describe(), attempt = attempts, error = %last_line(&out.stderr), "ssh not reachable yet; retrying");
            tokio::time::sleep(Duration::from_secs(2).min(self.wait_until - now)).await;
        }
    }

    fn output_limit(&self) -> Option<usize> {
        None
    }

    fn describe(&self) -> String {
        format!("{}@{}", self.user, self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_keeps_the_key_a_path_and_elevates_only_when_needed() {
        let s = Ssh {
            user: "admin".into(),
            address: Address::parse("127.0.0.1:2222").unwrap(),
            key: "/run/k".into(),
            known_hosts: "/run/kh".into(),
            connect_timeout: Duration::from_secs(5),
            wait_until: Instant::now(),
            command_timeout: Duration::from_secs(60),
        };
        let c = s.command();
        let args: Vec<String> = c
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(joined.contains("-i /run/k -p 2222"), "{joined}");
        assert!(joined.contains("BatchMode=yes"));
        assert!(joined.contains("StrictHostKeyChecking=accept-new"));
        assert!(joined.contains("UserKnownHostsFile=/run/kh"));
        assert!(
            joined.ends_with("-- admin@127.0.0.1 sudo -n sh -s"),
            "{joined}"
        );
        let root = Ssh {
            user: "root".into(),
            ..s
        };
        let args: Vec<String> = root
            .command()
            .as_std()
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args.last().map(String::as_str), Some("sh -s"));
    }
}
