//! What the command line prints and writes: event lines on stdout (one printer for every
//! command; a closed stdout, as in `… | head -3`, silences it without stopping the work), the
//! JSON and JUnit reports, bad input on stderr with its exit code, and reading `--manifest`.

use std::io::Write;
use std::path::Path as FsPath;
use std::sync::atomic::{AtomicBool, Ordering};

use amiforge_model::Manifest;
use amiforge_validator::events::{Event, Sink};
use amiforge_validator_api::report::{Report, Verdict};
use amiforge_validator_api::request::manifest::{self, ManifestProblem};
use amiforge_validator_api::{FieldErrors, junit};

/// Whether stdout went away (a reader that stopped reading); then nothing more is printed.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Prints one line on stdout; a closed pipe ends printing, never the command.
pub fn line(text: &str) {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
        STDOUT_GONE.store(true, Ordering::Relaxed);
    }
}

/// A sink whose events are printed (those `show` lets through) until it closes; await the
/// handle after dropping the sink (and every clone of it).
pub fn printer(show: fn(&Event) -> bool) -> (Sink, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let task = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if show(&e) {
                line(&e.line());
            }
        }
    });
    (Sink::new(tx), task)
}

/// Says why the input is refused; the exit code for it.
pub fn bad_input(e: &FieldErrors) -> i32 {
    eprintln!("amiforge-validator: bad input:\n{e}");
    Verdict::BadInput.exit_code()
}

/// Writes the JSON and JUnit reports asked for; the exit code, raised to 3 when one fails.
pub fn write_reports(report: &Report, json: Option<&FsPath>, junit: Option<&FsPath>) -> i32 {
    let mut code = report.verdict.exit_code();
    if let Some(p) = json
        && let Err(e) = std::fs::write(p, report.to_json())
    {
        eprintln!("amiforge-validator: --json {}: {e}", p.display());
        code = code.max(Verdict::InfrastructureError.exit_code());
    }
    if let Some(p) = junit {
        let written = junit::render(report).and_then(|x| std::fs::write(p, x));
        if let Err(e) = written {
            eprintln!("amiforge-validator: --junit {}: {e}", p.display());
            code = code.max(Verdict::InfrastructureError.exit_code());
        }
    }
    code
}

/// The replicate manifest at `path`, or why not (named `--manifest`).
pub fn read_manifest(path: &FsPath) -> Result<Manifest, FieldErrors> {
    let p = path.display();
    let bad =
        |m: String| FieldErrors::one(amiforge_validator_api::Path::fields(&["--manifest"]), m);
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read {p}: {e}")))?;
    manifest::from_json(&bytes).map_err(|e| {
        bad(match e {
            ManifestProblem::NotAManifest(e) => format!("{p} is not a replicate manifest: {e}"),
            ManifestProblem::Edited => {
                format!("{p}: its sha256 does not match its content (edited or truncated?)")
            }
            ManifestProblem::DryRun => {
                format!("{p} records a dry run: there are no AMIs to validate")
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_manifest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, br#"{"not": "a manifest"}"#).unwrap();
        assert!(read_manifest(&p).unwrap_err().lines()[0].contains("is not a replicate manifest"));
        assert!(
            read_manifest(&dir.path().join("none.json"))
                .unwrap_err()
                .lines()[0]
                .contains("cannot read")
        );
    }
}
