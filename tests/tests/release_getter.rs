//! `cargo xtask release` files installed by Packer 1.16's own plugin getter, set up as `packer
//! init` sets it up for a `github.com/...` source (`tests/modern/getter`; only the HTTP transport
//! answers from the release directory instead of GitHub): the tag list, SHA256SUMS, the zip,
//! the binary inside, the describe version and API version all pass Packer's checks, the binary
//! lands under its installed name with its `_SHA256SUM`, real Packer lists it, and the SDK peer
//! runs it through that installed name. A tampered zip and a binary whose `describe` disagrees
//! with its release are refused, and nothing is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use amiforge_e2e::amiforge_bin;
use amiforge_e2e::modern::{AMIFORGE_SOURCE, peer_case, release_getter};
use amiforge_e2e::packer::Workdir;
use xtask::release::{self, Platform};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn host() -> Platform {
    Platform::host().unwrap()
}

/// A release directory holding `bin` packaged as `version`.
fn dist(bin: &Path, version: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    release::package(bin, version, &host(), d.path()).unwrap();
    release::write_sums(version, d.path()).unwrap();
    d
}

struct Got {
    ok: bool,
    /// What it printed: the JSON, or `FAIL: …` with the requests.
    stdout: String,
    /// stdout and Packer's log (stderr), for failure messages.
    all: String,
}

fn get(dist: &Path, plugins: &Path, constraint: &str) -> Got {
    let out = Command::new(release_getter())
        .arg(dist)
        .arg(plugins)
        .arg(AMIFORGE_SOURCE)
        .arg(constraint)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Got {
        ok: out.status.success(),
        all: format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
        stdout,
    }
}

fn installed_dir(plugins: &Path) -> PathBuf {
    plugins.join(AMIFORGE_SOURCE)
}

#[test]
fn packer_s_getter_installs_the_release_and_packer_runs_it() {
    let d = dist(&amiforge_bin(), VERSION);
    let w = Workdir::modern();
    let got = get(d.path(), &w.plugins(), &format!(">= {VERSION}"));
    assert!(got.ok, "{}", got.all);
    let j: serde_json::Value = serde_json::from_str(got.stdout.trim()).unwrap();
    let p = host();
    let name = format!("packer-plugin-amiforge_v{VERSION}_x5.0_{}_{}", p.os, p.arch);
    let bin = installed_dir(&w.plugins()).join(&name);
    assert_eq!(j["installed"], bin.display().to_string());
    assert_eq!(j["version"], format!("v{VERSION}"));
    // what it asked GitHub for: the tags, the version's SHA256SUMS, the platform's zip
    let requests: Vec<&str> = j["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let base = "https://github.com/amiforge/packer-plugin-amiforge/releases/download";
    assert_eq!(
        requests,
        [
            "GET https://api.github.com/repos/amiforge/packer-plugin-amiforge/git/matching-refs/tags"
                .to_string(),
            format!("GET {base}/v{VERSION}/packer-plugin-amiforge_v{VERSION}_SHA256SUMS"),
            format!("GET {base}/v{VERSION}/{name}.zip"),
        ]
    );
    let bytes = std::fs::read(&bin).unwrap();
    assert_eq!(bytes, std::fs::read(amiforge_bin()).unwrap());
    let sum =
        std::fs::read_to_string(installed_dir(&w.plugins()).join(format!("{name}_SHA256SUM")))
            .unwrap();
    assert_eq!(sum, amiforge_model::sha256_hex(&bytes));

    // Packer finds it where the getter put it, and a second init has nothing to do
    w.packer(&["plugins", "installed"])
        .assert_ok()
        .assert_contains(&name);
    let again = get(d.path(), &w.plugins(), &format!(">= {VERSION}"));
    assert!(
        !again.ok && again.stdout.contains("nothing installed"),
        "{}",
        again.stdout
    );

    // HashiCorp's plugin client starts the installed file by its name (4-part handshake, gob)
    peer_case("amiforge-config-gob", &bin);
}

#[test]
fn packer_s_getter_refuses_a_tampered_zip_and_a_describe_that_disagrees() {
    // the zip changed after SHA256SUMS was written
    let d = dist(&amiforge_bin(), VERSION);
    let p = host();
    let zip = d.path().join(format!(
        "packer-plugin-amiforge_v{VERSION}_x5.0_{}_{}.zip",
        p.os, p.arch
    ));
    let mut bytes = std::fs::read(&zip).unwrap();
    bytes.push(0);
    std::fs::write(&zip, bytes).unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let got = get(d.path(), plugins.path(), &format!(">= {VERSION}"));
    assert!(!got.ok, "{}", got.stdout);
    assert!(
        got.stdout.to_lowercase().contains("checksum"),
        "{}",
        got.stdout
    );
    assert!(!installed_dir(plugins.path()).exists());

    // released as 9.9.9, but the binary's describe says VERSION: Packer refuses to install it
    let d = dist(&amiforge_bin(), "9.9.9");
    let got = get(d.path(), plugins.path(), ">= 0.0.1");
    assert!(!got.ok, "{}", got.stdout);
    assert!(
        got.stdout.contains("9.9.9") && got.stdout.contains(VERSION),
        "{}",
        got.stdout
    );
    let left: Vec<_> = std::fs::read_dir(installed_dir(plugins.path()))
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
