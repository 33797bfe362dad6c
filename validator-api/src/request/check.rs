//! Every rule a [`Request`] must meet, in one place for the CLI, the gRPC API and the gate's
//! `packer validate`. Pure: nothing is read from disk or asked of AWS (files are
//! [`super::files`]'). Each problem names its field ([`Path`]) and says how to fix it.

use std::collections::BTreeSet;
use std::time::Duration;

use amiforge_model::artifact;

use super::{Request, Target};
use crate::field::{FieldErrors, Path};
use crate::settings::ssh::{Address, check_user};
use crate::settings::{Guest, Launch, Policy, Transport, UserCheck};

/// The most test instances one run may have at once.
pub const MAX_PARALLEL: u32 = 100;
/// The shortest poll interval (AWS's API rate limits are per account).
pub const MIN_POLL: Duration = Duration::from_millis(100);
/// EC2's limit on user data.
pub const MAX_USER_DATA: usize = 16 * 1024;

impl Request {
    /// Every problem with this request, each naming the field and the fix.
    pub fn check(&self) -> Result<(), FieldErrors> {
        let mut errs = FieldErrors::new();
        targets(&self.targets, &mut errs);
        policy(&self.policy, &mut errs);
        if self.launch.launch {
            let regions: BTreeSet<&str> = self.targets.iter().map(|t| t.region.as_str()).collect();
            launch(&self.launch, &regions, &mut errs);
        }
        guest(self, &mut errs);
        if !self.run_id.is_empty()
            && !self
                .run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            errs.push(
                Path::fields(&["run_id"]),
                format!("{:?}: letters, digits, - and _ only", self.run_id),
            );
        }
        errs.into_result()
    }
}

fn targets(targets: &[Target], errs: &mut FieldErrors) {
    if targets.is_empty() {
        errs.push(
            Path::fields(&["targets"]),
            "nothing to validate; give a manifest or region:ami pairs",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, t) in targets.iter().enumerate() {
        let at = Path::fields(&["targets"]).index(i);
        if !artifact::is_region(&t.region) {
            errs.push(
                at.clone().field("region"),
                format!("{:?} is not a region name (like eu-west-1)", t.region),
            );
        }
        if !artifact::is_ami_id(&t.ami) {
            errs.push(
                at.clone().field("ami"),
                format!("{:?} is not an AMI id (ami- and 8 or 17 hex digits)", t.ami),
            );
        }
        if !seen.insert((&t.region, &t.ami)) {
            errs.push(at, format!("{} in {} is listed twice", t.ami, t.region));
        }
    }
}

fn policy(p: &Policy, errs: &mut FieldErrors) {
    if p.required_tags.keys().any(String::is_empty) {
        errs.push(
            Path::fields(&["policy", "required_tags"]),
            "a tag key is empty",
        );
    }
}

fn launch(l: &Launch, regions: &BTreeSet<&str>, errs: &mut FieldErrors) {
    let at = |f: &str| Path::fields(&["launch", f]);
    if l.instance_types.is_empty() {
        errs.push(at("instance_types"), "name at least one (e.g. t3.micro)");
    }
    for (i, t) in l.instance_types.iter().enumerate() {
        if !is_instance_type(t) {
            errs.push(
                at("instance_types").index(i),
                format!("{t:?} is not an instance type (like t3.micro)"),
            );
        }
    }
    if !(1..=MAX_PARALLEL).contains(&l.max_parallel) {
        errs.push(at("max_parallel"), format!("between 1 and {MAX_PARALLEL}"));
    }
    if l.timeout < Duration::from_secs(1) {
        errs.push(at("timeout"), "must be at least 1s");
    }
    if l.poll_interval < MIN_POLL {
        errs.push(at("poll_interval"), "must be at least 100ms");
    }
    for (field, keys) in [
        ("subnets", l.subnets.keys().collect::<Vec<_>>()),
        ("security_groups", l.security_groups.keys().collect()),
    ] {
        for r in keys {
            if !artifact::is_region(r) {
                errs.push(
                    at(field).key(r),
                    "the key must be a region name like eu-west-1",
                );
            } else if !regions.contains(r.as_str()) {
                errs.push(at(field).key(r), format!("no AMI to validate in {r}"));
            }
        }
    }
    for (r, s) in l.subnets.iter() {
        if !s.starts_with("subnet-") {
            errs.push(
                at("subnets").key(r),
                format!("{s:?} is not a subnet id (subnet-…)"),
            );
        }
    }
    for r in l.security_groups.keys() {
        let ids = l.security_groups.ids(r);
        if ids.is_empty() {
            errs.push(
                at("security_groups").key(r),
                "empty; give sg-… ids, comma-separated, or leave the region out",
            );
        }
        for g in ids.iter().filter(|g| !g.starts_with("sg-")) {
            errs.push(
                at("security_groups").key(r),
                format!("{g:?} is not a security group id (sg-…)"),
            );
        }
    }
    if let Some(u) = &l.user_data
        && u.len() > MAX_USER_DATA
    {
        errs.push(
            at("user_data"),
            format!("{} bytes; EC2 allows 16 KiB", u.len()),
        );
    }
}

fn guest(r: &Request, errs: &mut FieldErrors) {
    let g = &r.guest;
    let at = |f: &str| Path::fields(&["guest", f]);
    user_checks(&g.check, &at("check"), errs);
    if let Some(u) = &g.ssh_username
        && let Err(e) = check_user(u)
    {
        errs.push(at("ssh_username"), e);
    }
    if let Some(h) = &g.ssh_host
        && let Err(e) = Address::parse(h)
    {
        errs.push(at("ssh_host"), e);
    }
    if let Some(c) = &g.ssh_cidr
        && c.parse::<ipnet::IpNet>().is_err()
    {
        errs.push(
            at("ssh_cidr"),
            format!("{c:?} is not a CIDR (like 203.0.113.7/32 or 10.0.0.0/16)"),
        );
    }
    key_pair(g, errs);
    if g.transport != Transport::Ssh {
        for (f, set) in ssh_fields(g) {
            if set {
                errs.push(
                    at(f),
                    "only used with transport = \"ssh\"; set that or remove this",
                );
            }
        }
    }
    if !g.check.is_empty() && (g.transport == Transport::None || !r.launch.launch) {
        errs.push(
            at("check"),
            "in-guest checks need test instances: set launch = true and transport = ssm or ssh",
        );
    }
    let ssh_group_needed = r.connects_to_guests()
        && r.targets
            .iter()
            .any(|t| !r.launch.security_groups.contains_key(&t.region));
    if ssh_group_needed && g.transport == Transport::Ssh && g.ssh_cidr.is_none() {
        errs.push(
            at("ssh_cidr"),
            "SSH to test instances needs ingress on tcp/22; give the CIDR this runner connects \
             from (e.g. 203.0.113.7/32), or launch.security_groups that allow it",
        );
    }
}

/// The settings only SSH uses and whether each is set.
fn ssh_fields(g: &Guest) -> [(&'static str, bool); 5] {
    [
        ("ssh_username", g.ssh_username.is_some()),
        ("ssh_host", g.ssh_host.is_some()),
        ("ssh_private_key_file", g.ssh_private_key_file.is_some()),
        ("ssh_private_key_name", g.ssh_private_key_name.is_some()),
        ("ssh_keypair_name", g.ssh_keypair_name.is_some()),
    ]
}

/// An existing key pair comes with its private key: a file or a key name, not both.
fn key_pair(g: &Guest, errs: &mut FieldErrors) {
    let at = |f: &str| Path::fields(&["guest", f]);
    let key = g.ssh_private_key_file.is_some() || g.ssh_private_key_name.is_some();
    if g.ssh_private_key_file.is_some() && g.ssh_private_key_name.is_some() {
        errs.push(
            at("ssh_private_key_name"),
            "give the key as a file or by name, not both",
        );
    }
    match (&g.ssh_keypair_name, key) {
        (Some(_), false) => errs.push(
            at("ssh_private_key_file"),
            "give the private key of guest.ssh_keypair_name (ssh_private_key_file, or \
             ssh_private_key_name on a shared validator)",
        ),
        (None, true) => errs.push(
            at("ssh_keypair_name"),
            "give the key pair the private key belongs to (or neither: a key pair is made for \
             the run)",
        ),
        (Some(n), true) if n.is_empty() => errs.push(at("ssh_keypair_name"), "empty"),
        _ => {}
    }
}

/// Problems with user checks, named `{at}[i].name` etc.: names (letters, digits, `.`, `_`, `-`;
/// unique), commands (non-empty), exit codes (0–255), regexes (must compile).
pub fn user_checks(checks: &[UserCheck], at: &Path, errs: &mut FieldErrors) {
    let mut names = BTreeSet::new();
    for (i, c) in checks.iter().enumerate() {
        let here = |f: &str| at.clone().index(i).field(f);
        if c.name.is_empty()
            || !c
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
        {
            errs.push(
                here("name"),
                format!("{:?}: use letters, digits, '.', '_' and '-'", c.name),
            );
        } else if !names.insert(c.name.as_str()) {
            errs.push(
                here("name"),
                format!("{:?} is used twice; names must be unique", c.name),
            );
        }
        if c.command.trim().is_empty() {
            errs.push(here("command"), "empty; give a shell command");
        }
        if !(0..=255).contains(&c.expect_exit) {
            errs.push(
                here("expect_exit"),
                format!("{}: exit codes are 0 to 255", c.expect_exit),
            );
        }
        if let Some(r) = &c.expect_output
            && let Err(e) = regex::Regex::new(r)
        {
            errs.push(
                here("expect_output"),
                format!("not a regex: {}", e.to_string().replace('\n', " ")),
            );
        }
    }
}

fn is_instance_type(s: &str) -> bool {
    let Some((family, size)) = s.split_once('.') else {
        return false;
    };
    !family.is_empty()
        && !size.is_empty()
        && family
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && size
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

#[cfg(test)]
mod tests;
