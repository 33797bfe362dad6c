//! The example plugin as a process: argv, `describe`, the magic cookie, both handshake lines,
//! protobuf ConfigSpec, signals and exit. Each test names the upstream file whose behaviour it
//! pins (Packer v1.6.6 and v1.12+, packer-plugin-sdk v0.6).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use packer_sdk::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE};
use packer_sdk::rpc::RpcClient;
use packer_sdk::spec::{CtyType, Spec};
use packer_sdk::testutil::FakePacker;

fn scaffold() -> PathBuf {
    // tests run from target/<profile>/deps; cargo builds examples next door
    let exe = std::env::current_exe().unwrap();
    let p = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/packer-plugin-scaffold");
    assert!(
        p.is_file(),
        "{} missing: cargo builds examples with the tests",
        p.display()
    );
    p
}

fn linked(name: &str) -> (tempfile::TempDir, PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join(name);
    std::os::unix::fs::symlink(scaffold(), &p).unwrap();
    (d, p)
}

struct Started {
    child: Child,
    line: String,
    // plugins killed before Packer connects cannot remove their socket dir; keep it here
    _tmp: tempfile::TempDir,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Started {
    start_with(bin, args, env, Stdio::null())
}

fn start_with(bin: &Path, args: &[&str], env: &[(&str, &str)], stderr: Stdio) -> Started {
    let tmp = tempfile::tempdir().unwrap();
    let mut c = Command::new(bin);
    c.args(args)
        .env("TMPDIR", tmp.path())
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env("PACKER_PLUGIN_MIN_PORT", "10000")
        .env("PACKER_PLUGIN_MAX_PORT", "25000")
        .env_remove("PACKER_SDK_HANDSHAKE")
        .stdout(Stdio::piped())
        .stderr(stderr);
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Started {
        child,
        line: line.trim().to_string(),
        _tmp: tmp,
    }
}

#[test]
fn describe_needs_no_cookie_and_lists_components() {
    // packer-plugin-sdk plugin/set.go (SetDescription); Packer 1.6.6 packer/plugin/discover.go
    let out = Command::new(scaffold())
        .arg("describe")
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert!(out.status.success());
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d["api_version"], "x5.0");
    assert_eq!(d["protocol_version"], "v2");
    assert_eq!(d["provisioners"], serde_json::json!(["run"]));
    assert_eq!(d["post_processors"], serde_json::json!(["wrap"]));
    assert_eq!(d["builders"], serde_json::json!([]));
    assert_eq!(d["datasources"], serde_json::json!([]));
    assert!(d["sdk_version"].is_string());
}

#[test]
fn version_flag_prints_the_describe_version_without_the_cookie() {
    let describe = Command::new(scaffold()).arg("describe").output().unwrap();
    let d: serde_json::Value = serde_json::from_slice(&describe.stdout).unwrap();
    let out = Command::new(scaffold())
        .arg("--version")
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some("packer-plugin-scaffold"), "{line}");
    assert_eq!(words.next(), d["version"].as_str(), "{line}");
    assert!(line.contains("plugin API x5.0"), "{line}");
    assert_eq!(line.lines().count(), 1, "{line}");
}

#[test]
fn without_the_cookie_it_explains_how_to_install_and_exits_nonzero() {
    for args in [&["start", "provisioner", "run"][..], &[][..]] {
        let out = Command::new(scaffold())
            .args(args)
            .env_remove(MAGIC_COOKIE_KEY)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("packer plugins install --path"), "{err}");
        assert!(err.contains("~/.packer.d/plugins"), "{err}");
        assert!(
            out.stdout.is_empty(),
            "nothing on stdout: Packer would read it as a handshake"
        );
    }
}

#[test]
fn unknown_component_is_refused_with_the_list() {
    let out = Command::new(scaffold())
        .args(["start", "provisioner", "nope"])
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("this plugin serves: run"));
}

fn socket_of(line: &str, parts: usize) -> PathBuf {
    let fields: Vec<&str> = line.split('|').collect();
    assert_eq!(fields.len(), parts, "handshake {line:?}");
    assert_eq!(fields[0], "5");
    assert_eq!(fields[parts - 2], "unix");
    let p = PathBuf::from(fields[parts - 1]);
    assert!(p.is_absolute());
    p
}

#[test]
fn packer_166_multi_component_gets_the_three_part_handshake() {
    // Packer 1.6.6 packer/plugin/client.go: SplitN(line, "|", 3), field 1 "5", field 2 unix|tcp
    let s = start(&scaffold(), &["start", "provisioner", "run"], &[]);
    let sock = socket_of(&s.line, 3);
    assert!(
        std::fs::metadata(&sock).is_ok(),
        "socket must exist when announced"
    );
}

#[test]
fn protobuf_flag_anywhere_gets_the_four_part_handshake() {
    // Packer v1.12+ packer/plugin.go passes `start provisioner --protobuf NAME`;
    // packer/plugin_client.go: SplitN(line, "|", 4), minor version "0"
    for args in [
        &["start", "provisioner", "--protobuf", "run"][..],
        &["--protobuf", "start", "post-processor", "wrap"][..],
    ] {
        let s = start(&scaffold(), args, &[]);
        socket_of(&s.line, 4);
        assert!(s.line.starts_with("5|0|unix|"), "{}", s.line);
    }
}

#[test]
fn installed_versioned_name_and_links_pick_their_handshake() {
    // packer v1.12+ packer/plugin-getter/plugins.go: packer-plugin-NAME_vX.Y.Z_x5.0_OS_ARCH
    let (_d, versioned) = linked("packer-plugin-scaffold_v0.1.0_x5.0_linux_amd64");
    let s = start(&versioned, &["start", "provisioner", "run"], &[]);
    socket_of(&s.line, 4);
    // Packer 1.6.6 single-component link, no arguments
    let (_d2, link) = linked("packer-provisioner-scaffold-run");
    let s = start(&link, &[], &[]);
    socket_of(&s.line, 3);
    let (_d3, link) = linked("packer-post-processor-wrap");
    let s = start(&link, &[], &[]);
    socket_of(&s.line, 3);
    // explicit override for Packer 1.7-1.10 with an unversioned name
    let s = start(
        &scaffold(),
        &["start", "provisioner", "run"],
        &[("PACKER_SDK_HANDSHAKE", "4")],
    );
    socket_of(&s.line, 4);
}

/// The fake Packer connected to the plugin process, and its client on stream 0.
async fn connect(line: &str, parts: usize) -> (FakePacker, RpcClient) {
    let sock = tokio::net::UnixStream::connect(socket_of(line, parts))
        .await
        .unwrap();
    let packer = FakePacker::over(sock);
    let rpc = packer.rpc().await.clone();
    (packer, rpc)
}

fn config_spec_bytes(v: &rmpv::Value) -> Vec<u8> {
    match packer_sdk::rpc::value::get(v, "ConfigSpec") {
        Some(rmpv::Value::Binary(b)) => b.clone(),
        other => panic!("ConfigSpec must be bin: {other:?}"),
    }
}

#[tokio::test]
async fn protobuf_and_gob_config_specs_describe_the_same_schema() {
    // packer-plugin-sdk rpc/hcl_spec.proto + rpc/convert.go (protobuf); rpc/common.go (gob)
    let pb = start(
        &scaffold(),
        &["start", "provisioner", "--protobuf", "run"],
        &[],
    );
    let (_s1, rpc) = connect(&pb.line, 4).await;
    let pb_spec = packer_sdk::spec::proto::decode(&config_spec_bytes(
        &rpc.call("Provisioner.ConfigSpec", &()).await.unwrap(),
    ))
    .unwrap();
    let gob = start(&scaffold(), &["start", "provisioner", "run"], &[]);
    let (_s2, rpc) = connect(&gob.line, 3).await;
    let gob_spec = packer_sdk::spec::gob::decode(&config_spec_bytes(
        &rpc.call("Provisioner.ConfigSpec", &()).await.unwrap(),
    ))
    .unwrap();
    assert_eq!(pb_spec, gob_spec);
    match pb_spec.get("inline") {
        Some(Spec::Attr(a)) => {
            assert_eq!(a.ty, CtyType::list(CtyType::String));
            assert!(!a.required);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(pb_spec.0.len(), 6);
    match pb_spec.get("env") {
        Some(Spec::BlockList(b)) => {
            assert_eq!(b.type_name, "env");
            assert!(matches!(b.nested.get("name"), Some(Spec::Attr(a)) if a.required));
        }
        other => panic!("env must be a block list: {other:?}"),
    }
}

#[tokio::test]
async fn modern_cty_json_config_is_accepted_and_errors_name_fields() {
    // packer v1.12+ hcl2template/types.hcl_provisioner.go: [packer_* map with string bools,
    // cty JSON as bin, override map or nil]; packer-plugin-sdk rpc/cty_encode.go
    let s = start(
        &scaffold(),
        &["start", "provisioner", "--protobuf", "run"],
        &[],
    );
    let (_sess, rpc) = connect(&s.line, 4).await;
    let configs = |inline: &str| {
        let json = format!(
            r#"{{"value":{{"inline":{inline},"upload_source":null,"upload_destination":null,"download_source":null,"download_destination":null}},"type":["object",{{"inline":["list","string"],"upload_source":"string","upload_destination":"string","download_source":"string","download_destination":"string"}}]}}"#
        );
        rmpv::Value::Map(vec![(
            "Configs".into(),
            rmpv::Value::Array(vec![
                rmpv::Value::Map(vec![
                    ("packer_build_name".into(), "b".into()),
                    ("packer_builder_type".into(), "null".into()),
                    ("packer_core_version".into(), "1.12.0".into()),
                    ("packer_debug".into(), "false".into()),
                    ("packer_force".into(), "false".into()),
                    ("packer_on_error".into(), "".into()),
                    (
                        "packer_sensitive_variables".into(),
                        rmpv::Value::Array(vec!["s3cret".into()]),
                    ),
                ]),
                rmpv::Value::Binary(json.into_bytes()),
                rmpv::Value::Nil,
            ]),
        )])
    };
    rpc.call("Provisioner.Prepare", &configs(r#"["echo hi"]"#))
        .await
        .unwrap();
    let e = rpc
        .call("Provisioner.Prepare", &configs(r#"["ok", " "]"#))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("inline[1]: empty command"), "{e}");
}

#[tokio::test]
async fn sigint_is_ignored_and_the_process_exits_when_packer_goes_away() {
    // packer-plugin-sdk plugin/server.go ignores SIGINT/SIGTERM; cancellation comes by RPC
    let mut s = start(&scaffold(), &["start", "post-processor", "wrap"], &[]);
    let (packer, rpc) = connect(&s.line, 3).await;
    rpc.call("PostProcessor.ConfigSpec", &()).await.unwrap();
    let pid = s.child.id().to_string();
    for sig in ["-INT", "-TERM"] {
        Command::new("kill").args([sig, &pid]).status().unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        s.child.try_wait().unwrap().is_none(),
        "signals must not stop the plugin"
    );
    rpc.call("PostProcessor.ConfigSpec", &())
        .await
        .expect("still serving after signals");
    packer.session().close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            assert!(st.success(), "clean exit, got {st:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "plugin must exit when the connection closes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_flood_of_stream_openings_does_not_flood_the_log() {
    use tokio::io::AsyncWriteExt;
    let mut s = start_with(
        &scaffold(),
        &["start", "provisioner", "run"],
        &[],
        Stdio::piped(),
    );
    let mut sock = tokio::net::UnixStream::connect(socket_of(&s.line, 3))
        .await
        .unwrap();
    // 20,000 yamux window-update frames with SYN on new client stream ids (1, 3, 5, …): far
    // beyond the plugin's stream limit of 1,024. Whatever yamux or the broker do with them, the
    // plugin's stderr (Packer's log) must stay a few lines long.
    let mut frames = Vec::with_capacity(20_000 * 12);
    for i in 0..20_000u32 {
        frames.extend_from_slice(&[0, 1, 0, 1]);
        frames.extend_from_slice(&(2 * i + 1).to_be_bytes());
        frames.extend_from_slice(&0u32.to_be_bytes());
    }
    let _ = sock.write_all(&frames).await;
    drop(sock);
    let out = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = s.child.kill();
        let mut err = String::new();
        use std::io::Read;
        s.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        err
    })
    .await
    .unwrap();
    let lines = out.lines().count();
    assert!(
        lines < 20,
        "{lines} log lines for one misbehaving peer:\n{}",
        &out[..out.len().min(2000)]
    );
}

#[test]
fn docs_subcommand_matches_the_committed_reference() {
    // The reference page is generated from the same types as the ConfigSpec; regenerate with
    // `target/debug/examples/packer-plugin-scaffold docs > sdk/examples/scaffold/REFERENCE.md`.
    let out = Command::new(scaffold())
        .arg("docs")
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    assert!(
        generated.contains("| `env.name` | string | yes |"),
        "{generated}"
    );
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/scaffold/REFERENCE.md"
    ))
    .unwrap();
    assert_eq!(generated, committed, "REFERENCE.md is stale");
}

#[test]
fn web_docs_need_a_directory_and_integration_metadata() {
    // the scaffold declares no `Plugin::integration`: nothing is written, and it says why
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(scaffold())
        .args(["docs", "--web-docs"])
        .arg(dir.path().join("web-docs"))
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Plugin::integration"), "{err}");
    assert!(!dir.path().join("web-docs").exists());

    let out = Command::new(scaffold())
        .args(["docs", "--web-docs"])
        .env_remove(MAGIC_COOKIE_KEY)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("docs --web-docs needs the directory"), "{err}");
}
