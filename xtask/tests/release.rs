//! `cargo xtask release`'s files read the way Packer's plugin getter reads them: the zip's name
//! splits after `packer-plugin-amiforge_` into version, API version, os and arch; the zip holds
//! exactly the binary the getter looks for (executable); SHA256SUMS has a newline-ended
//! `HEX  NAME` line whose digest is the zip's; the binary's `describe` reports the release's
//! version. (tests/tests/release_getter.rs runs Packer's own getter code over the same files.)

use std::io::Read;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use xtask::release::{self, Platform};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The workspace's debug plugin binary (built by `cargo build`/`nextest` of the workspace).
fn plugin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("packer-plugin-amiforge");
    assert!(
        bin.exists(),
        "{} missing: run `cargo build --workspace` first",
        bin.display()
    );
    bin
}

fn host() -> Platform {
    Platform::host().unwrap()
}

#[test]
fn the_zip_and_sums_are_what_the_getter_reads() {
    let out = tempfile::tempdir().unwrap();
    let p = host();
    let zip = release::package(&plugin(), VERSION, &p, out.path()).unwrap();
    let sums = release::write_sums(VERSION, out.path()).unwrap();

    // the getter's Init: strip the prefix and the extension, split on '_'
    let name = zip.file_name().unwrap().to_str().unwrap();
    let rest = name
        .strip_prefix("packer-plugin-amiforge_")
        .unwrap()
        .strip_suffix(".zip")
        .unwrap();
    let parts: Vec<&str> = rest.split('_').collect();
    assert_eq!(
        parts,
        [&format!("v{VERSION}"), "x5.0", p.os, p.arch],
        "{name}"
    );

    // exactly one entry, the expected binary name, executable, and the very binary
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip).unwrap()).unwrap();
    assert_eq!(archive.len(), 1);
    let mut entry = archive.by_index(0).unwrap();
    let expected = format!("packer-plugin-amiforge_v{VERSION}_x5.0_{}_{}", p.os, p.arch);
    assert_eq!(entry.name().unwrap(), expected);
    assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    let mut inside = Vec::new();
    entry.read_to_end(&mut inside).unwrap();
    assert_eq!(inside, std::fs::read(plugin()).unwrap());

    // SHA256SUMS: named for the version, one newline-ended line per zip, the zip's digest
    assert_eq!(
        sums.file_name().unwrap().to_str().unwrap(),
        format!("packer-plugin-amiforge_v{VERSION}_SHA256SUMS")
    );
    let text = std::fs::read_to_string(&sums).unwrap();
    assert!(
        text.ends_with('\n'),
        "the getter drops an unterminated line"
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    let fields: Vec<&str> = lines[0].split_whitespace().collect();
    let digest = hex::encode(Sha256::digest(std::fs::read(&zip).unwrap()));
    assert_eq!(fields, [digest.as_str(), name]);

    // the same binary packages to the same bytes (fixed timestamps)
    let again = tempfile::tempdir().unwrap();
    let zip2 = release::package(&plugin(), VERSION, &p, again.path()).unwrap();
    assert_eq!(std::fs::read(&zip).unwrap(), std::fs::read(zip2).unwrap());
}

#[test]
fn describe_must_report_the_release_version() {
    release::check_describe(&plugin(), VERSION).unwrap();
    let e = release::check_describe(&plugin(), "9.9.9")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("version") && e.contains(VERSION) && e.contains("9.9.9"),
        "{e}"
    );
}

#[test]
fn sums_over_several_platforms_list_each_zip_once_sorted() {
    let out = tempfile::tempdir().unwrap();
    // a small stand-in binary: this test is about the sums, not the contents
    let bin = out.path().join("stand-in");
    std::fs::write(&bin, b"#!/bin/sh\n").unwrap();
    for t in [
        "x86_64-unknown-linux-gnu",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        let p = Platform::from_triple(t).unwrap();
        release::package(&bin, VERSION, &p, out.path()).unwrap();
    }
    // a stray file and another version's zip are not summed
    std::fs::write(out.path().join("notes.txt"), "x").unwrap();
    std::fs::write(
        out.path()
            .join("packer-plugin-amiforge_v0.0.1_x5.0_linux_amd64.zip"),
        "old",
    )
    .unwrap();
    let text = std::fs::read_to_string(release::write_sums(VERSION, out.path()).unwrap()).unwrap();
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            format!("packer-plugin-amiforge_v{VERSION}_x5.0_darwin_arm64.zip"),
            format!("packer-plugin-amiforge_v{VERSION}_x5.0_linux_amd64.zip"),
            format!("packer-plugin-amiforge_v{VERSION}_x5.0_windows_amd64.zip"),
        ]
    );
    let empty = tempfile::tempdir().unwrap();
    let e = release::write_sums(VERSION, empty.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no release zips"), "{e}");
}
