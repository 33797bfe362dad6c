//! Modern Packer (1.7+/1.12+) cannot be installed here, so its client side is played by a Go
//! program built from the same HashiCorp libraries Packer links (Debian's yamux and ugorji codec,
//! Go's net/rpc and encoding/gob): four-part handshake, `describe`, `--protobuf` ConfigSpec, gob
//! ConfigSpec under the installed versioned name, cty-JSON Configs, Provision with a Go-served
//! Ui/Communicator, PostProcess with a Go-served input artifact. See tests/go-peer/.

use std::process::Command;

use amiforge_e2e::{scaffold_bin, workspace};

#[test]
fn go_peer_playing_modern_packer_passes_every_check() {
    let out = Command::new("bash")
        .arg(workspace().join("tests/go-peer/run.sh"))
        .arg(scaffold_bin())
        .output()
        .expect("run tests/go-peer/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "Go peer failed ({:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    assert!(!stdout.contains("FAIL:"), "{stdout}");
    // it really ran the checks, not an empty suite
    let oks = stdout.lines().filter(|l| l.starts_with("ok:")).count();
    assert!(oks >= 20, "only {oks} checks ran:\n{stdout}");
}
