//! The report and SBOM as files: on the Packer host (with `.sha256` files) and as the archive
//! sent to the image's `/etc/amiforge`.

use std::path::{Path, PathBuf};

use amiforge_profile::evidence::{REPORT_FILE, SBOM_FILE};
use amiforge_profile::report::Report;
use anyhow::Context;

/// Report bytes: pretty JSON, newline-terminated; the same bytes go to the host and the image.
pub fn report_bytes(report: &Report) -> anyhow::Result<Vec<u8>> {
    let mut b = serde_json::to_vec_pretty(report).context("encoding the report")?;
    b.push(b'\n');
    Ok(b)
}

/// A tar archive holding `hardening.json` and `sbom.cdx.json` (what the script installs).
pub fn archive(report: &Report, sbom: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut t = tar::Builder::new(Vec::new());
    for (name, data) in [
        (REPORT_FILE, report_bytes(report)?),
        (SBOM_FILE, sbom.to_vec()),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(mtime);
        h.set_cksum();
        t.append_data(&mut h, name, data.as_slice())
            .with_context(|| format!("archiving {name}"))?;
    }
    t.into_inner().context("finishing the evidence archive")
}

/// The Windows evidence upload: one JSON document carrying both files base64-encoded (exact
/// bytes) and `"complete": true`; the waiting script only takes a file that parses and says so,
/// never a partly written one.
pub fn upload_document(report: &Report, sbom: &[u8]) -> anyhow::Result<Vec<u8>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let doc = serde_json::json!({
        REPORT_FILE: b64.encode(report_bytes(report)?),
        SBOM_FILE: b64.encode(sbom),
        "complete": true,
    });
    serde_json::to_vec(&doc).context("encoding the evidence")
}

/// Paths and digests of what was written on the host.
pub struct Written {
    pub report: PathBuf,
    pub report_sha256: String,
    pub sbom: PathBuf,
}

/// `<stem>.sbom.cdx.json` beside `report`.
pub fn sbom_path(report: &Path) -> PathBuf {
    let stem = report
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".json").to_string())
        .unwrap_or_else(|| "amiforge-hardening".into());
    report.with_file_name(format!("{stem}.sbom.cdx.json"))
}

/// Writes the report, the SBOM and a `sha256sum`-style `.sha256` file for each.
pub fn write_host_files(
    report_path: &Path,
    report: &Report,
    sbom: &[u8],
) -> anyhow::Result<Written> {
    if let Some(dir) = report_path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("report_path: creating {}", dir.display()))?;
    }
    let bytes = report_bytes(report)?;
    let sbom_file = sbom_path(report_path);
    let report_sha256 = amiforge_model::sha256_hex(&bytes);
    for (path, data, sum) in [
        (report_path, bytes.as_slice(), report_sha256.clone()),
        (sbom_file.as_path(), sbom, amiforge_model::sha256_hex(sbom)),
    ] {
        std::fs::write(path, data)
            .with_context(|| format!("report_path: writing {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sidecar = PathBuf::from(format!("{}.sha256", path.display()));
        std::fs::write(&sidecar, format!("{sum}  {name}\n"))
            .with_context(|| format!("report_path: writing {}", sidecar.display()))?;
    }
    Ok(Written {
        report: report_path.to_path_buf(),
        report_sha256,
        sbom: sbom_file,
    })
}

/// A stable RFC 4122-shaped serial number for the SBOM, derived from its content.
pub fn serial(results_text: &str, timestamp: &str) -> String {
    let h = amiforge_model::sha256_hex(format!("{timestamp}\n{results_text}").as_bytes());
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbom_sits_beside_the_report() {
        assert_eq!(
            sbom_path(Path::new("out/r.json")),
            PathBuf::from("out/r.sbom.cdx.json")
        );
        assert_eq!(
            sbom_path(Path::new("report")),
            PathBuf::from("report.sbom.cdx.json")
        );
    }

    #[test]
    fn serial_is_uuid_shaped() {
        let s = serial("x", "t");
        assert_eq!(s.len(), 36);
        assert_eq!(s.as_bytes()[14], b'4');
    }
}
