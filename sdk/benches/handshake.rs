//! Benchmark: plugin start-to-handshake time, i.e. how long Packer waits between spawning the
//! plugin and reading its handshake line (Packer spawns one process per component per build).
//!
//! `cargo bench -p packer-sdk --bench handshake` builds the example plugin in release mode,
//! starts it N times the way Packer does (cookie in the environment, `start provisioner run`),
//! and reports the distribution. Target: median under 10 ms on the CI machine.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 200;

fn build_release_example() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let st = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "packer-sdk",
            "--example",
            "packer-plugin-scaffold",
        ])
        .status()
        .expect("cargo build");
    assert!(st.success(), "building the example failed");
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest.parent().unwrap().join("target"));
    target.join("release/examples/packer-plugin-scaffold")
}

fn once(bin: &PathBuf, args: &[&str], tmp: &std::path::Path) -> Duration {
    let t = Instant::now();
    let mut child = Command::new(bin)
        .args(args)
        // killed before anyone connects, the plugin cannot remove its socket dir: keep them here
        .env("TMPDIR", tmp)
        .env(
            "PACKER_PLUGIN_MAGIC_COOKIE",
            packer_sdk::plugin::MAGIC_COOKIE_VALUE,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn plugin");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let d = t.elapsed();
    assert!(line.starts_with("5|"), "bad handshake {line:?}");
    let _ = child.kill();
    let _ = child.wait();
    d
}

fn report(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{name:<40} n={:<4} min {:>7.2?}  median {:>7.2?}  p95 {:>7.2?}  max {:>7.2?}",
        v.len(),
        v[0],
        pct(0.5),
        pct(0.95),
        v[v.len() - 1]
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not: run fewer then
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs = if quick { 5 } else { RUNS };
    let bin = build_release_example();
    let tmp = std::env::temp_dir().join(format!("handshake-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut describe = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(&bin).arg("describe").output().unwrap();
        assert!(out.status.success());
        describe.push(t.elapsed());
    }
    for (name, args) in [
        (
            "start-to-handshake (gob, 3-part)",
            &["start", "provisioner", "run"][..],
        ),
        (
            "start-to-handshake (--protobuf, 4-part)",
            &["start", "provisioner", "--protobuf", "run"][..],
        ),
    ] {
        let v: Vec<Duration> = (0..runs).map(|_| once(&bin, args, &tmp)).collect();
        report(name, v);
    }
    report("describe (process run to exit)", describe);
    let _ = std::fs::remove_dir_all(&tmp);
}
