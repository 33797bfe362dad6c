//! The systemd units in docs/systemd/ are what systemd accepts and what the binary understands:
//! `systemd-analyze verify` passes without a warning (the binary's path pointed at the one built
//! here), and every `amiforge-validator` command line in them parses (each one run with `--help`
//! appended: clap rejects an unknown flag or a bad value before it reaches `--help`).

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_amiforge-validator");
const INSTALLED: &str = "/usr/local/bin/amiforge-validator";

fn units() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/systemd");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "service" || e == "timer")
        })
        .collect();
    v.sort();
    assert!(v.len() >= 4, "{v:?}");
    v
}

/// `Exec*=` lines with their `\` continuations joined.
fn exec_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        match cur.as_mut() {
            Some(c) => c.push_str(line.trim_end_matches('\\')),
            None if line.starts_with("Exec") => cur = Some(line.trim_end_matches('\\').into()),
            None => continue,
        }
        if !line.ends_with('\\') {
            out.extend(cur.take());
        }
    }
    out
}

#[test]
fn systemd_verifies_the_units() {
    let dir = tempfile::tempdir().unwrap();
    let mut copies = Vec::new();
    for u in units() {
        let text = std::fs::read_to_string(&u).unwrap().replace(INSTALLED, BIN);
        let to = dir.path().join(u.file_name().unwrap());
        std::fs::write(&to, text).unwrap();
        copies.push(to);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&copies)
        .current_dir(dir.path())
        .output()
        .expect("systemd-analyze (package systemd; tests/setup.sh installs it)");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.trim().is_empty(), "systemd warns: {err}");
}

#[test]
fn every_command_line_in_the_units_parses() {
    let mut seen = 0;
    for u in units() {
        let text = std::fs::read_to_string(&u).unwrap();
        for line in exec_lines(&text) {
            let Some((_, cmd)) = line.split_once(INSTALLED) else {
                continue;
            };
            let args: Vec<&str> = cmd.split_whitespace().collect();
            let out = Command::new(BIN)
                .args(&args)
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: {line}\n{}",
                u.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "serve, its start check and the timer's check");
}
