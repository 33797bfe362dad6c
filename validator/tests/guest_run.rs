//! `run` with in-guest checks against the AWS emulator, every test instance's guest being the
//! hardened sandbox (`guest.ssh_host`, or the emulator's SSM Run Command executing over ssh
//! there): the checks run in every launched instance and the run passes; with a key pair the
//! user gives, and with one made for the run (deleted afterwards); drift in the guest fails the
//! run; nothing of the run's is left (instances, key pairs, security groups).

mod support;

use support::guest as common;

use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_aws::instances;
use amiforge_e2e::emulator::Emulator;
use amiforge_e2e::sandbox::Sandbox;
use amiforge_validator::events::Sink;
use amiforge_validator::guest::Transport as _;
use amiforge_validator::guest::ssm::Ssm;
use amiforge_validator_api::report::{Report, Status, Verdict};
use amiforge_validator_api::{Guest, Launch, Policy, Request, Transport, UserCheck};
use tokio_util::sync::CancellationToken;

const REGIONS: [&str; 2] = ["eu-west-1", "us-west-2"];
const GUEST_CHECKS: [&str; 5] = [
    "guest.connect",
    "guest.user-data",
    "guest.evidence",
    "guest.hardening",
    "guest.user:debian",
];

const USER_DATA: &str = "#cloud-config\nruncmd:\n  - echo configured-at-launch\n";

/// A stand-in `cloud-init` in the guest (the sandbox has none) answering `status --wait --long`
/// with `status` and exit code `rc`, as cloud-init 23.4+ does.
fn fake_cloud_init(sbx: &Sandbox, status: &str, rc: i32) {
    common::root_ok(
        sbx,
        &format!(
            "mkdir -p /var/lib/amiforge-test\n\
             printf '%s' '{status}' > /var/lib/amiforge-test/cloud-init.out\n\
             echo {rc} > /var/lib/amiforge-test/cloud-init.rc\n\
             printf '#!/bin/sh\\ncat /var/lib/amiforge-test/cloud-init.out\\nexit $(cat /var/lib/amiforge-test/cloud-init.rc)\\n' > /usr/local/bin/cloud-init\n\
             chmod 0755 /usr/local/bin/cloud-init\n"
        ),
    );
}

const CLOUD_INIT_DONE: &str =
    "status: done\nextended_status: done\ndetail:\nDataSourceEc2Local\nerrors: []\n";

fn request(m: &amiforge_model::manifest::Manifest, guest: Guest) -> Request {
    Request {
        targets: amiforge_validator_api::request::manifest::targets(m),
        policy: Policy::default(),
        launch: Launch {
            poll_interval: Duration::from_millis(200),
            timeout: Duration::from_secs(40),
            // a hybrid image: the test launch passes the user data deployments pass
            user_data: Some(USER_DATA.into()),
            ..Launch::default()
        },
        guest: Guest {
            check: vec![UserCheck {
                name: "debian".into(),
                command: "cat /etc/debian_version".into(),
                expect_exit: 0,
                expect_output: Some(r"^\d+".into()),
            }],
            ..guest
        },
        run_id: String::new(),
    }
}

async fn validate(c: &Clients, req: Request) -> Report {
    amiforge_validator::run::run(c, req, Sink::none(), CancellationToken::new())
        .await
        .expect("a good request")
}

/// Every instance suite ran every guest check, with `want` as the status of each.
fn assert_guest_checks(r: &Report, want: &[(&str, Status)]) {
    let instance_suites: Vec<_> = r
        .suites
        .iter()
        .filter(|s| s.instance_type.is_some())
        .collect();
    assert_eq!(instance_suites.len(), REGIONS.len(), "{r:#?}");
    for s in instance_suites {
        let names: Vec<&str> = s
            .checks
            .iter()
            .map(|c| c.name.as_str())
            .filter(|n| n.starts_with("guest."))
            .collect();
        assert_eq!(names, GUEST_CHECKS, "{}", s.name());
        for (name, status) in want {
            let c = s.checks.iter().find(|c| c.name == *name).expect("check");
            assert_eq!(c.status, *status, "{}: {c:#?}", s.name());
        }
    }
}

async fn key_pairs(c: &Clients, region: &str) -> Vec<String> {
    c.ec2(region)
        .describe_key_pairs()
        .send()
        .await
        .unwrap()
        .key_pairs()
        .iter()
        .filter_map(|k| k.key_name().map(str::to_string))
        .collect()
}

/// Imports the sandbox's public key as key pair `name` in every region (the user's own key pair).
async fn import_key_pair(c: &Clients, sbx: &Sandbox, name: &str) {
    let public = std::fs::read(sbx.key.with_extension("pub")).unwrap();
    for r in REGIONS {
        c.ec2(r)
            .import_key_pair()
            .key_name(name)
            .public_key_material(aws_sdk_ec2::primitives::Blob::new(public.clone()))
            .send()
            .await
            .unwrap();
    }
}

/// Every instance of the run was launched with key pair `key_name` and carried [`USER_DATA`].
async fn assert_launched_with_key_and_user_data(c: &Clients, r: &Report, key_name: &str) {
    for s in r.suites.iter().filter(|s| s.instance_type.is_some()) {
        let id = s.instance_id.as_deref().unwrap();
        let launched = c
            .ec2(&s.region)
            .describe_instances()
            .instance_ids(id)
            .send()
            .await
            .unwrap();
        let inst = &launched.reservations()[0].instances()[0];
        assert_eq!(inst.key_name(), Some(key_name), "{}", s.name());
        // the test launch really carried the user data
        let ud = c
            .ec2(&s.region)
            .describe_instance_attribute()
            .instance_id(id)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
            .send()
            .await
            .unwrap();
        let b64 = ud.user_data().and_then(|v| v.value()).unwrap_or_default();
        use base64::Engine;
        let sent = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&sent), USER_DATA, "{}", s.name());
    }
}

/// The run failed the gate: every instance ran every guest check with the statuses `want`, and
/// the message of check `failed` names each of `named`.
fn assert_gate_failed_naming(r: &Report, want: &[(&str, Status)], failed: &str, named: &[&str]) {
    assert_eq!(r.verdict, Verdict::GateFailed, "{r:#?}");
    assert_guest_checks(r, want);
    let c = r
        .suites
        .iter()
        .flat_map(|s| &s.checks)
        .find(|c| c.name == failed)
        .unwrap();
    for id in named {
        assert!(c.message.contains(id), "{id}: {c:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ssh_checks_run_in_every_instance_with_a_given_or_a_made_key_pair() {
    let sbx = Sandbox::start();
    let (report, bytes) = common::harden(&sbx);
    fake_cloud_init(&sbx, CLOUD_INIT_DONE, 0);
    let emu = Emulator::start(0.0);
    emu.configure(&serde_json::json!({"launch_seconds": 0.2, "status_seconds": 0.2}));
    let c = support::clients(&emu).await;
    let m = support::hardened_release(
        &c,
        &REGIONS,
        Some(common::manifest_hardening(&report, &bytes)),
    )
    .await;
    let ssh = Guest {
        transport: Transport::Ssh,
        ssh_username: Some("admin".into()),
        ssh_host: Some(format!("127.0.0.1:{}", sbx.port)),
        ssh_cidr: Some("127.0.0.1/32".into()),
        ..Guest::default()
    };

    // 1. the user's key pair, imported in every region
    import_key_pair(&c, &sbx, "ci-key").await;
    let given = Guest {
        ssh_keypair_name: Some("ci-key".into()),
        ssh_private_key_file: Some(sbx.key.clone()),
        ..ssh.clone()
    };
    let r = validate(&c, request(&m, given)).await;
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    assert_guest_checks(&r, &GUEST_CHECKS.map(|n| (n, Status::Passed)));
    assert_launched_with_key_and_user_data(&c, &r, "ci-key").await;
    assert_eq!(
        emu.count("AuthorizeSecurityGroupIngress", Some("ok")),
        REGIONS.len(),
        "SSH ingress on each temporary group"
    );
    assert!(
        r.cleanup.key_pairs.is_empty(),
        "the user's key pair is not ours"
    );
    for region in REGIONS {
        assert_eq!(key_pairs(&c, region).await, ["ci-key"]);
    }
    support::assert_nothing_left(&c, &REGIONS).await;

    // 2. a key pair made for the run (the emulator hands out the sandbox's key), deleted after
    let private = std::fs::read_to_string(&sbx.key).unwrap();
    emu.configure(&serde_json::json!({"key_material": private}));
    let r = validate(&c, request(&m, ssh.clone())).await;
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    assert_guest_checks(&r, &GUEST_CHECKS.map(|n| (n, Status::Passed)));
    let made = format!("amiforge-validator-{}", r.run_id);
    let mut cleaned = r.cleanup.key_pairs.clone();
    cleaned.sort();
    assert_eq!(cleaned, REGIONS.map(|region| format!("{region}:{made}")));
    assert_eq!(emu.count("CreateKeyPair", None), REGIONS.len());
    for region in REGIONS {
        assert_eq!(key_pairs(&c, region).await, ["ci-key"], "{made} deleted");
    }
    support::assert_nothing_left(&c, &REGIONS).await;

    // 3. the launch's user data failed (cloud-init error): the gate fails, naming cloud-init's error
    fake_cloud_init(
        &sbx,
        "status: error\ndetail:\nDataSourceEc2Local\nerrors:\n\t- (scripts_user, Runparts: 1 failures (part-001))\n",
        1,
    );
    let r = validate(&c, request(&m, ssh.clone())).await;
    let want = [
        ("guest.user-data", Status::Failed),
        ("guest.hardening", Status::Passed),
    ];
    assert_gate_failed_naming(&r, &want, "guest.user-data", &["part-001"]);
    fake_cloud_init(&sbx, CLOUD_INIT_DONE, 0);
    support::assert_nothing_left(&c, &REGIONS).await;

    // 4. drift in the guest fails the run, naming the controls
    common::root_ok(&sbx, common::WEAKEN_HARDENED);
    let r = validate(&c, request(&m, ssh)).await;
    let want = [
        ("guest.evidence", Status::Passed),
        ("guest.hardening", Status::Failed),
    ];
    assert_gate_failed_naming(&r, &want, "guest.hardening", &common::WEAKENED_CONTROLS);
    support::assert_nothing_left(&c, &REGIONS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ssm_checks_run_through_run_command_and_cut_output_never_passes() {
    let sbx = Sandbox::start();
    let (report, bytes) = common::harden(&sbx);
    fake_cloud_init(&sbx, CLOUD_INIT_DONE, 0);
    assert!(
        bytes.len() > 18_000,
        "the report ({} bytes) must need several SSM reads",
        bytes.len()
    );
    let emu = Emulator::start(0.0);
    emu.configure(
        &serde_json::json!({"launch_seconds": 0.2, "status_seconds": 0.2,
        "ssm_exec": {"host": "127.0.0.1", "port": sbx.port, "user": "admin",
                     "key": sbx.key.display().to_string()}}),
    );
    let c = support::clients(&emu).await;
    let m = support::hardened_release(
        &c,
        &REGIONS,
        Some(common::manifest_hardening(&report, &bytes)),
    )
    .await;
    let r = validate(&c, request(&m, Guest::default())).await;
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    assert_guest_checks(&r, &GUEST_CHECKS.map(|n| (n, Status::Passed)));
    let sent = emu.count("SendCommand", None);
    assert!(
        sent >= 2 * 6,
        "connect, staged audit + reads, evidence pieces: {sent}"
    );
    assert_eq!(emu.count("CreateKeyPair", None), 0, "SSM needs no key pair");
    assert_eq!(emu.count("AuthorizeSecurityGroupIngress", None), 0);
    support::assert_nothing_left(&c, &REGIONS).await;

    // a user check printing more than SSM returns: its output stays on the guest and is read in
    // pieces, so the regex sees all of it
    let mut req = request(&m, Guest::default());
    req.guest.check = vec![UserCheck {
        name: "long".into(),
        command: "yes abcdefghij | head -n 5000; echo THE-END".into(),
        expect_exit: 0,
        expect_output: Some("THE-END\n$".into()),
    }];
    req.targets.truncate(1);
    let r = validate(&c, req).await;
    assert_eq!(r.verdict, Verdict::Passed, "{r:#?}");
    support::assert_nothing_left(&c, &REGIONS).await;

    // the transport itself: an answer SSM cut at 24,000 characters is an error, never output
    let launched = c
        .ec2("eu-west-1")
        .run_instances()
        .image_id(&m.regions["eu-west-1"].ami)
        .min_count(1)
        .max_count(1)
        .send()
        .await
        .unwrap();
    let id = launched.instances()[0].instance_id().unwrap().to_string();
    let ssm = Ssm {
        clients: &c,
        region: "eu-west-1".into(),
        instance: id.clone(),
        wait_until: std::time::Instant::now() + Duration::from_secs(10),
        poll: Duration::from_millis(100),
        command_timeout: Duration::from_secs(60),
    };
    let whole = ssm.run("yes x | head -c 23000\n").await.unwrap();
    assert_eq!((whole.exit, whole.stdout.len()), (0, 23_000));
    let e = ssm.run("yes x | head -c 30000\n").await.unwrap_err();
    assert!(e.contains("cut the command's output at 24000"), "{e}");
    let failed = ssm.run("echo no >&2; exit 4\n").await.unwrap();
    assert_eq!((failed.exit, failed.stderr.as_str()), (4, "no\n"));
    instances::terminate(&c, "eu-west-1", &[id]).await.unwrap();
}
