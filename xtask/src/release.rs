//! A release of `packer-plugin-amiforge` the way Packer's plugin getter reads one (hashicorp/packer
//! `packer/plugin-getter` and its GitHub getter, Packer 1.16):
//!
//! * per target a zip `packer-plugin-amiforge_v{VERSION}_x5.0_{os}_{arch}.zip` holding the binary
//!   `packer-plugin-amiforge_v{VERSION}_x5.0_{os}_{arch}` (`.exe` on Windows) — the getter takes
//!   the entry with exactly that name, checks its `describe` reports `VERSION`, and installs it;
//! * one `packer-plugin-amiforge_v{VERSION}_SHA256SUMS`: a `HEX  NAME` line per zip, each ended by
//!   a newline (the getter reads line by line and drops an unterminated last line).
//!
//! The getter splits a zip's name after the `packer-plugin-amiforge_` prefix on `_` into version,
//! API version, os and arch, and skips entries whose version, system or API major differ.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;

/// The plugin's name as Packer sees it (`packer-plugin-NAME`).
pub const PLUGIN: &str = "amiforge";
/// The plugin API version this SDK speaks (what `describe` says and the names carry).
pub const API_VERSION: &str = "x5.0";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "target {0:?}: not a platform Packer releases name (arch x86_64, aarch64, i686 or arm; os linux, apple-darwin, windows or freebsd)"
    )]
    Target(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("{binary}: `describe` says {field} {found:?}; the release needs {expected:?}")]
    Describe {
        binary: PathBuf,
        field: &'static str,
        found: String,
        expected: String,
    },
    #[error("{binary}: `describe` did not answer with JSON: {detail}")]
    NoDescription { binary: PathBuf, detail: String },
    #[error("{out}: no release zips of v{version} to sum")]
    NothingToSum { out: PathBuf, version: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Packer's name for a platform: `GOOS` and `GOARCH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub os: &'static str,
    pub arch: &'static str,
}

impl Platform {
    /// The platform of a Rust target triple (`x86_64-unknown-linux-gnu` → linux/amd64).
    pub fn from_triple(triple: &str) -> Result<Platform, Error> {
        let arch = match triple.split('-').next().unwrap_or_default() {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "i686" | "i586" => "386",
            a if a.starts_with("armv") || a == "arm" => "arm",
            _ => return Err(Error::Target(triple.to_string())),
        };
        let os = if triple.contains("-linux") {
            "linux"
        } else if triple.contains("-apple-darwin") {
            "darwin"
        } else if triple.contains("-windows") {
            "windows"
        } else if triple.contains("-freebsd") {
            "freebsd"
        } else {
            return Err(Error::Target(triple.to_string()));
        };
        Ok(Platform { os, arch })
    }

    /// The platform this code was compiled for (Go's names, as `runtime.GOOS/GOARCH`).
    pub fn host() -> Result<Platform, Error> {
        let os = match std::env::consts::OS {
            "linux" => "linux",
            "macos" => "darwin",
            "windows" => "windows",
            "freebsd" => "freebsd",
            other => return Err(Error::Target(other.to_string())),
        };
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            other => return Err(Error::Target(other.to_string())),
        };
        Ok(Platform { os, arch })
    }

    /// What executables end with there.
    pub fn ext(&self) -> &'static str {
        if self.os == "windows" { ".exe" } else { "" }
    }
}

/// `packer-plugin-amiforge_v{version}_x5.0_{os}_{arch}`: the zip's name without `.zip`, and the
/// binary's without its extension.
fn stem(version: &str, p: &Platform) -> String {
    format!(
        "packer-plugin-{PLUGIN}_v{version}_{API_VERSION}_{}_{}",
        p.os, p.arch
    )
}

/// The binary inside the zip (what the getter looks for).
pub fn binary_name(version: &str, p: &Platform) -> String {
    format!("{}{}", stem(version, p), p.ext())
}

pub fn zip_name(version: &str, p: &Platform) -> String {
    format!("{}.zip", stem(version, p))
}

pub fn sums_name(version: &str) -> String {
    format!("packer-plugin-{PLUGIN}_v{version}_SHA256SUMS")
}

/// Runs `binary describe` and checks it reports `version` and [`API_VERSION`] (Packer refuses a
/// binary whose self-reported version differs from the release's).
pub fn check_describe(binary: &Path, version: &str) -> Result<(), Error> {
    let out = Command::new(binary)
        .arg("describe")
        .output()
        .map_err(io_err(binary))?;
    let d: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| Error::NoDescription {
            binary: binary.to_path_buf(),
            detail: e.to_string(),
        })?;
    for (field, expected) in [("version", version), ("api_version", API_VERSION)] {
        let found = d[field].as_str().unwrap_or_default();
        if found != expected {
            return Err(Error::Describe {
                binary: binary.to_path_buf(),
                field,
                found: found.to_string(),
                expected: expected.to_string(),
            });
        }
    }
    Ok(())
}

/// Writes `out/<zip_name>` holding `binary` as [`binary_name`] (mode 0755, a fixed timestamp, so
/// the same binary gives the same zip). Returns the zip's path.
pub fn package(binary: &Path, version: &str, p: &Platform, out: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let bytes = std::fs::read(binary).map_err(io_err(binary))?;
    let path = out.join(zip_name(version, p));
    let zip_err = |source| Error::Zip {
        path: path.clone(),
        source,
    };
    let file = File::create(&path).map_err(io_err(&path))?;
    let mut zip = zip::ZipWriter::new(file);
    let opts = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755)
        .last_modified_time(zip::DateTime::default());
    zip.start_file(binary_name(version, p), opts)
        .map_err(zip_err)?;
    zip.write_all(&bytes).map_err(io_err(&path))?;
    zip.finish().map_err(zip_err)?;
    Ok(path)
}

/// Writes `out/<sums_name>` over every release zip of `version` in `out` (sorted by name; the
/// matrix workflow gathers every platform's zip first). Returns its path.
pub fn write_sums(version: &str, out: &Path) -> Result<PathBuf, Error> {
    let prefix = format!("packer-plugin-{PLUGIN}_v{version}_{API_VERSION}_");
    let mut zips: Vec<PathBuf> = std::fs::read_dir(out)
        .map_err(io_err(out))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".zip"))
        })
        .collect();
    if zips.is_empty() {
        return Err(Error::NothingToSum {
            out: out.to_path_buf(),
            version: version.to_string(),
        });
    }
    zips.sort();
    let mut text = String::new();
    for z in &zips {
        let bytes = std::fs::read(z).map_err(io_err(z))?;
        let name = z.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        text.push_str(&format!(
            "{}  {name}\n",
            hex::encode(Sha256::digest(&bytes))
        ));
    }
    let path = out.join(sums_name(version));
    std::fs::write(&path, text).map_err(io_err(&path))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_map_to_packers_platform_names() {
        let p = |t| Platform::from_triple(t).map(|p| (p.os, p.arch, p.ext()));
        assert_eq!(
            p("x86_64-unknown-linux-gnu").unwrap(),
            ("linux", "amd64", "")
        );
        assert_eq!(p("aarch64-apple-darwin").unwrap(), ("darwin", "arm64", ""));
        assert_eq!(
            p("x86_64-pc-windows-msvc").unwrap(),
            ("windows", "amd64", ".exe")
        );
        assert_eq!(
            p("aarch64-unknown-linux-musl").unwrap(),
            ("linux", "arm64", "")
        );
        let e = p("riscv64gc-unknown-linux-gnu").unwrap_err().to_string();
        assert!(e.contains("riscv64gc-unknown-linux-gnu"), "{e}");
        assert!(p("x86_64-unknown-haiku").is_err());
    }

    #[test]
    fn names_follow_the_getter() {
        let win = Platform::from_triple("x86_64-pc-windows-msvc").unwrap();
        assert_eq!(
            zip_name("1.2.3", &win),
            "packer-plugin-amiforge_v1.2.3_x5.0_windows_amd64.zip"
        );
        assert_eq!(
            binary_name("1.2.3", &win),
            "packer-plugin-amiforge_v1.2.3_x5.0_windows_amd64.exe"
        );
        assert_eq!(
            sums_name("1.2.3"),
            "packer-plugin-amiforge_v1.2.3_SHA256SUMS"
        );
    }
}
