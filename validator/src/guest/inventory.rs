//! What is really installed on a guest: the inventory script (the hardening runtime's facts and
//! package listing, `dpkg-query` / `rpm -qa` with source packages; it changes nothing) run as root
//! through any [`Transport`], read back into the security scan's packages with the purls the
//! harden SBOM carries. Later provisioners change packages; this sees what the image has.

use amiforge_profile::compile::inventory_script;
use amiforge_profile::results::{Collected, Facts};
use amiforge_scan::inventory::{Inventory, from_os_packages};

use super::exec;
use super::transport::{Transport, last_line};

/// The target's facts and its packages as the scanner reads them.
pub async fn collect<T: Transport>(t: &T) -> Result<(Facts, Inventory), String> {
    let out = exec::run_root(t, &inventory_script().text, false).await?;
    let mut run = Collected::default();
    for line in out.stdout.lines() {
        run.push_line(line)
            .map_err(|e| format!("the inventory printed an unusable line: {e}"))?;
    }
    let facts = match (run.done, out.exit, run.facts) {
        (true, 0, Some(f)) => f,
        (_, exit, _) => {
            return Err(format!(
                "the inventory did not finish on {} (exit {exit}): {}",
                t.describe(),
                last_line(&out.stderr)
            ));
        }
    };
    let inventory = from_os_packages(run.packages.iter().map(|p| p.os_package(&facts)));
    if inventory.packages.is_empty() {
        return Err(format!(
            "no OS packages of a known release on {} ({} {}, {} packages listed)",
            t.describe(),
            facts.os_id,
            facts.os_version,
            run.packages.len()
        ));
    }
    Ok((facts, inventory))
}
