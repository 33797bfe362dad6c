//! `run`: the flags become one [`Request`] (targets from `--manifest` or `--ami`, expectations,
//! the settings structs as parsed, user checks from `--check` and `--checks-file`, the user data
//! file read), which is checked before AWS is asked anything; then the run, its events printed,
//! its reports written, its verdict the exit code.

use std::collections::BTreeMap;
use std::path::Path as FsPath;

use amiforge_aws::client::Clients;
use amiforge_validator::events::Event;
use amiforge_validator_api::request::{files, manifest};
use amiforge_validator_api::{FieldError, FieldErrors, Path, Report, Request, UserCheck};
use tokio_util::sync::CancellationToken;

use super::args::RunArgs;
use super::{output, signals};

/// The user checks in a checks file (`.json`: a JSON list; else TOML `[[check]]` tables).
pub fn read_checks_file(p: &FsPath) -> Result<Vec<UserCheck>, FieldErrors> {
    let bad = |m: String| FieldErrors::one(Path::fields(&["--checks-file"]), m);
    let text =
        std::fs::read_to_string(p).map_err(|e| bad(format!("cannot read {}: {e}", p.display())))?;
    let json = p.extension().is_some_and(|e| e == "json");
    amiforge_validator_api::settings::user_check::parse_checks_file(&text, json)
        .map_err(|e| bad(format!("{}: {e}", p.display())))
}

/// The request the `run` arguments describe, checked.
pub fn request(a: &RunArgs) -> Result<Request, FieldErrors> {
    let mut targets = match (&a.manifest, &a.ami) {
        (Some(p), _) => manifest::targets(&output::read_manifest(p)?),
        (None, Some(ids)) => Request::targets_from_ids(ids, "--ami")?,
        (None, None) => {
            return Err(FieldErrors(vec![FieldError::new(
                Path::default(),
                "give --manifest FILE or --ami region:ami-id,...",
            )]));
        }
    };
    let kms: BTreeMap<_, _> = a.kms_keys.iter().cloned().collect();
    for t in &mut targets {
        if let Some(k) = kms.get(&t.region) {
            t.expect.kms_key = Some(k.clone());
        }
        if let Some(s) = a.strategy {
            t.expect.strategy = Some(s);
        }
    }
    let mut errs = FieldErrors::new();
    for r in kms.keys() {
        if !targets.iter().any(|t| &t.region == r) {
            errs.0.push(FieldError::new(
                Path::default(),
                format!("--kms-key {r}=…: no AMI to validate in {r}"),
            ));
        }
    }
    errs.into_result()?;
    let mut guest = a.guest.clone();
    if let Some(p) = &a.checks_file {
        guest.check.extend(read_checks_file(p)?);
    }
    let req = Request {
        targets,
        policy: a.policy.clone(),
        launch: a.launch.clone(),
        guest,
        run_id: a.run_id.clone().unwrap_or_default(),
    };
    req.check()?;
    if req.guest.ssh_private_key_name.is_some() {
        return Err(FieldErrors::one(
            Path::fields(&["guest", "ssh_private_key_name"]),
            "names a key a validator server's operator configured (serve --ssh-key); a local run \
             takes the key file itself: --ssh-private-key-file",
        ));
    }
    files::problems(&req).into_result()?;
    files::read_files(req)
}

pub async fn command(home: &str, a: RunArgs) -> i32 {
    let req = match request(&a) {
        Ok(r) => r,
        Err(e) => return output::bad_input(&e),
    };
    let clients = Clients::load(home).await;
    let cancel = CancellationToken::new();
    signals::watch(cancel.clone());
    let (sink, printer) = if a.out.quiet {
        output::printer(|e| matches!(e, Event::Verdict { .. } | Event::Started { .. }))
    } else {
        output::printer(|_| true)
    };
    let report = match amiforge_validator::run::run(&clients, req, sink, cancel).await {
        Ok(r) => r,
        Err(e) => Report::refused(&e),
    };
    let _ = printer.await;
    output::write_reports(&report, a.out.json.as_deref(), a.out.junit.as_deref())
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
