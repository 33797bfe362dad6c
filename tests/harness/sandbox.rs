//! A sandboxed sshd on 127.0.0.1 (tests/sandbox/sandbox.sh): a Debian 12 or 13 root on an
//! overlay, private mount/pid/uts/ipc namespaces, read-only /proc/sys. Nothing on the host changes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::{free_port, workspace};

fn script(name: &str) -> PathBuf {
    workspace().join("tests/sandbox").join(name)
}

/// The Debian release a sandbox runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// Debian 12 (OpenSSH 9.2, no pam_umask in common-session).
    Bookworm,
    /// Debian 13 (OpenSSH 10: post-quantum `mlkem768x25519-sha256` by default).
    Trixie,
}

impl Release {
    pub fn name(self) -> &'static str {
        match self {
            Release::Bookworm => "bookworm",
            Release::Trixie => "trixie",
        }
    }

    /// `VERSION_ID` in the release's /etc/os-release.
    pub fn version_id(self) -> &'static str {
        match self {
            Release::Bookworm => "12",
            Release::Trixie => "13",
        }
    }
}

/// Builds or unpacks the pristine Debian 12 root once per test process; returns its path.
pub fn root() -> &'static Path {
    root_of(Release::Bookworm)
}

/// Builds or unpacks the pristine root of `release` once per test process; returns its path.
pub fn root_of(release: Release) -> &'static Path {
    static ROOTS: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    ROOTS[release as usize].get_or_init(|| {
        let out = Command::new("bash")
            .arg(script("mkroot.sh"))
            .arg(release.name())
            .output()
            .expect("run tests/sandbox/mkroot.sh");
        assert!(
            out.status.success(),
            "mkroot.sh failed (needs root, debootstrap or a cached tarball):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("mkroot prints the root path")
                .trim(),
        )
    })
}

/// A running sandbox; stopped and deleted on drop.
pub struct Sandbox {
    pub name: String,
    pub port: u16,
    /// Private key that logs in as `admin` (NOPASSWD sudo) and `root`.
    pub key: PathBuf,
    pub release: Release,
    _keydir: tempfile::TempDir,
}

impl Sandbox {
    /// A Debian 12 sandbox.
    pub fn start() -> Sandbox {
        Sandbox::start_on(Release::Bookworm)
    }

    /// `sandbox.sh` with this sandbox's lower layer.
    fn script_cmd(release: Release) -> Command {
        let mut c = Command::new("bash");
        c.arg(script("sandbox.sh"))
            .env("SBX_RELEASE", release.name())
            .env("SBX_ROOT", root_of(release));
        c
    }

    pub fn start_on(release: Release) -> Sandbox {
        root_of(release);
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "e2e-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let keydir = tempfile::tempdir().expect("tempdir");
        let key = keydir.path().join("id_ed25519");
        let st = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen (openssh-client) is needed");
        assert!(st.success(), "ssh-keygen failed");
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let out = Sandbox::script_cmd(release)
                .args(["start", &name, &port.to_string()])
                .arg(key.with_extension("pub"))
                .output()
                .expect("run sandbox.sh");
            if out.status.success() {
                return Sandbox {
                    name,
                    port,
                    key,
                    release,
                    _keydir: keydir,
                };
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = Sandbox::script_cmd(release).args(["reset", &name]).status();
        }
        panic!("sandbox did not start:\n{last}");
    }

    /// Runs `command` in the sandbox as `user` over SSH (the sandbox's key must be in the user's
    /// authorized_keys: root and admin have it), with `stdin` on its standard input.
    pub fn ssh(&self, user: &str, command: &str, stdin: &str) -> Output {
        use std::io::Write;
        let mut child = Command::new("ssh")
            .args([
                "-F",
                "none",
                "-T",
                "-q",
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "IdentitiesOnly=yes",
                "-i",
            ])
            .arg(&self.key)
            .args(["-p", &self.port.to_string()])
            .arg(format!("{user}@127.0.0.1"))
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssh (openssh-client) is needed");
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin.as_bytes());
        }
        child.wait_with_output().expect("ssh runs")
    }

    /// [`Sandbox::ssh`] as root that must succeed; its stdout.
    pub fn root_ok(&self, command: &str) -> String {
        let out = self.ssh("root", command, "");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{command}: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn run(&self, cmd: &str) -> String {
        let out = Sandbox::script_cmd(self.release)
            .args([cmd, &self.name])
            .output()
            .expect("run sandbox.sh");
        assert!(
            out.status.success(),
            "sandbox.sh {cmd}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Files the provisioning created or changed (`mode uid:gid ./path` lines).
    pub fn diff(&self) -> String {
        self.run("diff")
    }

    /// The sandbox's root as seen from the host (while it runs).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(self.run("path").trim())
    }

    /// A path inside the sandbox, seen from the host.
    pub fn file(&self, inside: &str) -> PathBuf {
        self.path().join(inside.trim_start_matches('/'))
    }

    /// The HCL attributes of a source's SSH communicator that connects to this sandbox as
    /// `admin` (one indented line each).
    pub fn ssh_settings_hcl(&self) -> String {
        format!(
            "  ssh_host             = \"127.0.0.1\"\n  ssh_port             = {}\n  ssh_username         = \"admin\"\n  ssh_private_key_file = \"{}\"\n  ssh_timeout          = \"30s\"\n",
            self.port,
            self.key.display()
        )
    }

    /// HCL for a `null` source that connects to this sandbox as `admin`.
    pub fn null_source_hcl(&self, name: &str) -> String {
        format!(
            "source \"null\" \"{name}\" {{\n{}}}\n",
            self.ssh_settings_hcl()
        )
    }

    /// The same as a JSON-template builder object.
    pub fn null_builder_json(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "null",
            "ssh_host": "127.0.0.1",
            "ssh_port": self.port,
            "ssh_username": "admin",
            "ssh_private_key_file": self.key.display().to_string(),
            "ssh_timeout": "30s"
        })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = Sandbox::script_cmd(self.release)
            .args(["reset", &self.name])
            .status();
    }
}

impl Sandbox {
    /// The sandbox's overlay upper directory: exactly what changed relative to the pristine root.
    pub fn upper(&self) -> PathBuf {
        let home = std::env::var_os("SBX_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("TMPDIR")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("/tmp"))
                    .join("amiforge-sbx")
            });
        home.join(&self.name).join("upper")
    }

    /// A digest of everything provisioning changed (the upper layer: paths, types, modes,
    /// owners, contents, link targets), leaving out paths under `skip` (e.g. `var/log`, where
    /// every SSH login writes).
    pub fn state_digest(&self, skip: &[&str]) -> String {
        use std::os::unix::fs::MetadataExt;
        fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut Vec<String>) {
            let Ok(rd) = std::fs::read_dir(dir) else {
                return;
            };
            let mut entries: Vec<_> = rd.flatten().collect();
            entries.sort_by_key(|e| e.file_name());
            for e in entries {
                let path = e.path();
                let rel = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .into_owned();
                if skip
                    .iter()
                    .any(|s| rel == *s || rel.starts_with(&format!("{s}/")))
                {
                    continue;
                }
                let Ok(m) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                let body = if m.file_type().is_symlink() {
                    std::fs::read_link(&path)
                        .map(|t| t.display().to_string())
                        .unwrap_or_default()
                } else if m.is_file() {
                    let data = std::fs::read(&path).unwrap_or_default();
                    amiforge_model::sha256_hex(&data)
                } else {
                    String::new()
                };
                let mtime = if m.is_dir() { 0 } else { m.mtime() };
                out.push(format!(
                    "{rel} {:o} {}:{} {mtime} {body}",
                    m.mode(),
                    m.uid(),
                    m.gid()
                ));
                if m.is_dir() {
                    walk(root, &path, skip, out);
                }
            }
        }
        let root = self.upper();
        let mut lines = Vec::new();
        walk(&root, &root, skip, &mut lines);
        amiforge_model::sha256_hex(lines.join("\n").as_bytes())
    }
}
