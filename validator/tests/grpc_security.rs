//! The validator service let no one in and reads nothing for a caller, against the AWS emulator:
//! TLS with client certificates (a client without one, or without the CA, gets nothing), bearer
//! tokens (none or a wrong one is UNAUTHENTICATED), the unix peer's uid as the caller; `all`
//! sweeps for admins only; path-typed fields refused without a word about the file; 256 targets
//! work and 257 are refused; a caller's concurrent runs are capped. The binary: a non-loopback
//! listen without TLS and authentication is refused naming the flags, `--insecure` warns, and
//! every call leaves an audit line.

mod support;

use amiforge_e2e::emulator::Emulator;
use amiforge_validator::api::auth::{Authenticator, new_token};
use amiforge_validator::api::config::ServeConfig;
use amiforge_validator::api::listen::Listen;
use amiforge_validator::api::tls::TlsFiles;
use amiforge_validator_api::client::{Credentials, connect, connect_with};
use amiforge_validator_api::pb;
use support::clients;
use support::grpc::{REGION, Served, release, request, serve, serve_with};
use support::process::{serve_binary, stop};

/// A CA, a server certificate for 127.0.0.1 and a client certificate (CN `ci`), as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf = |names: Vec<String>, cn: &str, file: &str| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(names).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            let cert = p.signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.path().join(format!("{file}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{file}.key")), key.serialize_pem()).unwrap();
        };
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            "validator",
            "server",
        );
        leaf(Vec::new(), "ci", "client");
        Pki { dir }
    }

    fn path(&self, f: &str) -> std::path::PathBuf {
        self.dir.path().join(f)
    }
}

async fn serve_tcp(emu: &Emulator, f: impl FnOnce(&mut ServeConfig)) -> Served {
    let mut config = ServeConfig::local(Listen::Tcp("127.0.0.1:0".into()), 8);
    f(&mut config);
    serve_with(clients(emu).await, config, tempfile::tempdir().unwrap()).await
}

async fn health(addr: &str, creds: &Credentials) -> Result<String, String> {
    let mut c = connect_with(addr, creds).await.map_err(|e| e.to_string())?;
    c.health(pb::HealthRequest {})
        .await
        .map(|r| r.into_inner().version)
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_lets_in_only_clients_with_a_certificate_the_ca_signed() {
    let emu = Emulator::start(0.0);
    let pki = Pki::new();
    let served = serve_tcp(&emu, |c| {
        c.tls = TlsFiles {
            cert: Some(pki.path("server.pem")),
            key: Some(pki.path("server.key")),
            client_ca: Some(pki.path("ca.pem")),
        };
        c.auth = Authenticator::new(Vec::new(), Vec::new(), true);
    })
    .await;
    let https = format!("https://{}", served.addr);
    let full = Credentials {
        ca: Some(pki.path("ca.pem")),
        cert: Some(pki.path("client.pem")),
        key: Some(pki.path("client.key")),
        ..Credentials::default()
    };
    health(&https, &full).await.unwrap();
    let no_cert = Credentials {
        cert: None,
        key: None,
        ..full.clone()
    };
    assert!(
        health(&https, &no_cert).await.is_err(),
        "no client certificate"
    );
    assert!(
        health(&served.addr, &Credentials::default()).await.is_err(),
        "plain text to a TLS port"
    );
    let wrong_ca = Credentials {
        ca: Some(pki.path("client.pem")),
        ..full.clone()
    };
    assert!(
        health(&https, &wrong_ca).await.is_err(),
        "an untrusted server"
    );
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_authenticate_and_only_admins_sweep_everything() {
    let emu = Emulator::start(0.0);
    let (ci, ci_line) = new_token("ci").unwrap();
    let (ops, ops_line) = new_token("ops").unwrap();
    let entries: Vec<(String, String)> = [ci_line, ops_line]
        .iter()
        .map(|l| {
            let (n, h) = l.split_once(" sha256:").unwrap();
            (n.to_string(), h.to_string())
        })
        .collect();
    let served = serve_tcp(&emu, |c| {
        c.auth = Authenticator::new(entries, vec!["ops".into()], true);
    })
    .await;
    let with = |t: Option<&str>| Credentials {
        token: t.map(|t| t.to_string().into()),
        ..Credentials::default()
    };
    let e = health(&served.addr, &with(None)).await.unwrap_err();
    assert!(e.starts_with("Unauthenticated"), "{e}");
    let e = health(&served.addr, &with(Some("afv_nope")))
        .await
        .unwrap_err();
    assert!(e.starts_with("Unauthenticated"), "{e}");
    health(&served.addr, &with(Some(&ci))).await.unwrap();
    let all = pb::SweepRequest {
        regions: vec![REGION.into()],
        all: true,
        dry_run: true,
        ..Default::default()
    };
    let mut c = connect_with(&served.addr, &with(Some(&ci))).await.unwrap();
    let e = c.sweep(all.clone()).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");
    assert!(e.message().contains("token:ci"), "{e:?}");
    let mut c = connect_with(&served.addr, &with(Some(&ops))).await.unwrap();
    c.sweep(all).await.unwrap();
    served.shutdown().await;
}

/// A caller's plain sweep takes only what runs it asked for left; an admin's takes the rest.
#[tokio::test(flavor = "multi_thread")]
async fn a_caller_sweeps_only_the_runs_it_asked_for() {
    use amiforge_aws::instances;
    use amiforge_model::tags;
    let emu = Emulator::start(0.0);
    let c = clients(&emu).await;
    let (ci, ci_line) = new_token("ci").unwrap();
    let (ops, ops_line) = new_token("ops").unwrap();
    let entries: Vec<(String, String)> = [ci_line, ops_line]
        .iter()
        .map(|l| {
            let (n, h) = l.split_once(" sha256:").unwrap();
            (n.to_string(), h.to_string())
        })
        .collect();
    // leftovers of three killed runs: ci's, another caller's, a CLI run's (no owner)
    let past = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let mut groups = Vec::new();
    for (run, owner) in [
        ("r-ci", Some("token:ci")),
        ("r-x", Some("token:x")),
        ("r-cli", None),
    ] {
        let mut t = amiforge_validator::launch::run_tags(run, past);
        if let Some(o) = owner {
            t.insert(tags::VALIDATOR_OWNER.into(), o.into());
        }
        let sg = instances::create_security_group(&c, REGION, run, None, None, &t)
            .await
            .unwrap();
        groups.push(format!("{REGION}: security group {sg}"));
    }
    emu.settle();
    let served = serve_tcp(&emu, |cfg| {
        cfg.auth = Authenticator::new(entries, vec!["ops".into()], true);
    })
    .await;
    let sweep = pb::SweepRequest {
        regions: vec![REGION.into()],
        ..Default::default()
    };
    let token = |t: &str| Credentials {
        token: Some(t.to_string().into()),
        ..Credentials::default()
    };
    let mut as_ci = connect_with(&served.addr, &token(&ci)).await.unwrap();
    let r = as_ci.sweep(sweep.clone()).await.unwrap().into_inner();
    assert_eq!(r.removed, [groups[0].clone()], "{r:?}");
    let forced = pb::SweepRequest {
        run_id: "r-x".into(),
        force: true,
        ..sweep.clone()
    };
    let r = as_ci.sweep(forced).await.unwrap().into_inner();
    assert!(
        r.found.is_empty(),
        "another caller's run, even forced: {r:?}"
    );
    let mut as_ops = connect_with(&served.addr, &token(&ops)).await.unwrap();
    let r = as_ops.sweep(sweep).await.unwrap().into_inner();
    let mut removed = r.removed.clone();
    removed.sort();
    let mut rest = groups[1..].to_vec();
    rest.sort();
    assert_eq!(removed, rest, "{r:?}");
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_unix_socket_caller_is_its_uid() {
    let emu = Emulator::start(0.0);
    let served = serve(clients(&emu).await, 8).await;
    let mut c = served.client().await;
    // tests run as root: uid 0, and no admin is configured
    let e = c
        .sweep(pb::SweepRequest {
            regions: vec![REGION.into()],
            all: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    assert!(e.message().contains("uid:0"), "{e:?}");
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_are_refused_and_no_response_holds_a_byte_of_the_file() {
    let emu = Emulator::start(0.0);
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("marker.toml");
    std::fs::write(&marker, "secret = \"marker-5e1b9\"\n").unwrap();
    let served = serve(clients(&emu).await, 8).await;
    let mut c = served.client().await;
    let m = release(&clients(&emu).await, REGION).await;
    for p in [
        marker.display().to_string(),
        "/proc/self/environ".into(),
        "/etc/shadow".into(),
        dir.path().join("missing").display().to_string(),
    ] {
        let mut r = request(&m, &["t3.micro"]);
        r.guest = Some(pb::Guest {
            transport: "ssh".into(),
            ssh_cidr: "127.0.0.1/32".into(),
            profile_file: p.clone(),
            ssh_private_key_file: p.clone(),
            ssh_keypair_name: "k".into(),
            ..Default::default()
        });
        let e = c.validate(r).await.expect_err("refused");
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{p}: {e:?}");
        let m = e.message();
        assert!(m.contains("reads no file a request names"), "{p}: {m}");
        assert!(
            !m.contains("marker-5e1b9") && !m.contains("root:") && !m.contains("AWS_"),
            "{m}"
        );
    }
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_fifty_six_targets_work_and_one_more_is_refused() {
    let emu = Emulator::start(0.0);
    let served = serve(clients(&emu).await, 8).await;
    let mut c = served.client().await;
    let targets = |n: usize| -> Vec<pb::Target> {
        (0..n)
            .map(|i| pb::Target {
                region: REGION.into(),
                ami: format!("ami-{:017x}", i + 1),
                expect: None,
            })
            .collect()
    };
    let no_launch = Some(pb::Launch {
        launch: Some(false),
        ..Default::default()
    });
    let e = c
        .validate(pb::ValidateRequest {
            targets: targets(257),
            launch: no_launch.clone(),
            ..Default::default()
        })
        .await
        .expect_err("257 refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("at most 256"), "{e:?}");
    let events = support::grpc::events(
        &mut c,
        pb::ValidateRequest {
            targets: targets(256),
            launch: no_launch,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let Some(pb::validate_event::Event::Verdict(v)) = events.last() else {
        panic!("no verdict");
    };
    let report: amiforge_validator_api::Report = serde_json::from_slice(&v.report_json).unwrap();
    assert_eq!(
        report.suites.len(),
        256,
        "every AMI's suite is in the report"
    );
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callers_concurrent_runs_are_capped() {
    let emu = Emulator::start(0.0);
    // instances never pass their status checks: the first run stays in progress
    emu.configure(&serde_json::json!({"status_seconds": 3600}));
    let m = release(&clients(&emu).await, REGION).await;
    let mut config = ServeConfig::local(
        Listen::Unix(std::env::temp_dir().join(format!("v-{}.sock", std::process::id()))),
        8,
    );
    config.max_runs_per_caller = 1;
    let served = serve_with(clients(&emu).await, config, tempfile::tempdir().unwrap()).await;
    let mut c = served.client().await;
    let first = c.validate(request(&m, &["t3.micro"])).await.unwrap();
    let e = c
        .validate(request(&m, &["t3.micro"]))
        .await
        .expect_err("a second run of the same caller is refused");
    assert_eq!(e.code(), tonic::Code::ResourceExhausted, "{e:?}");
    assert!(e.message().contains("--max-runs-per-caller"), "{e:?}");
    drop(first);
    served.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_refuses_an_open_network_listener_and_audits_every_call() {
    let emu = Emulator::start(0.0);
    let (child, _, err) = serve_binary(&emu, &["--listen", "0.0.0.0:0"]);
    assert!(child.is_none(), "listened on 0.0.0.0 without protection");
    assert!(
        err.contains("--tls-cert") && err.contains("--token-file") && err.contains("--insecure"),
        "{err}"
    );
    let (child, line, _) = serve_binary(&emu, &["--listen", "0.0.0.0:0", "--insecure"]);
    let err = stop(child.expect("--insecure listens"));
    assert!(line.starts_with("listening on"), "{line}");
    assert!(err.contains("WARNING: listening beyond loopback"), "{err}");

    let (child, line, _) = serve_binary(&emu, &["--listen", "127.0.0.1:0"]);
    let child = child.expect("loopback needs nothing");
    let addr = line.trim().trim_start_matches("listening on ").to_string();
    let mut c = connect(&addr).await.unwrap();
    c.health(pb::HealthRequest {}).await.unwrap();
    let _ = c
        .sweep(pb::SweepRequest {
            regions: vec![REGION.into()],
            all: true,
            ..Default::default()
        })
        .await;
    let err = stop(child);
    let audit: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("amiforge_validator::audit"))
        .collect();
    assert_eq!(audit.len(), 2, "{err}");
    assert!(
        audit[0].contains("caller=local") && audit[0].contains("method=Health"),
        "{audit:?}"
    );
    assert!(
        audit[1].contains("Sweep") && audit[1].contains("PermissionDenied"),
        "{audit:?}"
    );
    assert!(
        audit.iter().all(|l| l.contains("peer=127.0.0.1:")),
        "{audit:?}"
    );
}
