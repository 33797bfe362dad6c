//! Modern Packer for the end-to-end tests: Packer 1.16.0 and the amazon plugin 1.8.2 built from
//! their Go modules (`tests/modern/go.mod`, `tests/modern/build.sh packer`, cached per go.sum
//! under `$AMIFORGE_CACHE/packer-modern-<digest>/`), the plugins installed into a work
//! directory the way users install them, and the SDK peer (`tests/modern/peer`: Packer's own
//! plugin client and the packer-plugin-sdk rpc client against a plugin binary) and the release
//! getter (`tests/modern/getter`: Packer's plugin getter over `cargo xtask release` files).
//!
//! A missing binary fails the test with the command that builds it; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::packer::{PackerOutput, Workdir};
use crate::{amiforge_bin, target_dir, workspace};

/// The Packer version the modern tests run (what `tests/modern/go.mod` pins).
pub const PACKER_VERSION: &str = "1.16.0";
/// The amazon plugin version (`github.com/hashicorp/packer-plugin-amazon`) installed beside it.
pub const AMAZON_VERSION: &str = "1.8.2";
/// amiforge's plugin source address.
pub const AMIFORGE_SOURCE: &str = "github.com/amiforge/amiforge";
/// The amazon plugin's source address.
pub const AMAZON_SOURCE: &str = "github.com/hashicorp/amazon";

fn build_script() -> PathBuf {
    workspace().join("tests/modern/build.sh")
}

/// The cache directory this checkout's go.sum builds into (`build.sh dir`).
pub fn dir() -> PathBuf {
    let out = Command::new("bash")
        .arg(build_script())
        .arg("dir")
        .output()
        .expect("run tests/modern/build.sh dir");
    assert!(
        out.status.success(),
        "tests/modern/build.sh dir: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn cached(name: &str) -> PathBuf {
    let p = dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing: build modern Packer with `bash tests/modern/build.sh packer` \
         (tests/setup.sh does; minutes on a cold cache)",
        p.display()
    );
    p
}

/// The modern `packer` binary.
pub fn packer() -> PathBuf {
    cached("packer")
}

/// The amazon plugin binary (`amazon-ebs` for the templates).
pub fn amazon() -> PathBuf {
    cached("packer-plugin-amazon")
}

/// An emulator for builds with the amazon plugin 1.8.2: eventual consistency stays on for
/// everything amiforge (aws-sdk-rust) creates, but what the Go builder (`aws-sdk-go` in its
/// User-Agent) creates is visible at once. The plugin waits for its new and copied AMIs with the
/// AWS SDK's `ImageAvailable` waiter, which does not retry `InvalidAMIID.NotFound`
/// (`builder/ebs/step_create_ami.go`), so hiding them fails the build in the builder, before any
/// amiforge component runs.
pub fn emulator_for_amazon_builds(copy_seconds: f64) -> crate::emulator::Emulator {
    let emu = crate::emulator::Emulator::start(copy_seconds);
    emu.configure(&serde_json::json!({ "consistency_exempt_agents": ["aws-sdk-go"] }));
    emu
}

/// `packer plugins install --path BIN SOURCE` in `w`.
pub fn install_from(w: &Workdir, bin: &Path, source: &str) -> PackerOutput {
    let bin = bin.display().to_string();
    w.packer(&["plugins", "install", "--path", &bin, source])
}

/// Installs the amiforge plugin and the amazon plugin into `w`'s plugin directory, as a user
/// does; panics with Packer's output if either install fails.
pub fn install(w: &Workdir) {
    install_from(w, &amiforge_bin(), AMIFORGE_SOURCE).assert_ok();
    install_from(w, &amazon(), AMAZON_SOURCE).assert_ok();
}

/// The SDK peer binary, built from `tests/modern/peer` when missing or older than its sources
/// (`tests/run-tests.sh` builds it before the tests; a build is seconds with a warm cache).
pub fn peer() -> PathBuf {
    go_tool("peer", "sdk-peer")
}

/// The release getter (`tests/modern/getter`: Packer 1.16's plugin getter, as `packer init`
/// runs it, over a directory of release files), built like [`peer`].
pub fn release_getter() -> PathBuf {
    go_tool("getter", "release-getter")
}

/// `target/debug/modern/NAME` built from `tests/modern/PACKAGE` when missing or older than
/// its sources.
fn go_tool(package: &str, name: &str) -> PathBuf {
    let out = target_dir().join("modern").join(name);
    let src = workspace().join("tests/modern");
    let newest = ["go.mod", "go.sum"]
        .iter()
        .map(|f| src.join(f))
        .chain(
            std::fs::read_dir(src.join(package))
                .unwrap_or_else(|e| panic!("tests/modern/{package}: {e}"))
                .flatten()
                .map(|e| e.path()),
        )
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max();
    let built = std::fs::metadata(&out).and_then(|m| m.modified()).ok();
    if built.is_none() || built < newest {
        let st = Command::new("bash")
            .arg(build_script())
            .arg(package)
            .arg(&out)
            .status()
            .unwrap_or_else(|e| panic!("run tests/modern/build.sh {package}: {e}"));
        assert!(
            st.success(),
            "building {name} failed: run `bash tests/modern/build.sh {package} {}`",
            out.display()
        );
    }
    out
}

/// What one peer case printed.
#[derive(Debug)]
pub struct PeerResult {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs peer case `case` against `plugin`; panics with the peer's output unless it passed.
#[track_caller]
pub fn peer_case(case: &str, plugin: &Path) -> PeerResult {
    peer_case_env(case, plugin, &[])
}

/// [`peer_case`] with `env` added to the peer's environment (the plugins it starts inherit it).
#[track_caller]
pub fn peer_case_env(case: &str, plugin: &Path, env: &[(String, String)]) -> PeerResult {
    let out = Command::new(peer())
        .arg(case)
        .arg(plugin)
        .env_remove("PACKER_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run the SDK peer");
    let r = PeerResult {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        r.ok && r.stdout.starts_with(&format!("ok: {case} (")),
        "SDK peer case {case} failed ({:?}):\n{}\n{}",
        out.status.code(),
        r.stdout,
        r.stderr
    );
    r
}
