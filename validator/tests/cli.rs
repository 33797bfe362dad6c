//! The `amiforge-validator` binary as CI runs it, against the AWS emulator: exit codes (0 pass,
//! 1 gate failed, 2 bad input, 3 infrastructure error), the JUnit and JSON files, SIGINT
//! (cleans up, exit 3), and SIGKILL mid-run followed by `sweep` (nothing taken while the killed
//! run's lease holds; once it lapsed, a plain sweep leaves nothing; a second sweep finds nothing;
//! `--dry-run` removes nothing).

mod support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use amiforge_aws::instances;
use amiforge_e2e::emulator::Emulator;
use amiforge_model::tags;
use support::{assert_nothing_left, clients, release};

fn bin(emu: &Emulator) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_amiforge-validator"));
    c.envs(emu.env()).env("RUST_LOG", "warn");
    c
}

fn run(emu: &Emulator, args: &[&str]) -> Output {
    bin(emu)
        .args(args)
        .output()
        .expect("run amiforge-validator")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn write_manifest(dir: &Path, m: &amiforge_model::manifest::Manifest) -> String {
    let p = dir.join("manifest.json");
    std::fs::write(&p, serde_json::to_vec_pretty(m).unwrap()).unwrap();
    p.display().to_string()
}

/// Waits until the emulator has answered `n` RunInstances calls.
fn wait_launched(emu: &Emulator, n: usize) {
    let t = Instant::now();
    while emu.count("RunInstances", Some("ok")) < n {
        assert!(t.elapsed() < Duration::from_secs(60), "no launch in 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    nix::sys::signal::kill(pid, sig).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_and_reports_say_what_happened() {
    let emu = Emulator::start(0.0);
    emu.configure(&serde_json::json!({"launch_seconds": 0.3, "status_seconds": 0.3}));
    let c = clients(&emu).await;
    let regions = ["eu-west-1", "us-west-2"];
    let m = release(&c, &regions).await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), &m);
    let junit = dir.path().join("j.xml");
    let json = dir.path().join("r.json");
    let (junit_s, json_s) = (junit.display().to_string(), json.display().to_string());
    // the whole release, with both reports
    let run_manifest = |extra: &[&str]| {
        let mut a = vec![
            "run",
            "--manifest",
            &manifest,
            "--poll-interval",
            "200ms",
            "--timeout",
            "30s",
            "--junit",
            &junit_s,
            "--json",
            &json_s,
        ];
        a.extend_from_slice(extra);
        run(&emu, &a)
    };
    let report =
        || -> serde_json::Value { serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap() };

    // pass: exit 0, one JUnit suite per region's attributes and per region × instance type
    let o = run_manifest(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("verdict: passed"), "{stdout}");
    let x = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(x.matches("<testsuite ").count(), 4, "{x}");
    assert!(x.contains(r#"failures="0""#), "{x}");
    assert!(x.contains("instance.status-checks"), "{x}");
    let r = report();
    assert_eq!(r["verdict"], "passed");
    assert_eq!(r["cleanup"]["instances"].as_array().unwrap().len(), 2);
    assert_nothing_left(&c, &regions).await;

    // gate failed: one AMI made public → exit 1; the JUnit failure names AMI, region, expected, found
    let (r0, bad) = ("us-west-2", m.regions["us-west-2"].ami.clone());
    support::make_public(&c, r0, &bad).await;
    let o = run_manifest(&["--quiet"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let x = std::fs::read_to_string(&junit).unwrap();
    let fail = x
        .split("<failure")
        .nth(1)
        .unwrap_or_else(|| panic!("a failure element: {x}"));
    assert!(fail.contains(&bad) && fail.contains(r0), "{fail}");
    assert!(fail.contains("public"), "{fail}");
    assert_eq!(
        x.matches("<failure").count(),
        1,
        "only the public AMI fails: {x}"
    );
    let r = report();
    assert_eq!(r["verdict"], "gate-failed");
    // the failing AMI was not launched, the good one was
    assert_eq!(r["cleanup"]["instances"].as_array().unwrap().len(), 1);
    assert_nothing_left(&c, &regions).await;

    // bad input: exit 2, the flag named, nothing asked of AWS
    let calls = emu.log().len();
    let o = run(&emu, &["run", "--ami", "eu-west-1:ami-nothex"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ami-nothex"),
        "{}",
        text(&o)
    );
    let o = run(
        &emu,
        &[
            "run",
            "--ami",
            &format!("eu-west-1:{}", m.regions["eu-west-1"].ami),
            "--boot-mode",
            "bios",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("boot"),
        "{}",
        text(&o)
    );
    assert_eq!(emu.log().len(), calls, "bad input reached AWS");

    // infrastructure error: the expected KMS key cannot be resolved → exit 3, not a pass
    let o = run(
        &emu,
        &[
            "run",
            "--ami",
            &format!("eu-west-1:{}", m.regions["eu-west-1"].ami),
            "--kms-key",
            "eu-west-1=alias/missing",
            "--no-launch",
            "--json",
            &json_s,
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let r = report();
    assert_eq!(r["verdict"], "infrastructure-error");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_cleans_up_and_exits_3() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let regions = ["eu-west-1", "us-west-2"];
    let m = release(&c, &regions).await;
    // instances stay pending for a long time: the run is mid-launch when interrupted
    emu.configure(&serde_json::json!({"launch_seconds": 300, "status_seconds": 1}));
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), &m);
    let json = dir.path().join("r.json").display().to_string();
    let child = bin(&emu)
        .args([
            "run",
            "--manifest",
            &manifest,
            "--poll-interval",
            "200ms",
            "--json",
            &json,
            "--quiet",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_launched(&emu, 2);
    signal(&child, nix::sys::signal::Signal::SIGINT);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cleaning up"),
        "{}",
        text(&o)
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(r["verdict"], "infrastructure-error");
    assert_eq!(r["cleanup"]["instances"].as_array().unwrap().len(), 2);
    assert_nothing_left(&c, &regions).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_leaves_resources_a_plain_sweep_removes_once_their_lease_lapsed() {
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let regions = ["eu-west-1", "us-west-2"];
    let m = release(&c, &regions).await;
    emu.configure(&serde_json::json!({"launch_seconds": 300, "status_seconds": 1}));
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(dir.path(), &m);
    const LEASE: Duration = Duration::from_secs(8);
    let mut child = bin(&emu)
        .env("AMIFORGE_VALIDATOR_LEASE", "8s")
        .args([
            "run",
            "--manifest",
            &manifest,
            "--poll-interval",
            "200ms",
            "--run-id",
            "killed-run",
            "--quiet",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_launched(&emu, 2);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let killed = Instant::now();
    emu.settle();
    let mut left = 0;
    for r in regions {
        let t = instances::find_tagged(&c, r, tags::VALIDATOR_RUN, "killed-run")
            .await
            .unwrap();
        left += t.instances.len() + t.security_groups.len();
    }
    // per region: an instance and the temporary security group
    assert!(left >= 4, "the killed run left its resources ({left})");

    // its lease (renewed until the kill) still holds: a plain sweep takes nothing yet
    let o = run(&emu, &["sweep", "--manifest", &manifest]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        killed.elapsed() < LEASE * 4 / 5,
        "the test was too slow to see the lease hold"
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("nothing to sweep"),
        "{}",
        text(&o)
    );
    // minutes, not hours: once the lease lapsed, the leftovers are anyone's to sweep
    std::thread::sleep(
        (killed + LEASE + Duration::from_secs(1)).saturating_duration_since(Instant::now()),
    );

    sweeps_that_remove_nothing(&emu, &manifest);

    // a plain sweep removes all of it; a second one finds nothing (idempotent)
    let o = run(&emu, &["sweep", "--manifest", &manifest]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_nothing_left(&c, &regions).await;
    let o = run(
        &emu,
        &["sweep", "--manifest", &manifest, "--run-id", "killed-run"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        !out.contains("removed"),
        "second sweep removed something: {out}"
    );
}

/// Once the killed run's lease lapsed: a sweep of another run's id and a dry run remove nothing;
/// a reader that stops reading a dry run's listing does not make it panic.
fn sweeps_that_remove_nothing(emu: &Emulator, manifest: &str) {
    // a sweep of another run's id and a dry run remove nothing
    let o = run(
        emu,
        &[
            "sweep",
            "--regions",
            "eu-west-1,us-west-2",
            "--run-id",
            "other",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(
        emu,
        &[
            "sweep",
            "--manifest",
            manifest,
            "--run-id",
            "killed-run",
            "--dry-run",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("eu-west-1: would remove 1 instance(s)"),
        "{out}"
    );
    assert_eq!(
        emu.count("TerminateInstances", None),
        0,
        "dry run terminated something"
    );
    // a reader that stopped reading (`sweep --dry-run | head -1`) silences the listing, not the
    // command: no panic on the broken pipe
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let o = bin(emu)
        .args([
            "sweep",
            "--manifest",
            manifest,
            "--run-id",
            "killed-run",
            "--dry-run",
        ])
        .stdout(writer)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("panicked"),
        "{}",
        text(&o)
    );
}
