//! Test harness for amiforge's end-to-end tests: real Packer, real plugin binaries, and a
//! sandboxed sshd target (see `tests/sandbox/`). Everything binds to 127.0.0.1 and is torn down
//! when the handles drop.
//!
//! Needs (installed by `.ci/run` / `tests/setup.sh`): Debian's `packer` 1.6.6, Packer 1.16 built
//! from its Go module ([`modern`]), `ssh-keygen`, root with unshare/overlayfs for the sandbox,
//! and `cargo build --workspace --examples` output.

pub mod emulator;
pub mod harden;
pub mod modern;
pub mod packer;
pub mod sandbox;
pub mod templates;

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Cargo's output directory for this profile (`target/debug`), found from the test binary.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/debug/deps/<test> -> target/debug
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf()
}

fn built(path: PathBuf) -> PathBuf {
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --examples` first (tests/run-tests.sh does)",
        path.display()
    );
    path
}

/// The SDK's example plugin, `packer-plugin-scaffold`.
pub fn scaffold_bin() -> PathBuf {
    built(target_dir().join("examples/packer-plugin-scaffold"))
}

/// The product plugin, `packer-plugin-amiforge`.
pub fn amiforge_bin() -> PathBuf {
    built(target_dir().join("packer-plugin-amiforge"))
}

/// The companion validator, `amiforge-validator` (started by the `amiforge-validate` gate).
pub fn validator_bin() -> PathBuf {
    built(target_dir().join("amiforge-validator"))
}

/// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// Writes `len` bytes of deterministic pseudo-random data (xorshift) to `path`.
pub fn write_random_file(path: &Path, len: usize, seed: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut x = seed | 1;
    let mut left = len;
    let mut buf = [0u8; 8192];
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(buf.len());
        f.write_all(&buf[..n]).expect("write");
        left -= n;
    }
    f.flush().expect("flush");
}

/// Whether two files have the same bytes.
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    let (Ok(x), Ok(y)) = (std::fs::read(a), std::fs::read(b)) else {
        return false;
    };
    x == y
}
