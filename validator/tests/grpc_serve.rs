//! The gRPC server's housekeeping and lifecycle against the AWS emulator: Sweep lists on a dry
//! run and removes for real (leaving a live run's resources unless forced); the real binary serves, answers
//! Health, and on SIGTERM cancels its runs, cleans up, removes its socket and exits 0; a server
//! whose parent goes away (stdin closed) cleans up and exits 0. The Validate stream: grpc.rs.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};
use support::clients;
use support::grpc::{REGION, release, request, serve};

use amiforge_aws::instances::{self, LaunchRequest};
use amiforge_e2e::emulator::{BASE_AMI, Emulator};
use amiforge_model::tags;
use amiforge_validator::launch::run_tags;
use amiforge_validator_api::client::connect;
use amiforge_validator_api::pb;
use amiforge_validator_api::pb::validate_event::Event as E;

#[tokio::test(flavor = "multi_thread")]
async fn sweep_lists_on_a_dry_run_and_removes_for_real() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let hour = Duration::from_secs(3600);
    // what a killed run left (expired), and what a live run holds (not expired)
    // runs the server made for this socket's caller (its uid) carry that identity
    let mine = |mut t: std::collections::BTreeMap<String, String>| {
        let uid = nix::unistd::getuid();
        t.insert(tags::VALIDATOR_OWNER.into(), format!("uid:{uid}"));
        t
    };
    let old = mine(run_tags("old-run", SystemTime::now() - hour));
    let live = mine(run_tags("live-run", SystemTime::now() + hour));
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
    emu.settle();
    let sweep = |dry_run: bool, run_id: &str| pb::SweepRequest {
        regions: vec![REGION.into(), "us-west-2".into()],
        run_id: run_id.into(),
        all: false,
        dry_run,
        force: false,
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

    // a live run is not taken by its id either, unless forced
    let one = client
        .sweep(sweep(false, "live-run"))
        .await
        .unwrap()
        .into_inner();
    assert!(one.found.is_empty() && one.removed.is_empty(), "{one:?}");
    let forced = pb::SweepRequest {
        force: true,
        ..sweep(false, "live-run")
    };
    let one = client.sweep(forced).await.unwrap().into_inner();
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
