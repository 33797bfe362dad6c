//! One spelling of every setting: the HCL attributes of each settings struct (its `HclSpec`), the
//! proto message of the same name (compiled from `proto/` here) and the `amiforge-validator run`
//! flags (its `clap::Args`) name the same fields. The only differences are listed, with why.

use std::collections::BTreeSet;

use amiforge_validator_api::settings::{Guest, Launch, Policy, UserCheck};
use packer_sdk::spec::HclSpec;

/// Field names of message `name` in the validator's proto.
fn proto_fields(name: &str) -> BTreeSet<String> {
    let fds = protox::compile(["amiforge/validator/v1/validator.proto"], ["../proto"])
        .expect("the proto compiles");
    let file = fds
        .file
        .iter()
        .find(|f| f.package() == "amiforge.validator.v1")
        .expect("the validator package");
    let msg = file
        .message_type
        .iter()
        .find(|m| m.name() == name)
        .unwrap_or_else(|| panic!("message {name}"));
    msg.field.iter().map(|f| f.name().to_string()).collect()
}

fn hcl_names<T: HclSpec>() -> BTreeSet<String> {
    T::object_spec().0.keys().cloned().collect()
}

/// The long flag of every argument, as the HCL name it spells (`--allow-no-ena` → `allow_no_ena`).
fn cli_names<T: clap::Args>() -> BTreeSet<String> {
    T::augment_args(clap::Command::new("x"))
        .get_arguments()
        .filter_map(|a| a.get_long())
        .map(|l| l.replace('-', "_"))
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn policy_has_one_spelling() {
    let hcl = hcl_names::<Policy>();
    assert_eq!(hcl, proto_fields("Policy"));
    assert_eq!(hcl, cli_names::<Policy>());
}

#[test]
fn launch_has_one_spelling() {
    let hcl = hcl_names::<Launch>();
    // the user data file is read by the client (CLI, gate); the API carries its content
    let mut proto = proto_fields("Launch");
    assert!(proto.remove("user_data"));
    let mut hcl_proto = hcl.clone();
    assert!(hcl_proto.remove("user_data_file"));
    assert_eq!(hcl_proto, proto);
    // `launch` defaults to true, so the flag that sets it is `--no-launch`
    let mut cli = cli_names::<Launch>();
    assert!(cli.remove("no_launch"));
    cli.insert("launch".into());
    assert_eq!(hcl, cli);
}

#[test]
fn guest_has_one_spelling() {
    let hcl = hcl_names::<Guest>();
    // the profile file is read by the client (CLI, gate); the API carries its text too
    let mut proto = proto_fields("Guest");
    assert!(proto.remove("profile"));
    assert_eq!(hcl, proto);
    assert_eq!(hcl, cli_names::<Guest>());
}

#[test]
fn user_checks_have_one_spelling() {
    assert_eq!(hcl_names::<UserCheck>(), proto_fields("UserCheck"));
    assert_eq!(
        hcl_names::<UserCheck>(),
        set(&["command", "expect_exit", "expect_output", "name"])
    );
}

#[test]
fn the_cli_defaults_are_the_model_defaults() {
    use clap::{Args, FromArgMatches};
    let parse = |cmd: clap::Command| {
        cmd.no_binary_name(true)
            .get_matches_from(Vec::<&str>::new())
    };
    let m = parse(Launch::augment_args(clap::Command::new("x")));
    assert_eq!(Launch::from_arg_matches(&m).unwrap(), Launch::default());
    let m = parse(Policy::augment_args(clap::Command::new("x")));
    assert_eq!(Policy::from_arg_matches(&m).unwrap(), Policy::default());
    let m = parse(Guest::augment_args(clap::Command::new("x")));
    assert_eq!(Guest::from_arg_matches(&m).unwrap(), Guest::default());
}
