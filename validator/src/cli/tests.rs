use clap::Parser;

use super::args::{CheckArgs, Cli, Command};
use super::check::host_check;

fn check_args(extra: &[&str]) -> Result<CheckArgs, clap::Error> {
    let mut v = vec!["amiforge-validator", "check"];
    v.extend_from_slice(extra);
    match Cli::try_parse_from(v)?.command {
        Command::Check(a) => Ok(*a),
        other => panic!("not check: {other:?}"),
    }
}

#[test]
fn check_flags_become_a_host_check() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, "x").unwrap();
    let sha = "ab".repeat(32);
    let h = host_check(
        &check_args(&[
            "--ssh",
            "admin@127.0.0.1:2222",
            "--key",
            key.to_str().unwrap(),
            "--report-sha256",
            &sha,
            "--check",
            "t=true",
        ])
        .unwrap(),
    )
    .unwrap();
    assert_eq!((h.user.as_str(), h.address.port), ("admin", 2222));
    assert_eq!(
        h.plan.hardening.unwrap().report_sha256.as_deref(),
        Some(sha.as_str())
    );
    assert_eq!(h.plan.checks.len(), 1);
    let e = host_check(
        &check_args(&[
            "--ssh",
            "127.0.0.1",
            "--key",
            "/nonexistent",
            "--report-sha256",
            "abc",
        ])
        .unwrap(),
    )
    .unwrap_err()
    .to_string();
    for w in [
        "--ssh: \"127.0.0.1\": write user@host",
        "--key: cannot read",
        "--report-sha256: \"abc\"",
    ] {
        assert!(e.contains(w), "{w} missing in {e}");
    }
    let e = host_check(
        &check_args(&[
            "--ssh",
            "a@h",
            "--key",
            key.to_str().unwrap(),
            "--no-hardening",
        ])
        .unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("nothing left to check"), "{e}");
    assert!(
        check_args(&[
            "--ssh",
            "a@h",
            "--key",
            "k",
            "--no-hardening",
            "--report-sha256",
            &sha
        ])
        .is_err()
    );
}

#[test]
fn serve_takes_an_address_and_a_positive_instance_limit() {
    let parse = |extra: &[&str]| {
        let mut v = vec!["amiforge-validator", "serve"];
        v.extend_from_slice(extra);
        Cli::try_parse_from(v).map(|c| c.command)
    };
    match parse(&["--listen", "unix:/run/v.sock"]).unwrap() {
        Command::Serve(a) => assert_eq!(
            (a.listen.as_str(), a.max_instances),
            ("unix:/run/v.sock", 8)
        ),
        c => panic!("{c:?}"),
    }
    assert!(parse(&[]).is_err(), "--listen is required");
    assert!(parse(&["--listen", "127.0.0.1:0", "--max-instances", "0"]).is_err());
}
