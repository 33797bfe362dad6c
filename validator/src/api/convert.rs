//! Proto ↔ model: a `ValidateRequest` becomes a [`Request`] (unset or zero fields take the model's
//! defaults; every bad field is named, with the fix, in one `INVALID_ARGUMENT`), a [`Request`]
//! becomes a `ValidateRequest` (for clients such as the gate post-processor), and run events and
//! the final report become `ValidateEvent`s.

use std::collections::BTreeMap;
use std::time::Duration;

use amiforge_model::manifest::{Manifest, Sharing};

use super::pb;
use crate::events::Event;
use crate::report::{Report, Status, Verdict};
use crate::request::{
    BadInput, Expect, Guest, Launch, Policy, Request, Target, Transport, UserCheck,
};

/// The request a `ValidateRequest` describes, checked with [`Request::check`]; every problem
/// names its proto field (`manifest_json`, `targets[1].ami`, `launch.max_parallel`, …).
pub fn request(r: pb::ValidateRequest) -> Result<Request, BadInput> {
    let mut errs = Vec::new();
    let mut manifest_failed = false;
    let manifest = if r.manifest_json.is_empty() {
        None
    } else {
        match manifest(&r.manifest_json) {
            Ok(m) => Some(m),
            Err(e) => {
                errs.push(e);
                manifest_failed = true;
                None
            }
        }
    };
    // manifest targets first (their errors are named by region), then the explicit ones
    let mut targets = manifest
        .as_ref()
        .map(Request::targets_from_manifest)
        .unwrap_or_default();
    let from_manifest: Vec<String> = targets.iter().map(|t| t.region.clone()).collect();
    for (i, t) in r.targets.into_iter().enumerate() {
        match target(t) {
            Ok(t) => targets.push(t),
            Err(e) => errs.push(format!("targets[{i}].expect.strategy: {e}")),
        }
    }

    let d = Policy::default();
    let p = r.policy.unwrap_or_default();
    let policy = Policy {
        require_encrypted: p.require_encrypted.unwrap_or(d.require_encrypted),
        require_ena: p.require_ena.unwrap_or(d.require_ena),
        require_imds_v2: p.require_imds_v2.unwrap_or(d.require_imds_v2),
        require_deprecation: p.require_deprecation.unwrap_or(d.require_deprecation),
        boot_mode: p.boot_mode,
        required_tags: p
            .required_tags
            .into_iter()
            .map(|(k, v)| (k, (!v.is_empty()).then_some(v)))
            .collect(),
    };

    let d = Launch::default();
    let l = r.launch.unwrap_or_default();
    let mut security_groups = BTreeMap::new();
    for (region, groups) in l.security_groups {
        let ids: Vec<String> = groups
            .split(',')
            .map(str::trim)
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            errs.push(format!(
                "launch.security_groups[{region:?}]: empty; give sg-… ids, comma-separated, or leave the region out"
            ));
        }
        security_groups.insert(region, ids);
    }
    let launch = Launch {
        enabled: l.enabled.unwrap_or(d.enabled),
        instance_types: if l.instance_types.is_empty() {
            d.instance_types
        } else {
            l.instance_types
        },
        subnets: l.subnets.into_iter().collect(),
        security_groups,
        user_data: l.user_data,
        timeout: nonzero(l.timeout_seconds, Duration::from_secs(1), d.timeout),
        max_parallel: if l.max_parallel == 0 {
            d.max_parallel
        } else {
            l.max_parallel as usize
        },
        poll: nonzero(l.poll_millis, Duration::from_millis(1), d.poll),
    };

    let g = r.guest.unwrap_or_default();
    let transport = match g.transport.as_str() {
        "" | "ssm" => Transport::Ssm,
        "ssh" => Transport::Ssh,
        "none" => Transport::None,
        other => {
            errs.push(format!(
                "guest.transport: {other:?}: use ssm (the default), ssh or none"
            ));
            Transport::default()
        }
    };
    let guest = Guest {
        transport,
        ssh_user: given(g.ssh_user),
        ssh_host: given(g.ssh_host),
        ssh_private_key_file: given(g.ssh_private_key_file).map(Into::into),
        ssh_key_pair_name: given(g.ssh_key_pair_name),
        profile_file: given(g.profile_file).map(Into::into),
        ssh_cidr: given(g.ssh_cidr),
        instance_profile: given(g.instance_profile),
        checks: g
            .checks
            .into_iter()
            .map(|c| UserCheck {
                name: c.name,
                command: c.command,
                expect_exit: c.expect_exit,
                expect_output: given(c.expect_output),
            })
            .collect(),
    };

    let req = Request {
        targets,
        policy,
        launch,
        guest,
        run_id: r.run_id,
    };
    if let Err(BadInput(found)) = req.check() {
        errs.extend(
            found
                .into_iter()
                // an unreadable manifest already says why there is nothing to validate
                .filter(|e| !(manifest_failed && e.starts_with("targets: ")))
                .map(|e| proto_field(e, &from_manifest)),
        );
    }
    if errs.is_empty() {
        Ok(req)
    } else {
        Err(BadInput(errs))
    }
}

/// The manifest in `manifest_json`, or why not (named by that field).
fn manifest(bytes: &[u8]) -> Result<Manifest, String> {
    use crate::request::ManifestProblem as P;
    crate::request::manifest_from_json(bytes).map_err(|p| match p {
        P::NotAManifest(e) => format!("manifest_json: not a replicate manifest: {e}"),
        P::Edited => "manifest_json: its sha256 does not match its content (edited or truncated?); send the file replicate wrote".into(),
        P::DryRun => {
            "manifest_json: the manifest records a dry run: there are no AMIs to validate".into()
        }
    })
}

/// `targets[i]…` of the combined list, renamed to the proto field it came from: the manifest's
/// `regions["eu-west-1"]` or the request's own `targets[i - n]`.
fn proto_field(e: String, from_manifest: &[String]) -> String {
    let Some(rest) = e.strip_prefix("targets[") else {
        return e;
    };
    let Some((i, rest)) = rest.split_once(']') else {
        return e;
    };
    let Ok(i) = i.parse::<usize>() else {
        return e;
    };
    match from_manifest.get(i) {
        Some(region) => format!("manifest_json: regions[{region:?}]{rest}"),
        None => format!("targets[{}]{rest}", i - from_manifest.len()),
    }
}

fn given(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn nonzero(n: u32, unit: Duration, default: Duration) -> Duration {
    if n == 0 { default } else { unit * n }
}

fn target(t: pb::Target) -> Result<Target, amiforge_model::strategy::UnknownStrategy> {
    let e = t.expect.unwrap_or_default();
    let strategy = e.strategy.map(|s| s.parse()).transpose()?;
    Ok(Target {
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
    })
}

/// The `ValidateRequest` for a request (explicit targets; durations in whole seconds and
/// milliseconds). [`request`] turns it back into the same request.
pub fn to_proto(r: &Request) -> pb::ValidateRequest {
    let l = &r.launch;
    let g = &r.guest;
    let text = |o: &Option<String>| o.clone().unwrap_or_default();
    let path = |o: &Option<std::path::PathBuf>| {
        o.as_ref()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    pb::ValidateRequest {
        manifest_json: Vec::new(),
        targets: r
            .targets
            .iter()
            .map(|t| pb::Target {
                region: t.region.clone(),
                ami: t.ami.clone(),
                expect: Some(pb::Expect {
                    kms_key: t.expect.kms_key.clone(),
                    sharing: t.expect.sharing.as_ref().map(|s| pb::Sharing {
                        account_ids: s.account_ids.clone(),
                        org_arns: s.org_arns.clone(),
                        ou_arns: s.ou_arns.clone(),
                        public: s.public,
                    }),
                    tags: t.expect.tags.clone().into_iter().collect(),
                    deprecation_time: t.expect.deprecation_time.clone(),
                    strategy: t.expect.strategy.map(|s| s.to_string()),
                    profile_sha256: t.expect.profile_sha256.clone(),
                    report_sha256: t.expect.report_sha256.clone(),
                    profile: t.expect.profile.clone(),
                }),
            })
            .collect(),
        policy: Some(pb::Policy {
            require_encrypted: Some(r.policy.require_encrypted),
            require_ena: Some(r.policy.require_ena),
            require_imds_v2: Some(r.policy.require_imds_v2),
            require_deprecation: Some(r.policy.require_deprecation),
            boot_mode: r.policy.boot_mode.clone(),
            required_tags: r
                .policy
                .required_tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().unwrap_or_default()))
                .collect(),
        }),
        launch: Some(pb::Launch {
            enabled: Some(l.enabled),
            instance_types: l.instance_types.clone(),
            subnets: l.subnets.clone().into_iter().collect(),
            security_groups: l
                .security_groups
                .iter()
                .map(|(k, v)| (k.clone(), v.join(",")))
                .collect(),
            user_data: l.user_data.clone(),
            timeout_seconds: u32::try_from(l.timeout.as_secs()).unwrap_or(u32::MAX),
            max_parallel: u32::try_from(l.max_parallel).unwrap_or(u32::MAX),
            poll_millis: u32::try_from(l.poll.as_millis()).unwrap_or(u32::MAX),
        }),
        guest: Some(pb::Guest {
            transport: match g.transport {
                Transport::Ssm => "ssm",
                Transport::Ssh => "ssh",
                Transport::None => "none",
            }
            .into(),
            ssh_user: text(&g.ssh_user),
            ssh_host: text(&g.ssh_host),
            ssh_private_key_file: path(&g.ssh_private_key_file),
            ssh_key_pair_name: text(&g.ssh_key_pair_name),
            profile_file: path(&g.profile_file),
            ssh_cidr: text(&g.ssh_cidr),
            instance_profile: text(&g.instance_profile),
            checks: g
                .checks
                .iter()
                .map(|c| pb::UserCheck {
                    name: c.name.clone(),
                    command: c.command.clone(),
                    expect_exit: c.expect_exit,
                    expect_output: text(&c.expect_output),
                })
                .collect(),
        }),
        run_id: r.run_id.clone(),
    }
}

/// Bad input as the gRPC status: `INVALID_ARGUMENT`, every problem on its own line.
pub fn invalid(e: &BadInput) -> tonic::Status {
    tonic::Status::invalid_argument(format!("bad request:\n{e}"))
}

pub fn status(s: Status) -> pb::Status {
    match s {
        Status::Passed => pb::Status::Passed,
        Status::Failed => pb::Status::Failed,
        Status::Error => pb::Status::Error,
        Status::Skipped => pb::Status::Skipped,
    }
}

pub fn verdict(v: Verdict) -> pb::Verdict {
    match v {
        Verdict::Passed => pb::Verdict::Passed,
        Verdict::GateFailed => pb::Verdict::GateFailed,
        Verdict::BadInput => pb::Verdict::BadInput,
        Verdict::InfrastructureError => pb::Verdict::InfrastructureError,
    }
}

/// A run event on the stream. (The server sends the run's last event, the verdict, from the
/// report instead: [`final_verdict`].)
pub fn event(e: &Event) -> pb::ValidateEvent {
    use pb::validate_event::Event as E;
    let ev = match e {
        Event::Started {
            run_id,
            targets,
            instances,
        } => E::Started(pb::Started {
            run_id: run_id.clone(),
            targets: u32::try_from(*targets).unwrap_or(u32::MAX),
            instances: u32::try_from(*instances).unwrap_or(u32::MAX),
        }),
        Event::Launched {
            region,
            ami,
            instance_type,
            instance_id,
        } => E::Launched(pb::Launched {
            region: region.clone(),
            ami: ami.clone(),
            instance_type: instance_type.clone(),
            instance_id: instance_id.clone(),
        }),
        Event::Check {
            region,
            ami,
            instance_type,
            check,
        } => E::Check(pb::CheckResult {
            region: region.clone(),
            ami: ami.clone(),
            instance_type: instance_type.clone().unwrap_or_default(),
            name: check.name.clone(),
            status: status(check.status).into(),
            expected: check.expected.clone(),
            found: check.found.clone(),
            message: check.message.clone(),
            seconds: check.seconds,
            line: e.line(),
        }),
        Event::CleanedUp { region, resource } => E::CleanedUp(pb::CleanedUp {
            region: region.clone(),
            resource: resource.clone(),
        }),
        Event::Verdict {
            verdict: v,
            summary,
        } => E::Verdict(pb::VerdictEvent {
            verdict: verdict(*v).into(),
            summary: summary.clone(),
            report_json: Vec::new(),
        }),
    };
    pb::ValidateEvent { event: Some(ev) }
}

/// The stream's last event: the verdict with the whole report as `run --json` writes it.
pub fn final_verdict(r: &Report) -> pb::ValidateEvent {
    pb::ValidateEvent {
        event: Some(pb::validate_event::Event::Verdict(pb::VerdictEvent {
            verdict: verdict(r.verdict).into(),
            summary: r.summary.clone(),
            report_json: r.to_json(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Check;

    const AMI: &str = "ami-0123456789abcdef0";

    fn one(region: &str, ami: &str) -> pb::Target {
        pb::Target {
            region: region.into(),
            ami: ami.into(),
            expect: None,
        }
    }

    #[test]
    fn unset_fields_take_the_model_defaults() {
        let r = request(pb::ValidateRequest {
            targets: vec![one("eu-west-1", AMI)],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(r.policy, Policy::default());
        assert_eq!(r.launch, Launch::default());
        assert_eq!(r.guest, Guest::default());
        assert_eq!(r.targets[0].expect, Expect::default());
    }

    #[test]
    fn a_request_survives_the_round_trip() {
        let mut r = request(pb::ValidateRequest {
            targets: vec![one("eu-west-1", AMI), one("us-west-2", AMI)],
            ..Default::default()
        })
        .unwrap();
        r.targets[0].expect.kms_key = Some("alias/images".into());
        r.targets[0].expect.sharing = Some(Sharing {
            account_ids: vec!["111122223333".into()],
            ..Sharing::default()
        });
        r.targets[1].expect.tags = BTreeMap::from([("team".into(), "platform".into())]);
        r.targets[1].expect.strategy = Some(amiforge_model::Strategy::Hybrid);
        r.policy.require_ena = false;
        r.policy.boot_mode = Some("uefi".into());
        r.policy.required_tags = BTreeMap::from([
            ("owner".into(), None),
            ("team".into(), Some("platform".into())),
        ]);
        r.launch.instance_types = vec!["t3.micro".into(), "m7g.large".into()];
        r.launch.security_groups =
            BTreeMap::from([("eu-west-1".into(), vec!["sg-1".into(), "sg-2".into()])]);
        r.launch.subnets = BTreeMap::from([("us-west-2".into(), "subnet-1".into())]);
        r.launch.timeout = Duration::from_secs(300);
        r.launch.poll = Duration::from_millis(250);
        r.launch.max_parallel = 3;
        r.launch.user_data = Some("#!/bin/sh\n".into());
        r.guest.transport = Transport::Ssh;
        r.guest.ssh_user = Some("admin".into());
        let key = tempfile::NamedTempFile::new().unwrap();
        r.guest.ssh_private_key_file = Some(key.path().to_path_buf());
        r.guest.ssh_key_pair_name = Some("ci-key".into());
        r.guest.ssh_cidr = Some("10.0.0.0/16".into());
        r.guest.instance_profile = Some("validator-ssm".into());
        r.guest.checks = vec![UserCheck {
            name: "nginx".into(),
            command: "systemctl is-active nginx".into(),
            expect_exit: 0,
            expect_output: Some("^active".into()),
        }];
        r.run_id = "ci-42".into();
        assert_eq!(request(to_proto(&r)).unwrap(), r);
    }

    #[test]
    fn every_bad_field_is_named_by_its_proto_name() {
        let e = request(pb::ValidateRequest {
            targets: vec![one("eu-west-1", AMI), one("eu_west_1", "ami-xyz")],
            launch: Some(pb::Launch {
                instance_types: vec!["t3micro".into()],
                security_groups: [("eu-west-1".to_string(), " , ".to_string())].into(),
                ..Default::default()
            }),
            guest: Some(pb::Guest {
                transport: "telnet".into(),
                ..Default::default()
            }),
            policy: Some(pb::Policy {
                boot_mode: Some("bios".into()),
                ..Default::default()
            }),
            ..Default::default()
        })
        .unwrap_err()
        .0;
        let want = [
            "launch.security_groups[\"eu-west-1\"]: empty",
            "guest.transport: \"telnet\"",
            "targets[1].region: \"eu_west_1\"",
            "targets[1].ami: \"ami-xyz\"",
            "policy.boot_mode: \"bios\"",
            "launch.instance_types[0]: \"t3micro\"",
        ];
        for w in want {
            assert!(e.iter().any(|m| m.starts_with(w)), "{w} missing in {e:#?}");
        }
        assert_eq!(e.len(), want.len(), "{e:#?}");
        let s = invalid(&BadInput(e));
        assert_eq!(s.code(), tonic::Code::InvalidArgument);
        assert!(s.message().contains("targets[1].ami"), "{s:?}");
    }

    #[test]
    fn a_bad_manifest_is_named_and_its_regions_too() {
        let e = request(pb::ValidateRequest {
            manifest_json: b"{\"not\": 1}".to_vec(),
            ..Default::default()
        })
        .unwrap_err()
        .0;
        assert_eq!(e.len(), 1, "{e:#?}");
        assert!(
            e[0].starts_with("manifest_json: not a replicate manifest"),
            "{e:#?}"
        );
        assert_eq!(
            proto_field(
                "targets[1].ami: \"x\" is not an AMI id".into(),
                &["eu-west-1".into(), "us-west-2".into()]
            ),
            "manifest_json: regions[\"us-west-2\"].ami: \"x\" is not an AMI id"
        );
        assert_eq!(
            proto_field("targets[3]: listed twice".into(), &["eu-west-1".into()]),
            "targets[2]: listed twice"
        );
        let e = request(pb::ValidateRequest::default()).unwrap_err().0;
        assert!(e[0].starts_with("targets: nothing to validate"), "{e:#?}");
    }

    #[test]
    fn check_events_carry_the_cli_line_and_verdicts_the_report() {
        let e = Event::Check {
            region: "eu-west-1".into(),
            ami: AMI.into(),
            instance_type: None,
            check: Check::new("ami.ena", Status::Failed, "supported", "disabled"),
        };
        let Some(pb::validate_event::Event::Check(c)) = event(&e).event else {
            panic!("not a check");
        };
        assert_eq!(c.line, e.line());
        assert_eq!(c.status(), pb::Status::Failed);
        assert_eq!((c.instance_type.as_str(), c.name.as_str()), ("", "ami.ena"));
        let report = crate::run::refused(&BadInput(vec!["x: bad".into()]));
        let Some(pb::validate_event::Event::Verdict(v)) = final_verdict(&report).event else {
            panic!("not a verdict");
        };
        assert_eq!(v.verdict(), pb::Verdict::BadInput);
        let back: Report = serde_json::from_slice(&v.report_json).unwrap();
        assert_eq!(back, report);
    }
}
