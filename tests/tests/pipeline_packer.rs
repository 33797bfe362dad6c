//! The whole golden pipeline in a real `packer build` (Debian's Packer 1.6.6): `amazon-ebs` on
//! the AWS emulator with its SSH pointed at the sandboxed sshd → `amiforge-harden` →
//! `amiforge-replicate` (3 regions, per-region KMS) → `amiforge-validate` (a local
//! `amiforge-validator serve` on a unix socket: attribute gate, a test instance per region, the
//! hardening profile re-run in audit mode over SSH on the sandbox, a user check) → JUnit + the
//! approved SSM pointer. A target weakened after hardening fails the gate: the build fails, the
//! pointer stays where it was, and the release is deleted (or kept, marked failed, with
//! `on_failure = "keep"`, here through a shared validator at `address`); an unreachable
//! validator is no verdict, treated as a failure. Bad gate settings are named by `packer validate`.

use std::collections::BTreeMap;

use amiforge_aws::client::Clients;
use amiforge_aws::{images, instances, ssm};
use amiforge_e2e::emulator::{Emulator, clients, create_kms_key};
use amiforge_e2e::packer::{PackerOutput, Workdir};
use amiforge_e2e::sandbox::Sandbox;
use amiforge_e2e::templates::{IMAGES_KEY, harden_and_replicate};
use amiforge_e2e::{amiforge_bin, validator_bin};
use amiforge_model::manifest::Manifest;
use amiforge_model::tags;

const REGIONS: [&str; 3] = ["eu-west-1", "us-west-2", "ap-southeast-2"];
const ALL: [&str; 4] = ["us-east-1", "eu-west-1", "us-west-2", "ap-southeast-2"];
const APPROVED: &str = "/amiforge/web/approved";
const OLD: &str = "ami-0badc0ffee0000001";

fn packer(w: &Workdir, emu: &Emulator, args: &[&str]) -> PackerOutput {
    w.packer_with_env(args, &emu.env())
}

/// KMS alias `alias/images` in every region, the sandbox's key imported as key pair `sandbox`
/// in every region (the gate's SSH logs in with it), and the approved pointer at an old AMI.
async fn prepare(c: &Clients, sbx: &Sandbox) {
    let public = std::fs::read(sbx.key.with_extension("pub")).expect("sandbox public key");
    for r in ALL {
        create_kms_key(c, r, Some(IMAGES_KEY)).await;
        c.ec2(r)
            .import_key_pair()
            .key_name("sandbox")
            .public_key_material(aws_smithy_types::Blob::new(public.clone()))
            .send()
            .await
            .unwrap();
        c.ssm(r)
            .put_parameter()
            .name(APPROVED)
            .value(OLD)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    }
}

/// Everything a pipeline build needs: the emulator (1 s copies, 0.5 s to running and to status
/// checks), a sandbox as every instance's SSH target, [`prepare`]d AWS, a workdir with the plugin.
async fn pipeline() -> (Emulator, Sandbox, Clients, Workdir) {
    let emu = Emulator::start(1.0);
    emu.configure(&serde_json::json!({"launch_seconds": 0.5, "status_seconds": 0.5}));
    let sbx = Sandbox::start();
    let c = clients(&emu).await;
    prepare(&c, &sbx).await;
    let w = Workdir::new();
    w.link(&amiforge_bin(), "packer-plugin-amiforge");
    (emu, sbx, c, w)
}

/// The golden build with the gate after replication; `weaken` adds drift after hardening,
/// `gate_extra` more gate attributes. With an `address` among them (a shared validator, which
/// reads no file a request names) the key goes by the name its operator gave it
/// (`serve --ssh-key sandbox=…`), else as the file.
fn template(emu: &Emulator, sbx: &Sandbox, weaken: bool, gate_extra: &str) -> String {
    let key = if gate_extra.contains("address") {
        "ssh_private_key_name = \"sandbox\"".to_string()
    } else {
        format!("ssh_private_key_file = \"{}\"", sbx.key.display())
    };
    let weaken = if weaken {
        // drift after hardening: what the gate's in-guest audit must catch
        "  provisioner \"shell\" {\n    inline = [\"sudo chmod 0666 /etc/shadow\"]\n  }\n"
    } else {
        ""
    };
    let source = emu.amazon_ebs_source(&format!(
        "  encrypt_boot         = true\n  kms_key_id           = \"{IMAGES_KEY}\"\n{}",
        sbx.ssh_settings_hcl()
    ));
    let gate = format!(
        r#"    post-processor "amiforge-validate" {{
      validator_path       = "{validator}"
      timeout              = "2m"
      poll_interval        = "200ms"
      transport            = "ssh"
      ssh_username         = "admin"
      ssh_host             = "127.0.0.1:{port}"
      ssh_keypair_name     = "sandbox"
      {key}
      ssh_cidr             = "127.0.0.1/32"
      required_tags        = {{ team = "platform" }}
      junit_path           = "out/validation.xml"
      report_path          = "out/validation.json"
      approved_parameter   = "{APPROVED}"
      check {{
        name          = "sshd-config"
        command       = "/usr/sbin/sshd -t && echo sshd-ok"
        expect_output = "sshd-ok"
      }}
{gate_extra}
    }}
"#,
        port = sbx.port,
        validator = validator_bin().display(),
    );
    harden_and_replicate(&source, &REGIONS, weaken, "", &gate)
}

fn manifest(w: &Workdir) -> Manifest {
    serde_json::from_slice(&std::fs::read(w.path().join("out/manifest.json")).unwrap()).unwrap()
}

async fn approved(c: &Clients) -> BTreeMap<String, Option<String>> {
    let mut m = BTreeMap::new();
    for r in ALL {
        m.insert(
            r.to_string(),
            ssm::get_parameter(c, r, APPROVED).await.unwrap(),
        );
    }
    m
}

async fn assert_no_validator_leftovers(c: &Clients) {
    tokio::time::sleep(amiforge_e2e::emulator::settle_time()).await;
    for r in ALL {
        let t = instances::find_tagged(c, r, tags::MANAGED_BY, "amiforge-validator")
            .await
            .unwrap();
        assert!(t.is_empty(), "{r}: the validator left {t:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_golden_pipeline_passes_the_gate_and_moves_the_approved_pointer() {
    let (emu, sbx, c, w) = pipeline().await;
    w.write("t.pkr.hcl", &template(&emu, &sbx, false, ""));
    packer(&w, &emu, &["validate", "t.pkr.hcl"]).assert_ok();
    let out = packer(&w, &emu, &["build", "-color=false", "t.pkr.hcl"]);
    out.assert_ok()
        .assert_contains("amiforge-validate: validating 4 AMI(s)")
        .assert_contains("guest.hardening")
        .assert_contains("verdict:");
    let m = manifest(&w);
    assert_eq!(m.regions.len(), 4);
    // the JSON report: passed, every region launched and checked in-guest
    let r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(w.path().join("out/validation.json")).unwrap())
            .unwrap();
    assert_eq!(r["verdict"], "passed", "{r:#}");
    for (region, e) in &m.regions {
        let suites: Vec<&serde_json::Value> = r["suites"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["region"] == region.as_str() && s["ami"] == e.ami.as_str())
            .collect();
        assert_eq!(suites.len(), 2, "{region}: attributes + one instance");
        let names: Vec<&str> = suites
            .iter()
            .flat_map(|s| s["checks"].as_array().unwrap())
            .filter(|c| c["status"] == "passed")
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        for want in [
            "ami.encrypted",
            "ami.launch-permissions",
            "instance.status-checks",
            "guest.evidence",
            "guest.hardening",
            "guest.user:sshd-config",
        ] {
            assert!(
                names.contains(&want),
                "{region}: {want} did not pass: {names:?}"
            );
        }
    }
    // JUnit for CI
    let x = std::fs::read_to_string(w.path().join("out/validation.xml")).unwrap();
    assert_eq!(x.matches("<testsuite ").count(), 8, "{x}");
    assert!(x.contains(r#"failures="0""#), "{x}");
    // promoted: tagged, pointer moved to each region's AMI
    let ptr = approved(&c).await;
    for (region, e) in &m.regions {
        assert_eq!(ptr[region].as_deref(), Some(e.ami.as_str()), "{region}");
        let img = images::describe(&c, region, &e.ami).await.unwrap().unwrap();
        assert_eq!(
            img.tags.get("amiforge:validation").map(String::as_str),
            Some("passed")
        );
        assert_eq!(
            img.tags.get("amiforge:validation-run"),
            r["run_id"].as_str().map(str::to_string).as_ref()
        );
    }
    assert_no_validator_leftovers(&c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_weakened_after_hardening_fails_the_gate_and_the_pointer_stays() {
    let (emu, sbx, c, w) = pipeline().await;
    let before = approved(&c).await;

    // default on_failure = delete: the build fails naming the control, the release is gone
    w.write("t.pkr.hcl", &template(&emu, &sbx, true, ""));
    let out = packer(&w, &emu, &["build", "-color=false", "t.pkr.hcl"]);
    out.assert_failed()
        .assert_contains("(started for this build)")
        .assert_contains("guest.hardening")
        .assert_contains("the validation gate failed")
        .assert_contains("the approved pointer was not moved");
    let text = out.combined();
    assert!(
        text.contains("shadow"),
        "the failing control is named:\n{text}"
    );
    assert_eq!(approved(&c).await, before, "the approved pointer moved");
    let m = manifest(&w);
    for (region, e) in &m.regions {
        let img = images::describe(&c, region, &e.ami).await.unwrap();
        assert!(img.is_none(), "{region}: {} survived a failed gate", e.ami);
    }
    let x = std::fs::read_to_string(w.path().join("out/validation.xml")).unwrap();
    assert!(
        x.contains("<failure") && x.contains("guest.hardening"),
        "{x}"
    );
    assert_no_validator_leftovers(&c).await;

    // on_failure = keep, through a shared validator (`address`): kept for debugging, but marked
    // failed and deprecated; pointer unmoved
    let port = amiforge_e2e::free_port();
    let mut server = std::process::Command::new(validator_bin())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg(format!("--ssh-key=sandbox={}", sbx.key.display()))
        .envs(emu.env())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    let runs_before = emu.count("RunInstances", Some("ok"));
    w.write(
        "t.pkr.hcl",
        &template(
            &emu,
            &sbx,
            true,
            &format!("      on_failure = \"keep\"\n      address = \"127.0.0.1:{port}\""),
        ),
    );
    let out = packer(&w, &emu, &["build", "-color=false", "t.pkr.hcl"]);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    out.assert_failed()
        .assert_contains("tagged amiforge:validation=failed")
        .assert_contains(&format!("validator at 127.0.0.1:{port} (shared)"));
    assert_eq!(
        emu.count("RunInstances", Some("ok")) - runs_before,
        5,
        "the build's instance + one test instance per region"
    );
    assert_eq!(approved(&c).await, before, "the approved pointer moved");
    let m = manifest(&w);
    let now = std::time::SystemTime::now();
    for (region, e) in &m.regions {
        let img = images::describe(&c, region, &e.ami)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{region}: kept AMI {} is gone", e.ami));
        assert_eq!(
            img.tags.get("amiforge:validation").map(String::as_str),
            Some("failed")
        );
        assert_ne!(
            img.tags.get("amiforge:validation").map(String::as_str),
            Some("passed")
        );
        let dep = img.deprecation_time.expect("deprecated");
        let dep =
            humantime::parse_rfc3339_weak(dep.trim_end_matches('Z').split('.').next().unwrap())
                .unwrap();
        assert!(
            dep <= now + std::time::Duration::from_secs(60),
            "{region}: deprecated now"
        );
    }
    assert_no_validator_leftovers(&c).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_verdict_is_not_a_pass_when_the_validator_is_unreachable() {
    let (emu, sbx, c, w) = pipeline().await;
    let before = approved(&c).await;
    // nothing listens there
    let port = amiforge_e2e::free_port();
    w.write(
        "t.pkr.hcl",
        &template(
            &emu,
            &sbx,
            false,
            &format!("      address = \"127.0.0.1:{port}\""),
        ),
    );
    let out = packer(&w, &emu, &["build", "-color=false", "t.pkr.hcl"]);
    out.assert_failed()
        .assert_contains("no verdict")
        .assert_contains(&format!("connecting to the validator at 127.0.0.1:{port}"));
    assert_eq!(approved(&c).await, before, "the approved pointer moved");
    for (region, e) in &manifest(&w).regions {
        let img = images::describe(&c, region, &e.ami).await.unwrap();
        assert!(
            img.is_none(),
            "{region}: {} survived a gate without verdict",
            e.ami
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_gate_settings_are_named_by_packer_validate() {
    let emu = Emulator::start(0.0);
    let sbx = Sandbox::start();
    let w = Workdir::new();
    w.link(&amiforge_bin(), "packer-plugin-amiforge");
    let cases: &[(&str, &str)] = &[
        (
            "      on_failure = \"shrug\"",
            "on_failure: \"shrug\": use delete or keep",
        ),
        (
            "      address = \"nowhere\"",
            "address: \"nowhere\": write host:port",
        ),
        (
            "      instance_types = [\"huge\"]",
            "instance_types[0]: \"huge\" is not an instance type",
        ),
        ("      boot_mode = \"bios\"", "boot_mode: \"bios\""),
        (
            "      subnets = { \"eu-west-1\" = \"vpc-1\" }",
            "subnets[\"eu-west-1\"]: \"vpc-1\" is not a subnet id",
        ),
        (
            "      security_groups = { \"eu-west-1\" = \"sg-1, default\" }",
            "security_groups[\"eu-west-1\"]: \"default\" is not a security group id",
        ),
        (
            "      check {\n        name = \"x\"\n        command = \"true\"\n        expect_output = \"(\"\n      }",
            "check[1].expect_output: not a regex",
        ),
    ];
    for (extra, want) in cases {
        w.write("t.pkr.hcl", &template(&emu, &sbx, false, extra));
        packer(&w, &emu, &["validate", "t.pkr.hcl"])
            .assert_failed()
            .assert_contains(want);
    }
    // per-region settings for regions the release will have are fine at validate time
    w.write(
        "t.pkr.hcl",
        &template(
            &emu,
            &sbx,
            false,
            "      subnets = { \"eu-west-1\" = \"subnet-0abc\" }",
        ),
    );
    packer(&w, &emu, &["validate", "t.pkr.hcl"]).assert_ok();
    // the validator's own rules, named at validate time by their attribute
    let t = template(&emu, &sbx, false, "")
        .replace("      ssh_cidr             = \"127.0.0.1/32\"\n", "");
    w.write("t.pkr.hcl", &t);
    packer(&w, &emu, &["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("ssh_cidr: SSH to test instances needs ingress on tcp/22");
    w.write(
        "t.pkr.hcl",
        &template(&emu, &sbx, false, "").replace(
            "ssh_username         = \"admin\"",
            "ssh_username         = \"ad min\"",
        ),
    );
    packer(&w, &emu, &["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("ssh_username: ");
    // ssh settings without transport = "ssh"
    let t = template(&emu, &sbx, false, "").replace(
        "transport            = \"ssh\"",
        "transport            = \"ssm\"",
    );
    w.write("t.pkr.hcl", &t);
    packer(&w, &emu, &["validate", "t.pkr.hcl"])
        .assert_failed()
        .assert_contains("ssh_host: only used with transport = \"ssh\"");
}
