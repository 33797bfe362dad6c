//! What a run owns, against the AWS emulator (eventual-consistency mode, as every emulator of
//! the suite): a live run is never swept, since it renews its lease; an instance someone else
//! terminates (a forced sweep, a person) gives no verdict, never GATE_FAILED; a cancel while
//! RunInstances is slowed, or a RunInstances whose answer is lost, leaves no instance, security
//! group or key pair, because the run looks up what its interrupted creates made; a run that
//! could not remove something gives up its lease on it, so `sweep --run-id` takes it at once.

mod support;

use std::time::{Duration, Instant};

use amiforge_aws::client::Clients;
use amiforge_aws::instances;
use amiforge_e2e::emulator::{self, Emulator};
use amiforge_model::manifest::Manifest;
use amiforge_model::tags;
use amiforge_validator::events::Sink;
use amiforge_validator::lease::Term;
use amiforge_validator::sweep::{self, Scope, Select};
use amiforge_validator_api::report::{Report, Status, Verdict};
use amiforge_validator_api::{Guest, Launch, Policy, Request, Transport, UserCheck};
use support::{assert_nothing_left, clients, release};
use tokio_util::sync::CancellationToken;

const REGION: &str = "eu-west-1";

fn request(m: &Manifest, run_id: &str) -> Request {
    Request {
        targets: amiforge_validator_api::request::manifest::targets(m),
        policy: Policy::default(),
        launch: Launch {
            poll_interval: Duration::from_millis(200),
            timeout: Duration::from_secs(40),
            ..Launch::default()
        },
        guest: Default::default(),
        run_id: run_id.into(),
    }
}

/// Runs `req` with a lease of `lease`.
async fn validate(c: &Clients, req: Request, lease: Duration, cancel: CancellationToken) -> Report {
    amiforge_validator::run::run_leased(c, req, Sink::none(), cancel, None, Term::new(lease))
        .await
        .unwrap()
}

/// Waits until the emulator launched `n` instances and shows them.
async fn launched(emu: &Emulator, n: usize) {
    let t = Instant::now();
    while emu
        .log()
        .iter()
        .filter(|e| e["action"] == "RunInstances" && e["status"] == 200)
        .count()
        < n
    {
        assert!(t.elapsed() < Duration::from_secs(60), "no launch");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    emu.settle();
}

/// The run's instances that are not terminated, and every resource of it, by its tag.
async fn of_run(c: &Clients, run: &str) -> instances::Tagged {
    instances::find_tagged(c, REGION, tags::VALIDATOR_RUN, run)
        .await
        .unwrap()
}

fn check<'a>(r: &'a Report, name: &str) -> &'a amiforge_validator_api::report::Check {
    r.suites
        .iter()
        .flat_map(|s| &s.checks)
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name}: {r:#?}"))
}

fn no_failed_check(r: &Report) {
    let failed: Vec<_> = r
        .suites
        .iter()
        .flat_map(|s| &s.checks)
        .filter(|c| c.status == Status::Failed)
        .collect();
    assert!(
        failed.is_empty(),
        "an AMI failure was reported: {failed:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_run_is_never_swept_while_it_renews_its_lease() {
    let emu = Emulator::start(0.0);
    // the run lives ~7 s after its launch, more than twice its 3 s lease: only renewals keep it
    emu.configure(&serde_json::json!({"launch_seconds": 3, "status_seconds": 4}));
    let c = clients(&emu).await;
    let m = release(&c, &[REGION]).await;
    let regions = vec![REGION.to_string()];
    let cancel = CancellationToken::new();
    let run = validate(&c, request(&m, "live-run"), Duration::from_secs(3), cancel);
    let sweeping = async {
        launched(&emu, 1).await;
        let until = Instant::now() + Duration::from_secs(6);
        let mut swept = Vec::new();
        let mut seen = 0;
        while Instant::now() < until {
            for scope in [Scope::Expired, Scope::All, Scope::Run("live-run".into())] {
                let s = sweep::sweep(
                    &c,
                    &regions,
                    &Select::new(scope.clone()),
                    false,
                    Duration::from_millis(200),
                    &Sink::none(),
                )
                .await
                .unwrap();
                swept.extend(s.found.into_values());
            }
            // the run's resources are there to be taken (a dry, forced look sees them)
            let forced = sweep::sweep(
                &c,
                &regions,
                &Select::new(Scope::Run("live-run".into())).forced(true),
                true,
                Duration::from_millis(200),
                &Sink::none(),
            )
            .await
            .unwrap();
            seen = seen.max(forced.found.get(REGION).map_or(0, |f| f.instances.len()));
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        (swept, seen)
    };
    let (r, (swept, seen)) = tokio::join!(run, sweeping);
    assert!(
        swept.is_empty(),
        "a plain sweep took a live run's resources: {swept:?}"
    );
    assert_eq!(seen, 1, "the live run's instance was visible to the sweeps");
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    if emulator::consistency().is_some() {
        assert!(
            emu.log().iter().any(|e| e["outcome"] == "consistency"),
            "the emulator hid new ids from the run, and it rode that out"
        );
    }
    assert_nothing_left(&c, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_instance_someone_else_terminates_has_no_verdict() {
    let emu = Emulator::start(0.0);
    emu.configure(&serde_json::json!({"launch_seconds": 3, "status_seconds": 1}));
    let c = clients(&emu).await;
    let m = release(&c, &[REGION]).await;
    let run = validate(
        &c,
        request(&m, "victim-run"),
        Duration::from_secs(60),
        CancellationToken::new(),
    );
    let terminate = async {
        launched(&emu, 1).await;
        let ids: Vec<String> = of_run(&c, "victim-run")
            .await
            .instances
            .into_iter()
            .map(|i| i.id)
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");
        // someone else: a person, a script (not the run)
        c.ec2(REGION)
            .terminate_instances()
            .set_instance_ids(Some(ids))
            .send()
            .await
            .unwrap();
    };
    let (r, ()) = tokio::join!(run, terminate);
    assert_eq!(r.verdict, Verdict::InfrastructureError, "{r:#?}");
    no_failed_check(&r);
    let launch = check(&r, "instance.launch");
    assert_eq!(launch.status, Status::Error, "{launch:?}");
    assert!(
        launch.message.contains("no verdict on the AMI"),
        "{launch:?}"
    );
    assert_nothing_left(&c, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forced_sweep_of_a_live_run_gives_no_verdict_not_gate_failed() {
    let emu = Emulator::start(0.0);
    // running at once; both status checks take long: the sweep comes while they are awaited
    emu.configure(&serde_json::json!({"launch_seconds": 0, "status_seconds": 8}));
    let c = clients(&emu).await;
    let m = release(&c, &[REGION]).await;
    let regions = vec![REGION.to_string()];
    let run = validate(
        &c,
        request(&m, "swept-run"),
        Duration::from_secs(60),
        CancellationToken::new(),
    );
    let sweep = async {
        launched(&emu, 1).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let scope = Scope::Run("swept-run".into());
        sweep::sweep(
            &c,
            &regions,
            &Select::new(scope.clone()).forced(true),
            false,
            Duration::from_millis(200),
            &Sink::none(),
        )
        .await
        .unwrap()
    };
    let (r, swept) = tokio::join!(run, sweep);
    assert_eq!(swept.cleanup.instances.len(), 1, "{swept:?}");
    assert_eq!(r.verdict, Verdict::InfrastructureError, "{r:#?}");
    no_failed_check(&r);
    assert_eq!(check(&r, "instance.status-checks").status, Status::Error);
    assert_nothing_left(&c, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_during_a_slowed_run_instances_leaves_no_instance_group_or_key_pair() {
    let emu = Emulator::start(0.0);
    // new ids hidden for 0.2 s exactly: the slowed RunInstances is under way 1.5 s after the key
    // pair was made, and done 4 s later
    emu.configure(&serde_json::json!({
        "consistency": {"min_seconds": 0.2, "max_seconds": 0.2},
        "faults": [{"action": "RunInstances", "kind": "latency", "latency_ms": 4000}]
    }));
    let c = clients(&emu).await;
    let m = release(&c, &[REGION]).await;
    let mut req = request(&m, "cancelled-run");
    // SSH in-guest checks: the run makes a key pair and a security group before launching
    req.guest = Guest {
        transport: Transport::Ssh,
        ssh_host: Some("127.0.0.1:9".into()),
        ssh_cidr: Some("127.0.0.1/32".into()),
        check: vec![UserCheck {
            name: "true".into(),
            command: "true".into(),
            expect_exit: 0,
            expect_output: None,
        }],
        ..Guest::default()
    };
    let cancel = CancellationToken::new();
    let run = validate(&c, req, Duration::from_secs(60), cancel.clone());
    let interrupt = async {
        let t = Instant::now();
        while emu.count("CreateKeyPair", Some("ok")) == 0 {
            assert!(t.elapsed() < Duration::from_secs(30), "no key pair made");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            emu.count("RunInstances", Some("latency+ok")),
            0,
            "still in flight"
        );
        cancel.cancel();
    };
    let (r, ()) = tokio::join!(run, interrupt);
    assert_eq!(r.verdict, Verdict::InfrastructureError, "{r:#?}");
    assert_eq!(
        emu.count("RunInstances", Some("latency+ok")),
        1,
        "the cancelled launch did start an instance"
    );
    assert_eq!(
        r.cleanup.instances.len(),
        1,
        "found by its client token: {r:#?}"
    );
    assert_eq!(r.cleanup.security_groups.len(), 1, "{r:#?}");
    assert_eq!(r.cleanup.key_pairs.len(), 1, "{r:#?}");
    assert!(r.cleanup.errors.is_empty(), "{r:#?}");
    emu.settle();
    let left = of_run(&c, "cancelled-run").await;
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert_nothing_left(&c, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_launch_whose_answer_is_lost_leaves_no_instance() {
    let emu = Emulator::start(0.0);
    // AWS launches the instance, the answer says only "unavailable" (not retried by the SDK)
    emu.configure(&serde_json::json!({"faults": [{
        "action": "RunInstances", "kind": "error", "code": "Unavailable", "status": 400,
        "after": true, "times": 1
    }]}));
    let c = clients(&emu).await;
    let m = release(&c, &[REGION]).await;
    let r = validate(
        &c,
        request(&m, "lost-run"),
        Duration::from_secs(60),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::InfrastructureError, "{r:#?}");
    assert_eq!(emu.count("RunInstances", Some("error-after")), 1);
    assert_eq!(check(&r, "instance.launch").status, Status::Error);
    assert_eq!(
        r.cleanup.instances.len(),
        1,
        "looked up by its client token: {r:#?}"
    );
    assert_nothing_left(&c, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_cannot_clean_up_gives_up_its_lease_on_what_is_left() {
    let emu = Emulator::start(0.0);
    emu.configure(&serde_json::json!({"faults": [{
        "action": "DeleteSecurityGroup", "kind": "error", "code": "UnauthorizedOperation",
        "status": 403
    }]}));
    let c = clients(&emu).await;
    let m = release(&c, &[REGION]).await;
    let r = validate(
        &c,
        request(&m, "stuck-run"),
        Duration::from_secs(600),
        CancellationToken::new(),
    )
    .await;
    assert_eq!(r.verdict, Verdict::InfrastructureError, "{r:#?}");
    assert_eq!(r.cleanup.errors.len(), 1, "{r:#?}");
    assert!(
        r.summary.contains("sweep --run-id stuck-run"),
        "{}",
        r.summary
    );
    // the hint works at once: the run is over, its 10-minute lease was given up
    emu.configure(&serde_json::json!({"faults": []}));
    emu.settle();
    let regions = vec![REGION.to_string()];
    let s = sweep::sweep(
        &c,
        &regions,
        &Select::new(Scope::Run("stuck-run".into())),
        false,
        Duration::from_millis(200),
        &Sink::none(),
    )
    .await
    .unwrap();
    assert_eq!(s.cleanup.security_groups.len(), 1, "{s:?}");
    assert_nothing_left(&c, &[REGION]).await;
}
