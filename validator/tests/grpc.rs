//! The gRPC Validate API against the AWS emulator: a client streams a passing run over a unix
//! socket (and Health answers); bad requests are INVALID_ARGUMENT naming the field; concurrent
//! clients never have more test instances alive than the server's `max_instances`; a client that
//! goes away mid-run leaves nothing behind. Sweep and the real binary's `serve`: grpc_serve.rs.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use support::grpc::{REGION, events, release, request, serve};
use support::{HOME, clients};

use amiforge_aws::client::{Clients, load_for_endpoint};
use amiforge_aws::instances;
use amiforge_e2e::emulator::Emulator;
use amiforge_model::tags;
use amiforge_validator_api::pb;
use amiforge_validator_api::pb::validate_event::Event as E;
use amiforge_validator_api::report::{Report, Verdict};

#[tokio::test(flavor = "multi_thread")]
async fn a_client_streams_a_passing_run_over_a_unix_socket() {
    let emu = Emulator::start(0.0);
    emu.configure(&serde_json::json!({"launch_seconds": 0.3, "status_seconds": 0.3}));
    let c = clients(&emu).await;
    let manifest = release(&c, REGION).await;
    let served = serve(clients(&emu).await, 8).await;
    assert!(served.addr.starts_with("unix:/"), "{}", served.addr);
    let mut client = served.client().await;

    let ev = events(&mut client, request(&manifest, &["t3.micro"]))
        .await
        .unwrap();
    let kinds: Vec<&str> = ev
        .iter()
        .map(|e| match e {
            E::Started(_) => "started",
            E::Launched(_) => "launched",
            E::Check(_) => "check",
            E::CleanedUp(_) => "cleaned-up",
            E::Verdict(_) => "verdict",
        })
        .collect();
    assert_eq!(kinds.first(), Some(&"started"), "{kinds:?}");
    let E::Started(s) = &ev[0] else { panic!() };
    assert_eq!((s.targets, s.instances), (1, 1));
    let at = |k: &str| kinds.iter().position(|x| *x == k).unwrap_or(usize::MAX);
    assert!(
        at("check") < at("launched"),
        "attribute checks come first: {kinds:?}"
    );
    assert!(at("launched") < at("cleaned-up"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "verdict").count(), 1);
    assert_eq!(kinds.last(), Some(&"verdict"), "{kinds:?}");
    let checks: Vec<&pb::CheckResult> = ev
        .iter()
        .filter_map(|e| match e {
            E::Check(c) => Some(c),
            _ => None,
        })
        .collect();
    let status = checks
        .iter()
        .find(|c| c.name == "instance.status-checks")
        .expect("the status checks are reported");
    assert_eq!(status.status(), pb::Status::Passed);
    assert_eq!(status.instance_type, "t3.micro");
    assert!(
        status.line.contains("instance.status-checks PASSED"),
        "{}",
        status.line
    );
    assert!(
        checks
            .iter()
            .all(|c| !c.line.is_empty() && c.region == REGION)
    );
    let E::Verdict(v) = ev.last().unwrap() else {
        panic!()
    };
    assert_eq!(v.verdict(), pb::Verdict::Passed, "{}", v.summary);
    let report: Report = serde_json::from_slice(&v.report_json).expect("report_json parses");
    assert_eq!(report.verdict, Verdict::Passed);
    assert_eq!(report.summary, v.summary);
    let E::Started(s) = &ev[0] else { panic!() };
    assert_eq!(report.run_id, s.run_id);
    assert_eq!(report.cleanup.instances.len(), 1);
    let in_report: usize = report.suites.iter().map(|s| s.checks.len()).sum();
    assert_eq!(in_report, checks.len(), "every check was streamed once");

    let h = client
        .health(pb::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(h.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(
        (h.max_instances, h.instances_in_use, h.runs_in_progress),
        (8, 0, 0)
    );
    support::assert_nothing_left(&c, &[REGION]).await;
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_request_is_invalid_argument_naming_each_field() {
    // refused before AWS is asked anything: no emulator behind this endpoint
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Clients::new(load_for_endpoint(HOME, &format!("http://127.0.0.1:{port}")).await);
    let served = serve(c, 2).await;
    let mut client = served.client().await;
    let bad = pb::ValidateRequest {
        targets: vec![pb::Target {
            region: REGION.into(),
            ami: "ami-nope".into(),
            expect: None,
        }],
        launch: Some(pb::Launch {
            instance_types: vec!["t3.micro".into(), "huge".into()],
            ..Default::default()
        }),
        guest: Some(pb::Guest {
            transport: "carrier-pigeon".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = client.validate(bad).await.expect_err("refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    for field in [
        "targets[0].ami: \"ami-nope\"",
        "launch.instance_types[1]: \"huge\"",
        "guest.transport: \"carrier-pigeon\"",
    ] {
        assert!(
            e.message().contains(field),
            "{field} not in {}",
            e.message()
        );
    }
    let e = client
        .validate(pb::ValidateRequest {
            manifest_json: b"{}".to_vec(),
            ..Default::default()
        })
        .await
        .expect_err("refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message()
            .contains("manifest_json: not a replicate manifest"),
        "{}",
        e.message()
    );
    let e = client
        .sweep(pb::SweepRequest {
            regions: vec!["mars-1".into()],
            run_id: "r".into(),
            all: true,
            dry_run: true,
            force: false,
        })
        .await
        .expect_err("refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(
        e.message().contains("regions[0]: \"mars-1\""),
        "{}",
        e.message()
    );
    assert!(e.message().contains("all: give run_id"), "{}", e.message());
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_clients_share_the_instance_limit() {
    let emu = Emulator::start(0.0);
    // each instance lives long enough to be listed (a new one is hidden for up to 1 s)
    emu.configure(&serde_json::json!({"launch_seconds": 1.0, "status_seconds": 1.5}));
    let c = Arc::new(clients(&emu).await);
    let manifest = release(&c, REGION).await;
    let served = serve(clients(&emu).await, 2).await;

    // watch what is alive, from outside the server (the emulator) and from its Health
    let done = Arc::new(AtomicBool::new(false));
    let peak_alive = Arc::new(AtomicUsize::new(0));
    let peak_in_use = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (c, done, peak_alive, peak_in_use) = (
            c.clone(),
            done.clone(),
            peak_alive.clone(),
            peak_in_use.clone(),
        );
        let mut health = served.client().await;
        tokio::spawn(async move {
            while !done.load(Ordering::SeqCst) {
                let t = instances::find_tagged(&c, REGION, tags::MANAGED_BY, "amiforge-validator")
                    .await
                    .unwrap();
                peak_alive.fetch_max(t.instances.len(), Ordering::SeqCst);
                let h = health
                    .health(pb::HealthRequest {})
                    .await
                    .unwrap()
                    .into_inner();
                peak_in_use.fetch_max(h.instances_in_use as usize, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let types = ["t3.micro", "t3.small", "m5.large"];
    let (mut a, mut b) = (served.client().await, served.client().await);
    let (ra, rb) = tokio::join!(
        events(&mut a, request(&manifest, &types)),
        events(&mut b, request(&manifest, &types))
    );
    done.store(true, Ordering::SeqCst);
    watcher.await.unwrap();
    for ev in [ra.unwrap(), rb.unwrap()] {
        let Some(E::Verdict(v)) = ev.last() else {
            panic!("no verdict: {ev:?}")
        };
        assert_eq!(v.verdict(), pb::Verdict::Passed, "{}", v.summary);
        let launched = ev.iter().filter(|e| matches!(e, E::Launched(_))).count();
        assert_eq!(launched, 3);
    }
    assert_eq!(emu.count("RunInstances", Some("ok")), 6);
    let (alive, in_use) = (
        peak_alive.load(Ordering::SeqCst),
        peak_in_use.load(Ordering::SeqCst),
    );
    assert!(
        alive <= 2,
        "{alive} instances alive at once with max_instances = 2"
    );
    assert!(in_use <= 2, "Health said {in_use} in use");
    assert!(
        alive == 2,
        "the two runs did launch side by side (peak {alive})"
    );
    support::assert_nothing_left(&c, &[REGION]).await;
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_goes_away_mid_run_leaves_nothing_behind() {
    let emu = Emulator::start(0.0);
    // instances never pass their status checks: the run would wait for its whole timeout
    emu.configure(
        &serde_json::json!({"instance_faults": [{"region": "*", "ami": "*", "status": "stuck"}]}),
    );
    let c = clients(&emu).await;
    let manifest = release(&c, REGION).await;
    let served = serve(clients(&emu).await, 8).await;
    let mut client = served.client().await;
    let mut stream = client
        .validate(request(&manifest, &["t3.micro", "m5.large"]))
        .await
        .unwrap()
        .into_inner();
    let mut launched = 0;
    while launched < 2 {
        let e = stream.message().await.unwrap().expect("the run goes on");
        if matches!(e.event, Some(E::Launched(_))) {
            launched += 1;
        }
    }
    emu.settle();
    let alive = instances::find_tagged(&c, REGION, tags::MANAGED_BY, "amiforge-validator")
        .await
        .unwrap();
    assert_eq!(alive.instances.len(), 2);
    assert_eq!(alive.security_groups.len(), 1);
    let gone_at = Instant::now();
    drop(stream);
    drop(client);
    let mut health = served.client().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let h = health
            .health(pb::HealthRequest {})
            .await
            .unwrap()
            .into_inner();
        if h.runs_in_progress == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the run goes on without its client"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone_at.elapsed() < Duration::from_secs(15),
        "cancelled, not timed out (timeout is 30 s)"
    );
    assert!(emu.count("TerminateInstances", None) >= 1);
    assert!(emu.count("DeleteSecurityGroup", None) >= 1);
    support::assert_nothing_left(&c, &[REGION]).await;
    served.shutdown().await;
}
