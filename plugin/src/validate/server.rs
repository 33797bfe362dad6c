//! The local validator: when no `address` is given, `amiforge-validate` starts
//! `amiforge-validator serve` on a unix socket in a private temporary directory, waits for its
//! `listening on` line, and stops it afterwards (SIGTERM: the server lets running validations
//! clean up, then exits). The server's stdin is a pipe only we hold: if the plugin is killed
//! (Packer 1.6.6 SIGKILLs plugins on Ctrl-C), the pipe closes and the server cancels its run,
//! cleans up and exits.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The binary name looked for beside the plugin and on PATH.
pub const BINARY: &str = "amiforge-validator";
/// The name the local validator knows the gate's SSH private key by (`serve --ssh-key`).
pub const GATE_KEY: &str = "gate";

/// Where the validator binary is: the configured path, beside the plugin binary, or on PATH.
pub fn locate(configured: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(p) = configured {
        if p.is_file() {
            return Ok(p.to_path_buf());
        }
        bail!("validator_path: {} does not exist", p.display());
    }
    let beside = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join(BINARY)));
    if let Some(b) = beside.filter(|b| b.is_file()) {
        return Ok(b);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let c = dir.join(BINARY);
            if c.is_file() {
                return Ok(c);
            }
        }
    }
    bail!(
        "{BINARY} not found beside the plugin or on PATH; install it, set validator_path, or set address to a running validator"
    )
}

/// A running local validator.
pub struct LocalValidator {
    child: Child,
    pub address: String,
    _dir: tempfile::TempDir,
}

impl LocalValidator {
    /// Starts `bin serve --listen unix:…` (holding `ssh_key` as [`GATE_KEY`]) and waits (up to
    /// `wait`) until it listens.
    pub async fn start(
        bin: &Path,
        max_instances: usize,
        ssh_key: Option<&Path>,
        wait: Duration,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("amiforge-validate-")
            .tempdir()
            .context("creating a directory for the validator's socket")?;
        let address = format!("unix:{}", dir.path().join("validator.sock").display());
        let mut child = Command::new(bin)
            .args([
                "serve",
                "--stop-on-stdin-close",
                "--listen",
                &address,
                "--max-instances",
            ])
            .arg(max_instances.to_string())
            .args(ssh_key.map(|k| {
                let mut a = std::ffi::OsString::from(format!("--ssh-key={GATE_KEY}="));
                a.push(k);
                a
            }))
            // held open by us: if the plugin is killed, the pipe closes and the server cleans
            // up and exits instead of living on
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("the validator's stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(wait, async {
            while let Some(l) = lines.next_line().await? {
                if l.starts_with("listening on") {
                    return Ok::<bool, std::io::Error>(true);
                }
            }
            Ok(false)
        })
        .await;
        match ready {
            Ok(Ok(true)) => {
                // keep draining its stdout so it never blocks on a full pipe
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                Ok(LocalValidator {
                    child,
                    address,
                    _dir: dir,
                })
            }
            Ok(Ok(false)) | Ok(Err(_)) => {
                let st = child.wait().await.ok();
                bail!(
                    "{} serve exited before listening ({})",
                    bin.display(),
                    st.map(|s| s.to_string()).unwrap_or_default()
                )
            }
            Err(_) => bail!(
                "{} serve did not listen within {}",
                bin.display(),
                humantime::format_duration(wait)
            ),
        }
    }

    /// SIGTERM, then waits for the server to finish its cleanups (bounded by `wait`; killed after).
    pub async fn stop(mut self, wait: Duration) -> anyhow::Result<()> {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            use nix::sys::signal::{Signal, kill};
            // the server lets its runs clean up, then exits
            let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
        }
        match tokio::time::timeout(wait, self.child.wait()).await {
            Ok(Ok(s)) if s.success() => Ok(()),
            Ok(Ok(s)) => bail!("the local validator exited with {s}"),
            Ok(Err(e)) => Err(e).context("waiting for the local validator"),
            Err(_) => {
                let _ = self.child.kill().await;
                bail!(
                    "the local validator did not stop within {}; killed (run `amiforge-validator sweep` for leftovers)",
                    humantime::format_duration(wait)
                )
            }
        }
    }
}
