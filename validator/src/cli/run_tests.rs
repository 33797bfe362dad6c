use std::time::Duration;

use clap::Parser;

use super::*;
use crate::cli::args::{Cli, Command};
use amiforge_validator_api::Transport;

fn args(extra: &[&str]) -> RunArgs {
    let mut v = vec!["amiforge-validator", "run"];
    v.extend_from_slice(extra);
    match Cli::try_parse_from(v).unwrap().command {
        Command::Run(a) => *a,
        _ => unreachable!(),
    }
}

#[test]
fn guest_flags_become_the_guest_settings() {
    let dir = tempfile::tempdir().unwrap();
    let checks = dir.path().join("c.toml");
    std::fs::write(
        &checks,
        "[[check]]\nname = \"kernel\"\ncommand = \"uname -r\"\nexpect_output = \"^6\\\\.\"\n",
    )
    .unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, "x").unwrap();
    let r = request(&args(&[
        "--ami",
        "eu-west-1:ami-0123456789abcdef0",
        "--transport",
        "ssh",
        "--ssh-user",
        "admin",
        "--ssh-host",
        "127.0.0.1:2222",
        "--ssh-key-pair",
        "ci",
        "--ssh-key-file",
        key.to_str().unwrap(),
        "--ssh-cidr",
        "127.0.0.1/32",
        "--check",
        "nginx=systemctl is-active nginx,exit=0,output=^active$",
        "--checks",
        checks.to_str().unwrap(),
    ]))
    .unwrap();
    let g = &r.guest;
    assert_eq!(g.transport, Transport::Ssh);
    assert_eq!(g.ssh_username.as_deref(), Some("admin"));
    assert_eq!(g.ssh_keypair_name.as_deref(), Some("ci"));
    assert_eq!(g.check.len(), 2);
    assert_eq!(g.check[0].command, "systemctl is-active nginx");
    assert_eq!(g.check[0].expect_output.as_deref(), Some("^active$"));
    assert_eq!(g.check[1].name, "kernel");
    assert_eq!(g.check[1].expect_output.as_deref(), Some("^6\\."));
    // the default transport stays SSM
    let r = request(&args(&["--ami", "eu-west-1:ami-0123456789abcdef0"])).unwrap();
    assert_eq!(r.guest.transport, Transport::Ssm);
}

#[test]
fn bad_guest_flags_are_named() {
    let e = request(&args(&[
        "--ami",
        "eu-west-1:ami-0123456789abcdef0",
        "--transport",
        "ssh",
        "--check",
        "a b=true",
        "--check",
        "re=true,output=(",
    ]))
    .unwrap_err();
    let text = e.to_string();
    for w in [
        "guest.check[0].name",
        "guest.check[1].expect_output: not a regex",
        "guest.ssh_cidr: SSH to test instances needs ingress",
    ] {
        assert!(text.contains(w), "{w} missing in {text}");
    }
    assert!(Cli::try_parse_from(["amiforge-validator", "run", "--transport", "telnet"]).is_err());
    assert!(Cli::try_parse_from(["amiforge-validator", "run", "--check", "noequals"]).is_err());
    // a key pair name needs its key file
    assert!(Cli::try_parse_from(["amiforge-validator", "run", "--ssh-key-pair", "ci"]).is_err());
}

#[test]
fn flags_become_a_request() {
    let r = request(&args(&[
        "--ami",
        "eu-west-1:ami-0123456789abcdef0",
        "--kms-key",
        "eu-west-1=alias/images",
        "--require-tag",
        "team=platform",
        "--require-tag",
        "owner",
        "--instance-type",
        "t3.micro",
        "--instance-type",
        "m7g.large",
        "--timeout",
        "5m",
        "--strategy",
        "hybrid",
    ]))
    .unwrap();
    assert_eq!(r.targets[0].expect.kms_key.as_deref(), Some("alias/images"));
    assert_eq!(
        r.targets[0].expect.strategy,
        Some(amiforge_model::Strategy::Hybrid)
    );
    assert_eq!(r.policy.required_tags["team"], "platform");
    assert_eq!(r.policy.required_tags["owner"], "");
    assert_eq!(r.launch.instance_types, ["t3.micro", "m7g.large"]);
    assert_eq!(r.launch.timeout, Duration::from_secs(300));
}

#[test]
fn the_settings_names_are_the_flags_and_the_old_ones_still_work() {
    let new = request(&args(&[
        "--ami",
        "eu-west-1:ami-0123456789abcdef0",
        "--instance-types",
        "t3.micro,m7g.large",
        "--required-tags",
        "team=platform",
        "--poll-interval",
        "1s",
        "--no-launch",
        "--allow-imds-v1",
        "--boot-mode",
        "uefi",
    ]))
    .unwrap();
    let old = request(&args(&[
        "--ami",
        "eu-west-1:ami-0123456789abcdef0",
        "--instance-type",
        "t3.micro",
        "--instance-type",
        "m7g.large",
        "--require-tag",
        "team=platform",
        "--poll",
        "1s",
        "--no-launch",
        "--allow-imds-v1",
        "--boot-mode",
        "uefi",
    ]))
    .unwrap();
    assert_eq!(new, old);
    assert!(!new.launch.launch && new.policy.allow_imds_v1);
    assert!(Cli::try_parse_from(["amiforge-validator", "run", "--boot-mode", "bios"]).is_err());
}

#[test]
fn bad_flags_are_named() {
    let e = request(&args(&[
        "--ami",
        "eu-west-1:ami-0123456789abcdef0",
        "--kms-key",
        "us-west-2=alias/x",
    ]))
    .unwrap_err();
    assert!(e.lines()[0].starts_with("--kms-key us-west-2"), "{e}");
    let e = request(&args(&[])).unwrap_err();
    assert!(e.lines()[0].contains("--manifest"), "{e}");
    assert!(Cli::try_parse_from(["amiforge-validator", "run", "--kms-key", "nokey"]).is_err());
    assert!(Cli::try_parse_from(["amiforge-validator", "run", "--strategy", "forever"]).is_err());
}
