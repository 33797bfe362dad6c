//! `sweep`: finds what validator runs left behind by tag (one run, expired runs, or all) in the
//! regions given or a manifest's, once their lease lapsed (`--force`: live runs too), lists it,
//! and removes it unless `--dry-run`.

use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_validator::sweep::{self, Scope, Select};
use amiforge_validator_api::{FieldErrors, Path, Verdict};

use super::args::SweepArgs;
use super::output;

pub async fn command(home: &str, a: SweepArgs) -> i32 {
    let mut regions = a.regions.clone();
    if let Some(p) = &a.manifest {
        match output::read_manifest(p) {
            Ok(m) => regions.extend(m.regions.keys().cloned()),
            Err(e) => return output::bad_input(&e),
        }
    }
    regions.sort();
    regions.dedup();
    if let Some(bad) = regions
        .iter()
        .find(|r| !amiforge_model::artifact::is_region(r))
    {
        return output::bad_input(&FieldErrors::one(
            Path::fields(&["--regions"]),
            format!("{bad:?} is not a region name (like eu-west-1)"),
        ));
    }
    let scope = match (&a.run_id, a.all) {
        (Some(id), _) => Scope::Run(id.clone()),
        (None, true) => Scope::All,
        (None, false) => Scope::Expired,
    };
    let clients = Clients::load(home).await;
    let (sink, printer) = output::printer(|_| true);
    let res = sweep::sweep(
        &clients,
        &regions,
        &Select::new(scope).forced(a.force),
        a.dry_run,
        Duration::from_secs(2),
        &sink,
    )
    .await;
    drop(sink);
    let _ = printer.await;
    let s = match res {
        Ok(s) => s,
        Err(e) => {
            eprintln!("amiforge-validator: sweep: {e}");
            return Verdict::InfrastructureError.exit_code();
        }
    };
    for (r, c) in &s.found {
        let verb = if a.dry_run { "would remove" } else { "found" };
        output::line(&format!(
            "{r}: {verb} {} instance(s), {} key pair(s), {} security group(s)",
            c.instances.len(),
            c.key_pairs.len(),
            c.security_groups.len()
        ));
        for i in c
            .instances
            .iter()
            .chain(&c.key_pairs)
            .chain(&c.security_groups)
        {
            output::line(&format!("  {i}"));
        }
    }
    if s.found.is_empty() {
        output::line(&format!("nothing to sweep in {}", regions.join(", ")));
    }
    for e in &s.cleanup.errors {
        eprintln!("amiforge-validator: could not remove: {e}");
    }
    if s.cleanup.errors.is_empty() {
        0
    } else {
        Verdict::InfrastructureError.exit_code()
    }
}
