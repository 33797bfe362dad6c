//! In-guest checks: what runs inside a test instance (or any host reached over SSH) once it is
//! up. [`Plan::for_target`] decides what to check for an AMI; [`run_checks`] runs it through a
//! [`Transport`]: `guest.connect` (root shell reached), `guest.user-data` (the launch's user
//! data ran to completion, for hybrid/os-only images), `guest.evidence` (the build's report is on
//! the image, byte-exact), `guest.hardening` (the profile re-run in audit mode: what held at
//! build time holds now), `guest.user:<name>` (the user's commands).
//!
//! | module | owns |
//! |---|---|
//! | [`transport`] | the [`Transport`] trait (run a script as root) and its [`Output`] |
//! | [`ssh`] | the system `ssh` client: options, `sudo -n`, retries while sshd comes up; addresses |
//! | [`ssm`] | SSM Run Command: registration retries, polling, cut output as an error |
//! | [`exec`] | wrapping payloads (markers, exit code, staging) and byte-exact file reads |
//! | [`evidence`] | `guest.evidence` |
//! | [`audit`] | `guest.hardening` |
//! | [`user`] | `guest.user:<name>` |
//! | [`userdata`] | `guest.user-data` |
//! | [`session`] | a run's private keys and known-hosts files; the key pair per region |
//! | [`instance`] | reaching a launched test instance (address, transport) |
//! | [`inventory`] | what is really installed (facts + packages with source packages), for the security scan |
//! | [`host`] | `check`: the same checks against an existing host, no AWS |

pub mod audit;
pub mod evidence;
pub mod exec;
pub mod host;
pub mod instance;
pub mod inventory;
pub mod session;
pub mod ssh;
pub mod ssm;
pub mod transport;
pub mod user;
pub mod userdata;

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use transport::{Output, Transport};

use amiforge_validator_api::report::{Check, Status};
use amiforge_validator_api::{Request, Target, UserCheck};

/// What the build's hardening is expected to be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hardening {
    /// sha256 of the report the build wrote (the evidence must be those bytes), when known.
    pub report_sha256: Option<String>,
    /// sha256 of the profile the build used, when known.
    pub profile_sha256: Option<String>,
}

/// What to check inside one guest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Check the evidence and re-audit; `None`: hardening is not checked.
    pub hardening: Option<Hardening>,
    /// Why hardening is not checked although in-guest checks were asked for (reported as a
    /// skipped `guest.hardening`).
    pub no_hardening: Option<String>,
    /// Audit with this profile file instead of the built-in the report names.
    /// Audit with this profile (its text) instead of the built-in the report names.
    pub profile: Option<String>,
    pub checks: Vec<UserCheck>,
    /// Wait at most this long for the launch's user data to finish (`None`: no user data given).
    pub user_data: Option<Duration>,
    /// Why the user data is not checked although the image configures at launch (a skipped
    /// `guest.user-data`).
    pub no_user_data: Option<String>,
}

impl Plan {
    /// The plan for one AMI of a run; `None` when nothing in its guest is to be checked
    /// (transport `none`, or no hardening recorded and no in-guest checks asked for).
    pub fn for_target(req: &Request, t: &Target) -> Option<Plan> {
        let g = &req.guest;
        if g.transport == amiforge_validator_api::Transport::None {
            return None;
        }
        let e = &t.expect;
        let expected =
            e.report_sha256.is_some() || e.profile_sha256.is_some() || e.profile.is_some();
        // SSH is never the default: choosing it asks for in-guest checks
        let user_data = req.launch.user_data.is_some();
        let asked = !g.check.is_empty()
            || g.profile.is_some()
            || user_data
            || g.transport == amiforge_validator_api::Transport::Ssh;
        if !expected && !asked {
            return None;
        }
        Some(Plan {
            hardening: expected.then(|| Hardening {
                report_sha256: e.report_sha256.clone(),
                profile_sha256: e.profile_sha256.clone(),
            }),
            no_hardening: (!expected).then(|| {
                format!(
                    "no hardening is recorded for {} (its manifest has no hardening digests): \
                     the image carries no hardening evidence to check{}",
                    t.ami,
                    if g.check.is_empty() {
                        "; nothing else was asked to run in the guest"
                    } else {
                        "; only the user checks ran"
                    }
                )
            }),
            profile: g.profile.clone(),
            checks: g.check.clone(),
            user_data: user_data.then_some(req.launch.timeout),
            no_user_data: match e.strategy {
                Some(s) if s.configures_at_launch() && !user_data => Some(format!(
                    "a {s} image finishes its configuration at launch, but no user data was given \
                     to exercise it (give the user data deployments pass)"
                )),
                _ => None,
            },
        })
    }

    /// Whether anything has to run in the guest (else no connection is made).
    pub fn needs_guest(&self) -> bool {
        self.hardening.is_some() || !self.checks.is_empty() || self.user_data.is_some()
    }
}

/// Whether any AMI of `req` needs a connection to its test instances (the request's own rule,
/// which its checks use too; [`Plan::for_target`] agrees: a test holds them equal).
pub fn needs_guest(req: &Request) -> bool {
    req.connects_to_guests()
}

/// Every check's name in the order [`run_checks`] reports them.
pub fn check_names(plan: &Plan) -> Vec<String> {
    let mut v = Vec::new();
    if plan.needs_guest() {
        v.push("guest.connect".to_string());
    }
    if plan.user_data.is_some() || plan.no_user_data.is_some() {
        v.push(userdata::NAME.to_string());
    }
    if plan.hardening.is_some() || plan.no_hardening.is_some() {
        if plan.hardening.is_some() {
            v.push("guest.evidence".to_string());
        }
        v.push("guest.hardening".to_string());
    }
    v.extend(plan.checks.iter().map(user::name));
    v
}

/// The same checks, skipped for `why` (the guest was never reached).
pub fn skipped(plan: &Plan, why: &str) -> Vec<Check> {
    check_names(plan)
        .iter()
        .map(|n| Check::new(n, Status::Skipped, "", "").with_message(why))
        .collect()
}

/// `guest.connect`: a root shell on the guest answers.
async fn connect<T: Transport>(t: &T) -> Check {
    const N: &str = "guest.connect";
    let want = "a root shell";
    match exec::run_root(t, "id -u", false).await {
        Ok(o) if o.exit == 0 && o.stdout.trim() == "0" => {
            Check::new(N, Status::Passed, want, format!("root on {}", t.describe()))
        }
        Ok(o) => Check::new(N, Status::Error, want, format!("uid {}", o.stdout.trim()))
            .with_message(format!(
                "{}: `id -u` exited {}: {}",
                t.describe(),
                o.exit,
                transport::last_line(&o.stderr)
            )),
        Err(e) => Check::new(N, Status::Error, want, "unreachable").with_message(e),
    }
}

/// Runs `plan` on the guest behind `t`, each check timed; stops (the rest as errors) when
/// `cancel` fires.
pub async fn run_checks<T: Transport>(
    t: &T,
    plan: &Plan,
    cancel: &CancellationToken,
) -> Vec<Check> {
    let mut out: Vec<Check> = Vec::new();
    let timed = |mut c: Check, since: Instant| {
        c.seconds = since.elapsed().as_secs_f64();
        c
    };
    let interrupted = |out: &[Check]| -> Vec<Check> {
        check_names(plan)
            .into_iter()
            .skip(out.len())
            .map(|n| Check::new(&n, Status::Error, "", "").with_message("interrupted"))
            .collect()
    };
    if plan.needs_guest() {
        let since = Instant::now();
        let c = tokio::select! {
            c = connect(t) => c,
            _ = cancel.cancelled() => return interrupted(&out),
        };
        let reached = c.status == Status::Passed;
        out.push(timed(c, since));
        if !reached {
            let why = format!("the guest was not reached ({})", t.describe());
            out.extend(skipped(plan, &why).into_iter().skip(1));
            return out;
        }
    }
    if let Some(wait) = plan.user_data {
        let since = Instant::now();
        let c = tokio::select! {
            c = userdata::check(t, wait) => c,
            _ = cancel.cancelled() => { out.extend(interrupted(&out)); return out; }
        };
        out.push(timed(c, since));
    } else if let Some(why) = &plan.no_user_data {
        out.push(Check::new(userdata::NAME, Status::Skipped, "", "").with_message(why.clone()));
    }
    if let Some(h) = &plan.hardening {
        let since = Instant::now();
        let (c, bytes) = tokio::select! {
            r = evidence::check(t, h.report_sha256.as_deref()) => r,
            _ = cancel.cancelled() => { out.extend(interrupted(&out)); return out; }
        };
        out.push(timed(c, since));
        let since = Instant::now();
        let c = tokio::select! {
            c = audit::check(t, bytes.as_deref(), h.profile_sha256.as_deref(), plan.profile.as_deref()) => c,
            _ = cancel.cancelled() => { out.extend(interrupted(&out)); return out; }
        };
        out.push(timed(c, since));
    } else if let Some(why) = &plan.no_hardening {
        out.push(Check::new("guest.hardening", Status::Skipped, "", "").with_message(why.clone()));
    }
    for uc in &plan.checks {
        let since = Instant::now();
        let c = tokio::select! {
            c = user::check(t, uc) => c,
            _ = cancel.cancelled() => { out.extend(interrupted(&out)); return out; }
        };
        out.push(timed(c, since));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use amiforge_validator_api::{Expect, Guest};

    fn req(guest: Guest, expect: Expect) -> (Request, Target) {
        let t = Target {
            region: "eu-west-1".into(),
            ami: "ami-0123456789abcdef0".into(),
            expect,
        };
        (
            Request {
                targets: vec![t.clone()],
                policy: Default::default(),
                launch: Default::default(),
                guest,
                run_id: String::new(),
            },
            t,
        )
    }

    fn hardened() -> Expect {
        Expect {
            report_sha256: Some("ab".repeat(32)),
            profile_sha256: Some("cd".repeat(32)),
            profile: Some("linux-baseline".into()),
            ..Expect::default()
        }
    }

    #[test]
    fn the_request_rule_for_guest_connections_agrees_with_the_plans() {
        let uc: UserCheck = "t=true".parse().unwrap();
        for transport in [
            amiforge_validator_api::Transport::Ssm,
            amiforge_validator_api::Transport::Ssh,
            amiforge_validator_api::Transport::None,
        ] {
            for expect in [Expect::default(), hardened()] {
                for checks in [vec![], vec![uc.clone()]] {
                    for user_data in [None, Some("#!/bin/sh\n".to_string())] {
                        for launch in [true, false] {
                            let (mut r, _) = req(
                                Guest {
                                    transport,
                                    check: checks.clone(),
                                    ..Guest::default()
                                },
                                expect.clone(),
                            );
                            r.launch.user_data = user_data.clone();
                            r.launch.launch = launch;
                            let by_plans = r.launch.launch
                                && r.targets.iter().any(|t| {
                                    Plan::for_target(&r, t).is_some_and(|p| p.needs_guest())
                                });
                            assert_eq!(needs_guest(&r), by_plans, "{r:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn hardened_amis_are_checked_unless_the_transport_is_none() {
        let (r, t) = req(Guest::default(), hardened());
        let p = Plan::for_target(&r, &t).unwrap();
        assert_eq!(
            p.hardening.as_ref().unwrap().report_sha256,
            Some("ab".repeat(32))
        );
        assert_eq!(
            check_names(&p),
            ["guest.connect", "guest.evidence", "guest.hardening"]
        );
        assert!(needs_guest(&r));
        let (r, t) = req(
            Guest {
                transport: amiforge_validator_api::Transport::None,
                ..Guest::default()
            },
            hardened(),
        );
        assert_eq!(Plan::for_target(&r, &t), None);
        assert!(!needs_guest(&r));
    }

    #[test]
    fn images_configured_at_launch_check_their_user_data_or_say_why_not() {
        let hybrid = Expect {
            strategy: Some(amiforge_model::Strategy::Hybrid),
            ..hardened()
        };
        let (r, t) = req(Guest::default(), hybrid.clone());
        let p = Plan::for_target(&r, &t).unwrap();
        assert_eq!(p.user_data, None);
        assert!(p.no_user_data.as_deref().unwrap().contains("hybrid image"));
        assert_eq!(
            check_names(&p),
            [
                "guest.connect",
                "guest.user-data",
                "guest.evidence",
                "guest.hardening"
            ]
        );
        let (mut r, t) = req(Guest::default(), hybrid);
        r.launch.user_data = Some("#cloud-config\n".into());
        let p = Plan::for_target(&r, &t).unwrap();
        assert_eq!(p.user_data, Some(r.launch.timeout));
        assert_eq!(p.no_user_data, None);
        // a full image needs nothing at launch; user data alone asks for the guest
        let (mut r, t) = req(Guest::default(), Expect::default());
        r.launch.user_data = Some("#!/bin/sh\n".into());
        let p = Plan::for_target(&r, &t).unwrap();
        assert!(p.needs_guest());
        assert_eq!(check_names(&p)[..2], ["guest.connect", "guest.user-data"]);
    }

    #[test]
    fn an_unhardened_ami_is_only_checked_when_asked_and_then_says_why() {
        let (r, t) = req(Guest::default(), Expect::default());
        assert_eq!(
            Plan::for_target(&r, &t),
            None,
            "SSM by default: nothing asked"
        );
        let (r, t) = req(
            Guest {
                transport: amiforge_validator_api::Transport::Ssh,
                ..Guest::default()
            },
            Expect::default(),
        );
        let p = Plan::for_target(&r, &t).unwrap();
        assert!(!p.needs_guest());
        assert!(
            p.no_hardening
                .as_deref()
                .unwrap()
                .contains("no hardening is recorded for ami-0123456789abcdef0")
        );
        assert_eq!(check_names(&p), ["guest.hardening"]);
        let uc = UserCheck {
            name: "nginx".into(),
            command: "true".into(),
            expect_exit: 0,
            expect_output: None,
        };
        let (r, t) = req(
            Guest {
                check: vec![uc],
                ..Guest::default()
            },
            Expect::default(),
        );
        let p = Plan::for_target(&r, &t).unwrap();
        assert_eq!(
            check_names(&p),
            ["guest.connect", "guest.hardening", "guest.user:nginx"]
        );
        assert!(p.no_hardening.unwrap().contains("only the user checks ran"));
    }
}
