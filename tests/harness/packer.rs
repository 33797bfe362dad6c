//! Running the real `packer` binary in a scratch directory that holds the template and the
//! plugins under test (Packer 1.6.6 discovers `packer-plugin-*`, `packer-provisioner-*` and
//! `packer-post-processor-*` files in the working directory). [`Workdir::new`] runs Debian's
//! Packer 1.6.6 from `PATH`; [`Workdir::modern`] runs Packer 1.16 (see [`crate::modern`]) with
//! its plugin, config and home directories inside the work directory.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Default limit for one packer invocation.
pub const PACKER_TIMEOUT: Duration = Duration::from_secs(300);

/// What a finished packer run printed.
#[derive(Debug)]
pub struct PackerOutput {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl PackerOutput {
    pub fn combined(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Panics with the whole output unless packer exited 0.
    #[track_caller]
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.success(),
            "packer failed ({:?}):\n{}",
            self.code,
            self.combined()
        );
        self
    }

    /// Panics with the whole output unless packer failed.
    #[track_caller]
    pub fn assert_failed(&self) -> &Self {
        assert!(
            !self.success(),
            "packer should have failed but exited 0:\n{}",
            self.combined()
        );
        self
    }

    #[track_caller]
    pub fn assert_contains(&self, needle: &str) -> &Self {
        assert!(
            self.combined().contains(needle),
            "packer output lacks {needle:?}:\n{}",
            self.combined()
        );
        self
    }
}

/// A scratch directory for one packer run.
pub struct Workdir {
    dir: tempfile::TempDir,
    /// The packer binary (`packer` from `PATH` for 1.6.6).
    packer: PathBuf,
    /// Environment set for every packer run (after the host's is cleaned).
    env: Vec<(String, String)>,
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    pub fn new() -> Workdir {
        let dir = tempfile::Builder::new()
            .prefix("amiforge-e2e")
            .tempdir()
            .expect("tempdir");
        std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
        Workdir {
            dir,
            packer: PathBuf::from("packer"),
            env: Vec::new(),
        }
    }

    /// A work directory whose runs use modern Packer ([`crate::modern::packer`]), with nothing
    /// of the host: `PACKER_PLUGIN_PATH` is `plugins/` (empty until
    /// [`crate::modern::install`]), `PACKER_CONFIG_DIR` `config/`, `HOME` `home/`, the
    /// download cache `cache/`, all inside the work directory.
    pub fn modern() -> Workdir {
        let mut w = Workdir::new();
        w.packer = crate::modern::packer();
        for d in ["plugins", "home", "cache"] {
            std::fs::create_dir_all(w.path().join(d)).expect("work dir");
        }
        let at = |d: &str| w.path().join(d).display().to_string();
        w.env = vec![
            ("PACKER_PLUGIN_PATH".into(), at("plugins")),
            ("HOME".into(), at("home")),
            ("XDG_CONFIG_HOME".into(), at("home/.config")),
            ("PACKER_CACHE_DIR".into(), at("cache")),
        ];
        w
    }

    /// The plugin directory of a [`Workdir::modern`].
    pub fn plugins(&self) -> PathBuf {
        self.path().join("plugins")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Installs `bin` as `name` in the working directory (a symlink, as a user would).
    pub fn link(&self, bin: &Path, name: &str) -> PathBuf {
        let dst = self.path().join(name);
        std::os::unix::fs::symlink(bin, &dst).expect("symlink plugin");
        dst
    }

    /// Writes a file in the working directory.
    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path().join(name);
        std::fs::write(&p, content).expect("write file");
        p
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.packer);
        c.args(args)
            .current_dir(self.path())
            .env("CHECKPOINT_DISABLE", "1")
            // keep ~/.packer.d and ~/.packerconfig of the host out of the test
            .env("PACKER_CONFIG_DIR", self.path().join("config"))
            .env(
                "PACKER_CONFIG",
                self.path().join("config/packerconfig.json"),
            )
            .env_remove("PACKER_PLUGIN_PATH")
            .env_remove("PACKER_LOG")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        c
    }

    /// Runs packer to completion (killing it after [`PACKER_TIMEOUT`]).
    pub fn packer(&self, args: &[&str]) -> PackerOutput {
        self.spawn(args).finish(PACKER_TIMEOUT)
    }

    /// Like [`Workdir::packer`] with extra environment (e.g. the AWS emulator's).
    pub fn packer_with_env(&self, args: &[&str], env: &[(String, String)]) -> PackerOutput {
        self.spawn_with_env(args, env).finish(PACKER_TIMEOUT)
    }

    /// Starts packer; its stdout lines can be watched while it runs.
    pub fn spawn(&self, args: &[&str]) -> RunningPacker {
        self.spawn_with_env(args, &[])
    }

    /// [`Workdir::spawn`] with extra environment.
    pub fn spawn_with_env(&self, args: &[&str], env: &[(String, String)]) -> RunningPacker {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .spawn()
            .expect("packer is installed (apt-get install packer)");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                all.push_str(&line);
                all.push('\n');
                let _ = tx.send(line);
            }
            all
        });
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        RunningPacker {
            child,
            lines: rx,
            reader: Some(reader),
            err_reader: Some(err_reader),
        }
    }
}

/// A packer process in flight.
pub struct RunningPacker {
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<String>>,
    err_reader: Option<std::thread::JoinHandle<String>>,
}

impl RunningPacker {
    /// Waits until a stdout line contains `needle`; false on timeout or end of output.
    pub fn wait_for_line(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(needle) => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
    }

    /// Sends SIGINT to packer's process group, as Ctrl-C in a terminal does.
    pub fn interrupt(&self) {
        signal_group(self.child.id(), nix::sys::signal::Signal::SIGINT);
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for packer to exit (killing its group after `timeout`).
    pub fn finish(mut self, timeout: Duration) -> PackerOutput {
        let deadline = Instant::now() + timeout;
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(st)) => break st.code(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    signal_group(self.child.id(), nix::sys::signal::Signal::SIGKILL);
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        let stdout = self
            .reader
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        let stderr = self
            .err_reader
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        PackerOutput {
            code,
            stdout,
            stderr,
        }
    }
}

impl Drop for RunningPacker {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal_group(self.child.id(), nix::sys::signal::Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

/// Sends `sig` to the process group `pid` leads (Packer and the plugins it started).
fn signal_group(pid: u32, sig: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), sig);
    }
}

/// Processes whose command line mentions `needle` (e.g. a work directory), for leak checks.
pub fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) && pid != std::process::id().to_string() {
                found.push(format!("{pid}: {cmd}"));
            }
        }
    }
    found
}
