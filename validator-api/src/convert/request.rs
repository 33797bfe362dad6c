//! `ValidateRequest` ↔ [`Request`]. The settings messages map field for field onto the settings
//! structs (same names); unset or zero proto fields take the model's defaults. Every bad field is
//! named by its proto path, manifest regions included (`manifest_json.regions["eu-west-1"].ami`),
//! in one list.

use std::time::Duration;

use amiforge_model::Sharing;

use crate::field::{FieldErrors, Path, Segment};
use crate::pb;
use crate::request::{self, Expect, Request, Target};
use crate::settings::{Guest, Launch, Policy, UserCheck};

/// The request a `ValidateRequest` describes, checked with [`Request::check`]; every problem
/// names its proto field (`manifest_json`, `targets[1].ami`, `launch.max_parallel`, …).
pub fn request(r: pb::ValidateRequest) -> Result<Request, FieldErrors> {
    let mut errs = FieldErrors::new();
    let manifest = if r.manifest_json.is_empty() {
        None
    } else {
        match request::manifest::from_json(&r.manifest_json) {
            Ok(m) => Some(m),
            Err(e) => {
                errs.push(Path::fields(&["manifest_json"]), e.to_string());
                None
            }
        }
    };
    let manifest_failed = !r.manifest_json.is_empty() && manifest.is_none();
    // manifest targets first (their errors are named by region), then the explicit ones
    let mut targets = manifest
        .as_ref()
        .map(request::manifest::targets)
        .unwrap_or_default();
    let from_manifest: Vec<String> = targets.iter().map(|t| t.region.clone()).collect();
    for (i, t) in r.targets.into_iter().enumerate() {
        targets.push(target(t, i, &mut errs));
    }
    let req = Request {
        targets,
        policy: policy(r.policy.unwrap_or_default(), &mut errs),
        launch: launch(r.launch.unwrap_or_default(), &mut errs),
        guest: guest(r.guest.unwrap_or_default(), &mut errs),
        run_id: r.run_id,
    };
    if let Err(found) = req.check() {
        for e in found.0 {
            // an unreadable manifest already says why there is nothing to validate
            if manifest_failed && e.path == Path::fields(&["targets"]) {
                continue;
            }
            errs.push(proto_path(e.path, &from_manifest), e.message);
        }
    }
    errs.into_result().map(|()| req)
}

/// `targets[i]…` of the combined list, renamed to the proto field it came from: the manifest's
/// `regions["eu-west-1"]` or the request's own `targets[i - n]`.
fn proto_path(p: Path, from_manifest: &[String]) -> Path {
    match p.0.as_slice() {
        [Segment::Field(t), Segment::Index(i), rest @ ..] if t == "targets" => {
            let head = match from_manifest.get(*i) {
                Some(region) => Path::fields(&["manifest_json", "regions"]).key(region),
                None => Path::fields(&["targets"]).index(i - from_manifest.len()),
            };
            Path(rest.to_vec()).under(&head)
        }
        _ => p,
    }
}

fn given(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Parses `s` (empty: `None`) or records why not under `path`.
fn parsed<T: std::str::FromStr>(s: String, path: Path, errs: &mut FieldErrors) -> Option<T>
where
    T::Err: std::fmt::Display,
{
    let s = given(s)?;
    match s.parse() {
        Ok(v) => Some(v),
        Err(e) => {
            errs.push(path, e.to_string());
            None
        }
    }
}

fn target(t: pb::Target, i: usize, errs: &mut FieldErrors) -> Target {
    let e = t.expect.unwrap_or_default();
    let strategy = parsed(
        e.strategy.unwrap_or_default(),
        Path::fields(&["targets"])
            .index(i)
            .field("expect")
            .field("strategy"),
        errs,
    );
    Target {
        region: t.region,
        ami: t.ami,
        expect: Expect {
            kms_key: e.kms_key,
            sharing: e.sharing.map(|s| Sharing {
                account_ids: s.account_ids,
                org_arns: s.org_arns,
                ou_arns: s.ou_arns,
                public: s.public,
            }),
            tags: e.tags.into_iter().collect(),
            deprecation_time: e.deprecation_time,
            strategy,
            profile_sha256: e.profile_sha256,
            report_sha256: e.report_sha256,
            profile: e.profile,
        },
    }
}

fn policy(p: pb::Policy, errs: &mut FieldErrors) -> Policy {
    Policy {
        allow_unencrypted: p.allow_unencrypted,
        allow_no_ena: p.allow_no_ena,
        allow_imds_v1: p.allow_imds_v1,
        allow_no_deprecation: p.allow_no_deprecation,
        boot_mode: parsed(
            p.boot_mode.unwrap_or_default(),
            Path::fields(&["policy", "boot_mode"]),
            errs,
        ),
        required_tags: p.required_tags.into_iter().collect(),
    }
}

fn launch(l: pb::Launch, errs: &mut FieldErrors) -> Launch {
    let d = Launch::default();
    Launch {
        launch: l.launch.unwrap_or(d.launch),
        instance_types: if l.instance_types.is_empty() {
            d.instance_types
        } else {
            l.instance_types
        },
        timeout: duration(l.timeout, "timeout", d.timeout, errs),
        max_parallel: if l.max_parallel == 0 {
            d.max_parallel
        } else {
            l.max_parallel
        },
        poll_interval: duration(l.poll_interval, "poll_interval", d.poll_interval, errs),
        subnets: l.subnets.into_iter().collect(),
        security_groups: l.security_groups.into_iter().collect(),
        user_data_file: None,
        user_data: l.user_data,
    }
}

/// A duration field: empty → `default`; else parsed, or why not recorded under `launch.{field}`.
fn duration(s: String, field: &str, default: Duration, errs: &mut FieldErrors) -> Duration {
    let Some(s) = given(s) else {
        return default;
    };
    amiforge_model::duration::parse(&s).unwrap_or_else(|e| {
        errs.push(Path::fields(&["launch", field]), e.to_string());
        default
    })
}

fn guest(g: pb::Guest, errs: &mut FieldErrors) -> Guest {
    Guest {
        transport: parsed(g.transport, Path::fields(&["guest", "transport"]), errs)
            .unwrap_or_default(),
        ssh_username: given(g.ssh_username),
        ssh_host: given(g.ssh_host),
        ssh_private_key_file: given(g.ssh_private_key_file).map(Into::into),
        ssh_private_key_name: given(g.ssh_private_key_name),
        ssh_keypair_name: given(g.ssh_keypair_name),
        ssh_cidr: given(g.ssh_cidr),
        instance_profile: given(g.instance_profile),
        profile_file: given(g.profile_file).map(Into::into),
        profile: g.profile,
        check: g
            .check
            .into_iter()
            .map(|c| UserCheck {
                name: c.name,
                command: c.command,
                expect_exit: c.expect_exit,
                expect_output: given(c.expect_output),
            })
            .collect(),
    }
}

/// The `ValidateRequest` for a request (explicit targets; the user data as content).
/// [`request`] turns it back into the same request.
pub fn to_proto(r: &Request) -> pb::ValidateRequest {
    pb::ValidateRequest {
        manifest_json: Vec::new(),
        targets: r.targets.iter().map(target_to_proto).collect(),
        policy: Some(policy_to_proto(&r.policy)),
        launch: Some(launch_to_proto(&r.launch)),
        guest: Some(guest_to_proto(&r.guest)),
        run_id: r.run_id.clone(),
    }
}

fn target_to_proto(t: &Target) -> pb::Target {
    let e = &t.expect;
    pb::Target {
        region: t.region.clone(),
        ami: t.ami.clone(),
        expect: Some(pb::Expect {
            kms_key: e.kms_key.clone(),
            sharing: e.sharing.as_ref().map(|s| pb::Sharing {
                account_ids: s.account_ids.clone(),
                org_arns: s.org_arns.clone(),
                ou_arns: s.ou_arns.clone(),
                public: s.public,
            }),
            tags: e.tags.clone().into_iter().collect(),
            deprecation_time: e.deprecation_time.clone(),
            strategy: e.strategy.map(|s| s.to_string()),
            profile_sha256: e.profile_sha256.clone(),
            report_sha256: e.report_sha256.clone(),
            profile: e.profile.clone(),
        }),
    }
}

fn policy_to_proto(p: &Policy) -> pb::Policy {
    pb::Policy {
        allow_unencrypted: p.allow_unencrypted,
        allow_no_ena: p.allow_no_ena,
        allow_imds_v1: p.allow_imds_v1,
        allow_no_deprecation: p.allow_no_deprecation,
        boot_mode: p.boot_mode.map(|b| b.to_string()),
        required_tags: p.required_tags.0.clone().into_iter().collect(),
    }
}

fn launch_to_proto(l: &Launch) -> pb::Launch {
    pb::Launch {
        launch: Some(l.launch),
        instance_types: l.instance_types.clone(),
        subnets: l.subnets.0.clone().into_iter().collect(),
        security_groups: l.security_groups.0.clone().into_iter().collect(),
        user_data: l.user_data.clone(),
        timeout: amiforge_model::duration::format(l.timeout),
        max_parallel: l.max_parallel,
        poll_interval: amiforge_model::duration::format(l.poll_interval),
    }
}

fn guest_to_proto(g: &Guest) -> pb::Guest {
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let path = |o: &Option<std::path::PathBuf>| {
        o.as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    pb::Guest {
        transport: g.transport.to_string(),
        ssh_username: text(&g.ssh_username),
        ssh_host: text(&g.ssh_host),
        ssh_private_key_file: path(&g.ssh_private_key_file),
        ssh_private_key_name: text(&g.ssh_private_key_name),
        ssh_keypair_name: text(&g.ssh_keypair_name),
        profile_file: path(&g.profile_file),
        profile: g.profile.clone(),
        ssh_cidr: text(&g.ssh_cidr),
        instance_profile: text(&g.instance_profile),
        check: g
            .check
            .iter()
            .map(|c| pb::UserCheck {
                name: c.name.clone(),
                command: c.command.clone(),
                expect_exit: c.expect_exit,
                expect_output: text(&c.expect_output),
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
