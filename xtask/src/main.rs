//! `cargo xtask`: project tasks (the alias is in `.cargo/config.toml`).
//!
//! * `cargo xtask release [--target TRIPLE] [--out dist] [--binary PATH]`: builds
//!   `packer-plugin-amiforge` in release mode for the target (default: this host), checks its
//!   `describe` (host target only), zips it under the name Packer's getter expects and rewrites the
//!   version's SHA256SUMS over every zip in `--out`. `--binary` packages an existing binary instead
//!   of building one.
//! * `cargo xtask version`: the version a release tag must carry (`v{VERSION}`).
//! * `cargo xtask sums [--out dist]`: only the SHA256SUMS (the release workflow gathers every
//!   platform's zip, then sums them once).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand};
use xtask::release::{self, Platform};

/// The release's version: the workspace's (the plugin's `describe` reports the same).
const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Parser)]
#[command(name = "cargo xtask", about = "amiforge project tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build, check and package the plugin for one target, then rewrite SHA256SUMS.
    Release {
        /// Rust target triple (default: this host).
        #[arg(long)]
        target: Option<String>,
        /// Where the zips and SHA256SUMS go.
        #[arg(long, default_value = "dist")]
        out: PathBuf,
        /// Package this binary instead of building one.
        #[arg(long)]
        binary: Option<PathBuf>,
    },
    /// Print the release version (the workspace's; the release workflow checks the tag).
    Version,
    /// Rewrite SHA256SUMS over the zips in --out.
    Sums {
        #[arg(long, default_value = "dist")]
        out: PathBuf,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().task {
        Task::Release {
            target,
            out,
            binary,
        } => release(target, &out, binary),
        Task::Version => {
            println!("{VERSION}");
            Ok(())
        }
        Task::Sums { out } => release::write_sums(VERSION, &out)
            .map(|p| println!("{}", p.display()))
            .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cargo xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn release(target: Option<String>, out: &Path, binary: Option<PathBuf>) -> Result<(), String> {
    let host = Platform::host().map_err(|e| e.to_string())?;
    let platform = match &target {
        Some(t) => Platform::from_triple(t).map_err(|e| e.to_string())?,
        None => host,
    };
    let binary = match binary {
        Some(b) => b,
        None => build(target.as_deref(), &platform)?,
    };
    if platform == host {
        release::check_describe(&binary, VERSION).map_err(|e| e.to_string())?;
    } else {
        eprintln!(
            "cargo xtask: {}/{} is not this host ({}/{}): describe not checked",
            platform.os, platform.arch, host.os, host.arch
        );
    }
    let zip = release::package(&binary, VERSION, &platform, out).map_err(|e| e.to_string())?;
    let sums = release::write_sums(VERSION, out).map_err(|e| e.to_string())?;
    println!("{}\n{}", zip.display(), sums.display());
    Ok(())
}

/// `cargo build --release` of the plugin binary; its path.
fn build(target: Option<&str>, platform: &Platform) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args([
        "build",
        "--release",
        "--package",
        "amiforge-plugin",
        "--bin",
        "packer-plugin-amiforge",
    ]);
    if let Some(t) = target {
        cmd.args(["--target", t]);
    }
    let status = cmd.status().map_err(|e| format!("{cargo}: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build --release failed ({status})"));
    }
    let mut dir = target_dir()?;
    if let Some(t) = target {
        dir.push(t);
    }
    Ok(dir
        .join("release")
        .join(format!("packer-plugin-amiforge{}", platform.ext())))
}

fn target_dir() -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("{cargo} metadata: {e}"))?;
    let m: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{cargo} metadata: not JSON: {e}"))?;
    m["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| format!("{cargo} metadata: no target_directory"))
}
