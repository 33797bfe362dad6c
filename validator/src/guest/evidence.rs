//! `guest.evidence`: the hardening report the build left on the image
//! (`amiforge_profile::evidence::LINUX_REPORT_PATH`, where the compiled script installs the exact
//! bytes of the build's report) is there, and is the report the build wrote: its sha256 equals
//! the manifest's `hardening.report_sha256` when known.

use amiforge_profile::evidence::LINUX_REPORT_PATH as REPORT_PATH;

use amiforge_validator_api::report::{Check, Status};

use super::exec;
use super::transport::Transport;

/// The check, and the evidence bytes when there are any.
pub async fn check<T: Transport>(t: &T, want_sha256: Option<&str>) -> (Check, Option<Vec<u8>>) {
    const N: &str = "guest.evidence";
    let expected = match want_sha256 {
        Some(s) => format!("{REPORT_PATH} with sha256 {s}"),
        None => format!("{REPORT_PATH} present"),
    };
    match exec::read_file(t, REPORT_PATH).await {
        Err(e) => (
            Check::new(N, Status::Error, expected, "unknown").with_message(e),
            None,
        ),
        Ok(None) => (
            Check::new(N, Status::Failed, expected, "missing").with_message(format!(
                "{REPORT_PATH} is missing on {}: the image carries no hardening evidence \
                 (amiforge-harden in enforce mode leaves it)",
                t.describe()
            )),
            None,
        ),
        Ok(Some(bytes)) => {
            let sha = amiforge_model::sha256_hex(&bytes);
            let found = format!("sha256 {sha}");
            let c = match want_sha256 {
                Some(w) if !w.eq_ignore_ascii_case(&sha) => {
                    Check::new(N, Status::Failed, expected, found).with_message(format!(
                        "{REPORT_PATH} on {} is not the report the build wrote: sha256 {sha}, \
                         the manifest says {w} (edited after the build, or another image)",
                        t.describe()
                    ))
                }
                _ => Check::new(N, Status::Passed, expected, found)
                    .with_message(format!("{REPORT_PATH}: {} bytes", bytes.len())),
            };
            (c, Some(bytes))
        }
    }
}
