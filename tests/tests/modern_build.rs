//! `packer build` with Packer 1.16 (built from its Go module, `tests/modern/`) on the examples
//! as users have them (`hcl-examples/*`, HCL2), the plugin and the amazon plugin installed with
//! `packer plugins install --path`, every component started with `--protobuf`:
//! hardened-linux (null → amiforge-harden enforce, then audit), replicated (amazon-ebs on the AWS
//! emulator → harden → replicate to three regions → Packer's manifest) and the golden pipeline
//! (… → amiforge-validate: test instances, in-guest audit over SSH, JUnit, approved pointer);
//! and Ctrl-C while replication copies, which must leave no copy behind.
//!
//! Not here yet: the HCP Packer metadata of our artifacts, which the distribution issue adds.

use std::path::Path;
use std::time::{Duration, Instant};

use amiforge_aws::client::Clients;
use amiforge_aws::{images, ssm};
use amiforge_e2e::emulator::{Emulator, HOME_REGION, clients, create_kms_key};
use amiforge_e2e::modern::{emulator_for_amazon_builds, install};
use amiforge_e2e::packer::{PackerOutput, Workdir};
use amiforge_e2e::sandbox::Sandbox;
use amiforge_e2e::templates::{IMAGES_KEY, harden_and_replicate};
use amiforge_e2e::{target_dir, workspace};
use amiforge_model::manifest::Manifest;
use amiforge_profile::report::Report;

const REGIONS: [&str; 3] = ["eu-west-1", "us-west-2", "ap-southeast-2"];

/// A modern work directory with both plugins installed and `example`'s template copied in.
fn workdir(example: &str) -> Workdir {
    let w = Workdir::modern();
    install(&w);
    let src = workspace().join("hcl-examples").join(example);
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        if e.path().extension().is_some_and(|x| x == "hcl") {
            std::fs::copy(e.path(), w.path().join(e.file_name())).unwrap();
        }
    }
    w
}

/// Packer's environment for a build on `emu`: its endpoint and test credentials, and
/// `amiforge-validator` on `PATH` (an installed plugin is a copy in the plugin directory, so
/// the gate does not find the validator beside it as it does for a 1.6.6 link).
fn env(emu: &Emulator) -> Vec<(String, String)> {
    let mut env = emu.env();
    let path = std::env::var("PATH").unwrap_or_default();
    env.push(("PATH".into(), format!("{}:{path}", target_dir().display())));
    env
}

fn vars(sbx: &Sandbox, emu: Option<&Emulator>) -> Vec<String> {
    let mut v = vec![
        format!("ssh_port={}", sbx.port),
        format!("ssh_private_key_file={}", sbx.key.display()),
    ];
    if let Some(emu) = emu {
        v.push(format!("endpoint={}", emu.endpoint()));
        v.push("ssh_host=127.0.0.1".into());
    }
    v
}

fn packer(
    w: &Workdir,
    env: &[(String, String)],
    cmd: &str,
    vars: &[String],
    file: &str,
) -> PackerOutput {
    let mut args = vec![cmd.to_string()];
    if cmd == "build" {
        args.push("-color=false".into());
    }
    for v in vars {
        args.push("-var".into());
        args.push(v.clone());
    }
    args.push(file.into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    w.packer_with_env(&args, env)
}

fn report(path: &Path) -> Report {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn manifest(w: &Workdir) -> Manifest {
    serde_json::from_slice(&std::fs::read(w.path().join("reports/manifest.json")).unwrap()).unwrap()
}

#[test]
fn hardened_linux_example_enforces_then_audits_clean() {
    let sbx = Sandbox::start();
    let w = workdir("hardened-linux");
    let v = vars(&sbx, None);
    let log = w.path().join("packer.log");
    let env = [
        ("PACKER_LOG".to_string(), "1".to_string()),
        ("PACKER_LOG_PATH".to_string(), log.display().to_string()),
    ];
    packer(&w, &env, "validate", &v, "hardened-linux.pkr.hcl").assert_ok();
    packer(&w, &env, "build", &v, "hardened-linux.pkr.hcl")
        .assert_ok()
        .assert_contains("amiforge-harden: profile linux-baseline 1.0.0 (enforce)")
        .assert_contains("amiforge-harden: profile linux-baseline 1.0.0 (audit)");
    let enforce = report(&w.path().join("reports/hardening.json"));
    let audit = report(&w.path().join("reports/hardening-audit.json"));
    assert_eq!(enforce.summary.failed, 0, "{:?}", enforce.summary);
    assert!(enforce.summary.total >= 60);
    assert_eq!(audit.summary.failed, 0, "the audit re-run finds nothing");
    assert_eq!(audit.summary.total, enforce.summary.total);
    // Packer 1.16 started the installed binary with --protobuf between kind and name
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("packer-plugin-amiforge_v")
            && log.contains("start provisioner --protobuf harden"),
        "{log}"
    );
    let shadow = std::fs::metadata(sbx.file("/etc/shadow")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&shadow.permissions()) & 0o777,
        0o640,
        "the weakened /etc/shadow was fixed in the sandbox"
    );
}

/// KMS alias `alias/images` in `regions`.
async fn kms(c: &Clients, regions: &[&str]) {
    for r in regions {
        create_kms_key(c, r, Some(IMAGES_KEY)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicated_example_builds_replicates_and_records() {
    let emu = emulator_for_amazon_builds(1.0);
    let sbx = Sandbox::start();
    let c = clients(&emu).await;
    kms(&c, &REGIONS).await;
    let w = workdir("replicated");
    let (env, v) = (env(&emu), vars(&sbx, Some(&emu)));
    packer(&w, &env, "validate", &v, "replicated.pkr.hcl").assert_ok();
    packer(&w, &env, "build", &v, "replicated.pkr.hcl")
        .assert_ok()
        .assert_contains("amiforge-replicate: 4 region(s) ready");
    let m = manifest(&w);
    assert!(m.verify(), "the manifest's own sha256 matches");
    assert_eq!(m.regions.len(), 4);
    assert!(m.regions[HOME_REGION].source);
    for r in REGIONS {
        let e = &m.regions[r];
        let img = images::describe(&c, r, &e.ami)
            .await
            .unwrap()
            .expect("copy");
        assert_eq!(img.state, "available");
        assert_eq!(img.tags.get("service").map(String::as_str), Some("web"));
        let latest = ssm::get_parameter(&c, r, "/images/web/latest")
            .await
            .unwrap();
        assert_eq!(latest.as_deref(), Some(e.ami.as_str()), "{r}");
    }
    // Packer's own manifest post-processor recorded our artifact
    let pm: serde_json::Value = serde_json::from_slice(
        &std::fs::read(w.path().join("reports/packer-manifest.json")).unwrap(),
    )
    .unwrap();
    let last = pm["builds"].as_array().unwrap().last().unwrap();
    assert_eq!(last["artifact_id"], m.artifact_id());
}

#[tokio::test(flavor = "multi_thread")]
async fn golden_pipeline_example_passes_the_gate() {
    let emu = emulator_for_amazon_builds(1.0);
    emu.configure(&serde_json::json!({"launch_seconds": 0.5, "status_seconds": 0.5}));
    let sbx = Sandbox::start();
    let c = clients(&emu).await;
    let all = [HOME_REGION, REGIONS[0], REGIONS[1], REGIONS[2]];
    kms(&c, &all).await;
    let public = std::fs::read(sbx.key.with_extension("pub")).unwrap();
    for r in all {
        c.ec2(r)
            .import_key_pair()
            .key_name("golden-validator")
            .public_key_material(aws_smithy_types::Blob::new(public.clone()))
            .send()
            .await
            .unwrap();
    }
    let w = workdir("golden-pipeline");
    let env = env(&emu);
    let mut v = vars(&sbx, Some(&emu));
    v.push(format!("validator_ssh_host=127.0.0.1:{}", sbx.port));
    packer(&w, &env, "validate", &v, "pipeline.pkr.hcl").assert_ok();
    packer(&w, &env, "build", &v, "pipeline.pkr.hcl")
        .assert_ok()
        .assert_contains("amiforge-validate");
    let verdict: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path().join("reports/validation.json")).unwrap())
            .unwrap();
    assert_eq!(verdict["verdict"], "passed", "{verdict:#}");
    let junit = std::fs::read_to_string(w.path().join("reports/validation.xml")).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
    let m = manifest(&w);
    for r in all {
        let approved = ssm::get_parameter(&c, r, "/images/web/approved")
            .await
            .unwrap();
        assert_eq!(approved.as_deref(), Some(m.regions[r].ami.as_str()), "{r}");
    }
}

/// Ctrl-C (SIGINT to Packer's process group) while the copies are pending: Packer 1.16 cancels
/// the post-processor over RPC, amiforge-replicate deletes every copy it started, the build
/// fails, and nothing is left in the replica regions.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_replication_leaves_no_copies() {
    let emu = emulator_for_amazon_builds(60.0);
    let c = clients(&emu).await;
    kms(&c, &REGIONS).await;
    let w = Workdir::modern();
    install(&w);
    let source = emu.amazon_ebs_source("  communicator = \"none\"\n");
    let t = harden_and_replicate(&source, &REGIONS, "", "", "")
        .replace(
            "  provisioner \"amiforge-harden\" {\n    report_path = \"out/hardening.json\"\n  }\n",
            "",
        )
        .replace("      hardening_report   = \"out/hardening.json\"\n", "");
    w.write("t.pkr.hcl", &t);
    let run = w.spawn_with_env(&["build", "-color=false", "t.pkr.hcl"], &env(&emu));
    assert!(
        run.wait_for_line("region(s), ", Duration::from_secs(120)),
        "replication never started"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while emu.count("CopyImage", Some("ok")) < REGIONS.len() {
        assert!(Instant::now() < deadline, "the copies never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    let interrupted = Instant::now();
    run.interrupt();
    let out = run.finish(Duration::from_secs(120));
    let took = interrupted.elapsed();
    out.assert_failed()
        .assert_contains("amiforge-replicate failed (cancelled)");
    assert!(
        took < Duration::from_secs(45),
        "Packer took {took:?} to stop"
    );
    for r in REGIONS {
        let left = c
            .ec2(r)
            .describe_images()
            .owners("self")
            .send()
            .await
            .unwrap();
        assert!(
            left.images().is_empty(),
            "{r}: copies left after Ctrl-C: {:?}",
            left.images()
                .iter()
                .map(|i| i.image_id())
                .collect::<Vec<_>>()
        );
    }
}
