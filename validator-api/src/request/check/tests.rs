use super::*;
use crate::request::Expect;

fn one(region: &str, ami: &str) -> Request {
    Request::new(vec![Target {
        region: region.into(),
        ami: ami.into(),
        expect: Expect::default(),
    }])
}

fn lines(r: &Request) -> Vec<String> {
    r.check().unwrap_err().lines()
}

#[test]
fn a_good_request_passes() {
    one("eu-west-1", "ami-0123456789abcdef0").check().unwrap();
}

#[test]
fn every_problem_names_its_field() {
    let mut r = one("eu_west_1", "ami-xyz");
    r.launch.instance_types = vec!["t3micro".into()];
    r.launch.max_parallel = 0;
    r.launch
        .subnets
        .insert("us-west-2".into(), "subnet-1".into());
    r.run_id = "a b".into();
    let e = lines(&r);
    let want = [
        "targets[0].region: \"eu_west_1\"",
        "targets[0].ami: \"ami-xyz\"",
        "launch.instance_types[0]: \"t3micro\"",
        "launch.max_parallel",
        "launch.subnets[\"us-west-2\"]: no AMI to validate in us-west-2",
        "run_id: \"a b\"",
    ];
    for w in want {
        assert!(e.iter().any(|m| m.starts_with(w)), "{w} missing in {e:#?}");
    }
    assert_eq!(e.len(), want.len(), "{e:#?}");
}

#[test]
fn launch_limits_are_the_same_for_every_front_end() {
    let mut r = one("eu-west-1", "ami-0123456789abcdef0");
    r.launch.max_parallel = 101;
    r.launch.instance_types.clear();
    r.launch.poll_interval = Duration::from_millis(10);
    r.launch
        .security_groups
        .insert("eu-west-1".into(), " , ".into());
    let e = lines(&r);
    let want = [
        "launch.max_parallel: between 1 and 100",
        "launch.instance_types: name at least one",
        "launch.poll_interval: must be at least 100ms",
        "launch.security_groups[\"eu-west-1\"]: empty",
    ];
    for w in want {
        assert!(e.iter().any(|m| m.starts_with(w)), "{w} missing in {e:#?}");
    }
    assert_eq!(e.len(), want.len(), "{e:#?}");
    // nothing about launches is checked when nothing is launched
    r.launch.launch = false;
    r.check().unwrap();
}

#[test]
fn guest_settings_name_their_fields() {
    let mut r = one("eu-west-1", "ami-0123456789abcdef0");
    r.guest.transport = Transport::Ssh;
    r.guest.ssh_username = Some("-oProxy".into());
    r.guest.ssh_host = Some("a b".into());
    r.guest.ssh_cidr = Some("10.0.0.0/33".into());
    r.guest.ssh_keypair_name = Some("ci".into());
    r.guest.check = vec![
        UserCheck {
            name: "a".into(),
            command: " ".into(),
            expect_exit: 0,
            expect_output: None,
        },
        UserCheck {
            name: "a".into(),
            command: "true".into(),
            expect_exit: 256,
            expect_output: Some("[".into()),
        },
    ];
    let e = lines(&r);
    let want = [
        "guest.check[0].command: empty",
        "guest.check[1].name: \"a\" is used twice",
        "guest.check[1].expect_exit: 256",
        "guest.check[1].expect_output: not a regex",
        "guest.ssh_username:",
        "guest.ssh_host:",
        "guest.ssh_cidr: \"10.0.0.0/33\"",
        "guest.ssh_private_key_file: give the private key",
    ];
    for w in want {
        assert!(e.iter().any(|m| m.starts_with(w)), "{w} missing in {e:#?}");
    }
    assert_eq!(e.len(), want.len(), "{e:#?}");
    // SSH with a group the user gives: no CIDR needed
    let mut r = one("eu-west-1", "ami-0123456789abcdef0");
    r.guest.transport = Transport::Ssh;
    r.guest.check = vec!["t=true".parse().unwrap()];
    assert!(lines(&r)[0].starts_with("guest.ssh_cidr: SSH to test instances"));
    r.launch
        .security_groups
        .insert("eu-west-1".into(), "sg-1".into());
    r.check().unwrap();
    r.launch.security_groups.clear();
    r.guest.ssh_cidr = Some("127.0.0.1/32".into());
    r.check().unwrap();
}

#[test]
fn ssh_settings_need_ssh_and_checks_need_instances() {
    let mut r = one("eu-west-1", "ami-0123456789abcdef0");
    r.guest.ssh_username = Some("admin".into());
    r.guest.check = vec!["t=true".parse().unwrap()];
    r.launch.launch = false;
    let e = lines(&r);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].starts_with("guest.ssh_username: only used with transport = \"ssh\""));
    assert!(e[1].starts_with("guest.check: in-guest checks need test instances"));
}

#[test]
fn ids_parse_like_packer_artifacts() {
    let t = Request::targets_from_ids(
        "us-east-1:ami-0123456789abcdef0,eu-west-1:ami-0123456789abcdef1",
        "--ami",
    )
    .unwrap();
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].region, "eu-west-1");
    let e = Request::targets_from_ids("nonsense", "--ami").unwrap_err();
    assert_eq!(e.to_string(), "--ami: \"nonsense\" is not region:ami-id");
}

#[test]
fn requests_round_trip_as_json_with_readable_durations() {
    let r = one("eu-west-1", "ami-0123456789abcdef0");
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["launch"]["timeout"], "15m");
    let back: Request = serde_json::from_value(j).unwrap();
    assert_eq!(back, r);
    let minimal: Request = serde_json::from_str(
        r#"{"targets":[{"region":"eu-west-1","ami":"ami-0123456789abcdef0"}]}"#,
    )
    .unwrap();
    assert_eq!(minimal.launch, Launch::default());
}
