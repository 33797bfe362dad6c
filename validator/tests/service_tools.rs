//! What people running the validator as a service use besides `serve`: `--version` (the
//! version `Health` reports), `completions` and `man` generated from the flags, and `health`
//! against a real served binary: serving with the right token (exit 0, version and load), no
//! token (refused, exit 3 at once), a bad address (exit 2), nothing listening (exit 3 only after
//! `--wait`).

mod support;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use amiforge_e2e::emulator::Emulator;
use amiforge_validator::api::auth::new_token;
use support::process::{serve_binary, stop};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn validator(args: &[&str], token: Option<&str>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_amiforge-validator"));
    c.args(args).env_remove("AMIFORGE_VALIDATOR_TOKEN");
    if let Some(t) = token {
        c.env("AMIFORGE_VALIDATOR_TOKEN", t);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn version_completions_and_man_pages_come_from_the_flags() {
    let out = validator(&["--version"], None);
    assert!(out.status.success());
    assert_eq!(text(&out).0.trim(), format!("amiforge-validator {VERSION}"));

    let out = validator(&["completions", "bash"], None);
    let (script, _) = text(&out);
    assert!(out.status.success());
    for flag in ["--max-targets", "--token-file", "--ssh-key", "--wait"] {
        assert!(script.contains(flag), "bash completion lacks {flag}");
    }
    let out = validator(&["completions", "tcsh"], None);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is bad input");
    assert!(text(&out).1.contains("tcsh"));

    let dir = tempfile::tempdir().unwrap();
    let out = validator(&["man", "--out", dir.path().to_str().unwrap()], None);
    assert!(out.status.success(), "{:?}", text(&out));
    let page = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap();
    assert!(page("amiforge-validator.1").contains(".TH amiforge-validator 1"));
    let serve = page("amiforge-validator-serve.1");
    assert!(serve.contains("\\-\\-allow\\-path"), "{serve}");
    assert!(page("amiforge-validator-health.1").contains("\\-\\-wait"));
    let listed: Vec<String> = text(&out).0.lines().map(str::to_string).collect();
    assert_eq!(listed.len(), std::fs::read_dir(dir.path()).unwrap().count());
}

#[tokio::test(flavor = "multi_thread")]
async fn health_says_serving_only_with_a_token_the_server_knows() {
    let emu = Emulator::start(0.0);
    let dir = tempfile::tempdir().unwrap();
    let (token, line) = new_token("ops").unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{line}\n")).unwrap();
    let (child, listening, _) = serve_binary(
        &emu,
        &[
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            tokens.to_str().unwrap(),
        ],
    );
    let child = child.expect("serves");
    let addr = listening
        .trim()
        .trim_start_matches("listening on ")
        .to_string();

    let out = validator(&["health", &addr], Some(&token));
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}{err}");
    assert!(
        said.starts_with(&format!("serving: amiforge-validator {VERSION} at {addr}")),
        "{said}"
    );
    assert!(said.contains("0 runs in progress"), "{said}");

    // no token: refused at once even with a long --wait, and the token is nowhere in the output
    let started = Instant::now();
    let out = validator(&["health", &addr, "--wait", "30s"], None);
    let (said, err) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{said}{err}");
    assert!(err.contains("refused"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    let audit = stop(child);
    assert!(!audit.contains(&token));
    assert!(audit.contains("method=Health"), "{audit}");
}

#[test]
fn health_of_nothing_waits_then_fails_and_a_bad_address_is_bad_input() {
    let out = validator(&["health", "ftp://x"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("not a validator address"));

    // a port nothing listens on: keeps asking for --wait, then exit 3
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let out = validator(
        &["health", &format!("127.0.0.1:{port}"), "--wait", "2s"],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{:?}", text(&out));
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(text(&out).1.contains("not serving"), "{:?}", text(&out));
}
