//! The gRPC API against the AWS emulator: a client streams a passing run over a unix socket; bad
//! requests are INVALID_ARGUMENT naming the field; concurrent clients never have more test
//! instances alive than the server's `max_instances`; a client that goes away mid-run leaves
//! nothing behind; Sweep dry-run vs real; the real binary serves, answers Health, and on SIGTERM
//! cancels its runs, cleans up, removes its socket and exits 0.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};
use support::{HOME, clients};

use amiforge_aws::client::{Clients, load_for_endpoint};
use amiforge_aws::instances::{self, LaunchRequest};
use amiforge_e2e::emulator::{BASE_AMI, Emulator};
use amiforge_model::tags;
use amiforge_validator::api::server::{self, Listen};
use amiforge_validator::launch::run_tags;
use amiforge_validator_api::client::connect;
use amiforge_validator_api::pb;
use amiforge_validator_api::pb::validate_event::Event as E;
use amiforge_validator_api::pb::validator_client::ValidatorClient;
use amiforge_validator_api::report::{Report, Verdict};
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

const REGION: &str = "eu-west-1";

/// A one-region release (what replicate makes), as manifest JSON bytes.
async fn release(c: &Clients, region: &str) -> Vec<u8> {
    let m = support::release(c, &[region]).await;
    serde_json::to_vec(&m).unwrap()
}

/// A request for the release with short polls, on the given instance types.
fn request(manifest: &[u8], instance_types: &[&str]) -> pb::ValidateRequest {
    pb::ValidateRequest {
        manifest_json: manifest.to_vec(),
        launch: Some(pb::Launch {
            instance_types: instance_types.iter().map(|t| t.to_string()).collect(),
            timeout: "30s".into(),
            poll_interval: "100ms".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A server in this process on a unix socket in a temporary directory.
struct Served {
    addr: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), String>>,
    _dir: tempfile::TempDir,
}

async fn serve(c: Clients, max_instances: usize) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let listen = Listen::Unix(dir.path().join("validator.sock"));
    let stop = CancellationToken::new();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let s = stop.clone();
    let task = tokio::spawn(async move {
        server::serve(c, &listen, max_instances, s, move |a| {
            let _ = tx.send(a.to_string());
        })
        .await
    });
    let addr = rx.await.expect("the server is ready");
    Served {
        addr,
        stop,
        task,
        _dir: dir,
    }
}

impl Served {
    async fn client(&self) -> ValidatorClient<Channel> {
        connect(&self.addr).await.unwrap()
    }

    async fn shutdown(self) {
        self.stop.cancel();
        let done = tokio::time::timeout(Duration::from_secs(20), self.task).await;
        done.expect("the server stops").unwrap().unwrap();
    }
}

/// Every event of one Validate call, in order.
async fn events(
    c: &mut ValidatorClient<Channel>,
    req: pb::ValidateRequest,
) -> Result<Vec<E>, tonic::Status> {
    let mut stream = c.validate(req).await?.into_inner();
    let mut out = Vec::new();
    while let Some(e) = stream.message().await? {
        out.push(e.event.expect("every event has a kind"));
    }
    Ok(out)
}

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
    emu.configure(&serde_json::json!({"launch_seconds": 0.5, "status_seconds": 0.5}));
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
    assert_eq!(emu.count("RunInstances", None), 6);
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

#[tokio::test(flavor = "multi_thread")]
async fn sweep_lists_on_a_dry_run_and_removes_for_real() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let hour = Duration::from_secs(3600);
    // what a killed run left (expired), and what a live run holds (not expired)
    let old = run_tags("old-run", SystemTime::now() - hour);
    let live = run_tags("live-run", SystemTime::now() + hour);
    let sg_old = instances::create_security_group(&c, REGION, "old", None, None, &old)
        .await
        .unwrap();
    let i_old = instances::launch(
        &c,
        REGION,
        &LaunchRequest {
            ami: BASE_AMI.into(),
            instance_type: "t3.micro".into(),
            security_groups: vec![sg_old.clone()],
            tags: old.clone(),
            client_token: "old-1".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let sg_live = instances::create_security_group(&c, REGION, "live", None, None, &live)
        .await
        .unwrap();
    let served = serve(clients(&emu).await, 8).await;
    let mut client = served.client().await;
    let sweep = |dry_run: bool, run_id: &str| pb::SweepRequest {
        regions: vec![REGION.into(), "us-west-2".into()],
        run_id: run_id.into(),
        all: false,
        dry_run,
    };

    let dry = client.sweep(sweep(true, "")).await.unwrap().into_inner();
    let mut found = dry.found.clone();
    found.sort();
    assert_eq!(
        found,
        [
            format!("{REGION}: instance {i_old}"),
            format!("{REGION}: security group {sg_old}"),
        ]
    );
    assert!(dry.removed.is_empty() && dry.errors.is_empty(), "{dry:?}");
    let still = instances::find_tagged(&c, REGION, tags::MANAGED_BY, "amiforge-validator")
        .await
        .unwrap();
    assert_eq!(
        (still.instances.len(), still.security_groups.len()),
        (1, 2),
        "a dry run removes nothing"
    );

    let real = client.sweep(sweep(false, "")).await.unwrap().into_inner();
    let mut removed = real.removed.clone();
    removed.sort();
    assert_eq!(removed, found, "{real:?}");
    assert!(real.errors.is_empty(), "{real:?}");
    let left = instances::find_tagged(&c, REGION, tags::MANAGED_BY, "amiforge-validator")
        .await
        .unwrap();
    assert!(left.instances.is_empty());
    assert_eq!(
        left.security_groups
            .iter()
            .map(|(g, _)| g)
            .collect::<Vec<_>>(),
        [&sg_live],
        "the live run's group stays"
    );

    let one = client
        .sweep(sweep(false, "live-run"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.removed, [format!("{REGION}: security group {sg_live}")]);
    support::assert_nothing_left(&c, &[REGION]).await;
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_serves_and_on_sigterm_cleans_up_and_exits_0() {
    let emu = Emulator::start(0.0);
    emu.configure(
        &serde_json::json!({"instance_faults": [{"region": "*", "ami": "*", "status": "stuck"}]}),
    );
    let c = clients(&emu).await;
    let manifest = release(&c, REGION).await;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("v.sock");
    // a stale socket file from a killed server is replaced
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let mut child = Command::new(env!("CARGO_BIN_EXE_amiforge-validator"))
        .args(["serve", "--listen", &format!("unix:{}", sock.display())])
        .args(["--max-instances", "3"])
        .envs(emu.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the server says it listens");
    assert_eq!(line, format!("listening on unix:{}", sock.display()));

    let mut client = connect(&format!("unix:{}", sock.display())).await.unwrap();
    let h = client
        .health(pb::HealthRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!((h.max_instances, h.runs_in_progress), (3, 0));
    let mut stream = client
        .validate(request(&manifest, &["t3.micro"]))
        .await
        .unwrap()
        .into_inner();
    loop {
        let e = stream.message().await.unwrap().expect("the run goes on");
        if matches!(e.event, Some(E::Launched(_))) {
            break;
        }
    }
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    // the run is cancelled, cleans up, and the stream still ends with the verdict
    let mut last = None;
    while let Some(e) = stream.message().await.unwrap() {
        last = e.event;
    }
    let Some(E::Verdict(v)) = last else {
        panic!("no verdict: {last:?}")
    };
    assert_eq!(v.verdict(), pb::Verdict::InfrastructureError);
    assert!(v.summary.contains("interrupted"), "{}", v.summary);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(!sock.exists(), "the socket file is removed on exit");
    support::assert_nothing_left(&c, &[REGION]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_whose_parent_goes_away_cleans_up_and_exits() {
    // what the amiforge-validate gate does: the server's stdin is a pipe only the parent holds;
    // a killed parent closes it
    let emu = Emulator::start(0.0);
    emu.configure(
        &serde_json::json!({"instance_faults": [{"region": "*", "ami": "*", "status": "stuck"}]}),
    );
    let c = clients(&emu).await;
    let manifest = release(&c, REGION).await;
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("v.sock");
    let mut child = Command::new(env!("CARGO_BIN_EXE_amiforge-validator"))
        .args(["serve", "--stop-on-stdin-close", "--listen"])
        .arg(format!("unix:{}", sock.display()))
        .envs(emu.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let parent_end = child.stdin.take().unwrap();
    let out = child.stdout.take().unwrap();
    let mut first = String::new();
    BufReader::new(out).read_line(&mut first).unwrap();
    assert!(first.starts_with("listening on"), "{first}");
    let mut client = connect(&format!("unix:{}", sock.display())).await.unwrap();
    let mut stream = client
        .validate(request(&manifest, &["t3.micro"]))
        .await
        .unwrap()
        .into_inner();
    loop {
        let e = stream.message().await.unwrap().expect("the run goes on");
        if matches!(e.event, Some(E::Launched(_))) {
            break;
        }
    }
    drop(parent_end);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server outlived its parent");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("stdin closed"), "{err}");
    support::assert_nothing_left(&c, &[REGION]).await;
}
