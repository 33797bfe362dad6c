//! The whole plugin stack (yamux server, broker, net/rpc, services) driven in-process by the
//! SDK's fake Packer (`packer_sdk::testutil`): yamux client role, broker dial of id 0, raw bytes
//! where a test needs to misbehave. Real Packer runs against the same code in the end-to-end
//! tests; these tests cover what Packer never sends: garbage, hostile lengths, unknown methods,
//! cancellation races.

use std::sync::Arc;
use std::time::Duration;

use packer_sdk::invocation::Kind;
use packer_sdk::mux::MuxStream;
use packer_sdk::rpc::RpcError;
use packer_sdk::spec::HclSpec as _;
use packer_sdk::testutil::{Callbacks, FakePacker, RecordingUi, build_variables};
use packer_sdk::{
    ConfigErrors, HclSpec, PackerConfig, Plugin, PostProcessContext, PostProcessOutput,
    PostProcessor, ProvisionContext, Provisioner, StaticArtifact,
};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Deserialize, HclSpec)]
struct WaiterConfig {
    /// "wait": provision until cancelled; anything else: return at once.
    mode: String,
    #[allow(dead_code)] // part of the schema the tests send
    inline: Option<Vec<String>>,
}

struct Waiter {
    mode: String,
}

#[packer_sdk::async_trait]
impl Provisioner for Waiter {
    type Config = WaiterConfig;
    fn prepare(c: WaiterConfig, _: &PackerConfig) -> Result<Self, ConfigErrors> {
        if c.mode.is_empty() {
            return Err(ConfigErrors::single("mode", "must not be empty"));
        }
        Ok(Waiter { mode: c.mode })
    }
    async fn provision(&self, ctx: ProvisionContext) -> anyhow::Result<()> {
        if self.mode == "ui" {
            ctx.ui.message("the token is s3cret-value").await?;
            ctx.ui.error("an error line").await?;
            ctx.ui.machine("artifact", &["a", "s3cret-value"]).await?;
            let answer = ctx.ui.ask("continue?").await?;
            ctx.ui.say(format!("answer was {answer}")).await?;
            return Ok(());
        }
        ctx.ui.say("waiting").await?;
        if self.mode == "wait" {
            ctx.cancel.cancelled().await;
            anyhow::bail!("cancelled by Packer");
        }
        Ok(())
    }
}

#[derive(Deserialize, HclSpec)]
struct WrapConfig {
    /// Appended to the input artifact's id; "fail" fails instead.
    suffix: String,
}

/// A post-processor that wraps its input artifact.
struct Wrap {
    suffix: String,
}

#[packer_sdk::async_trait]
impl PostProcessor for Wrap {
    type Config = WrapConfig;
    fn configure(c: WrapConfig, _: &PackerConfig) -> Result<Self, ConfigErrors> {
        Ok(Wrap { suffix: c.suffix })
    }
    async fn post_process(&self, ctx: PostProcessContext) -> anyhow::Result<PostProcessOutput> {
        let id = ctx.input.id().await?;
        ctx.ui.say(format!("wrapping {id}")).await?;
        if self.suffix == "fail" {
            anyhow::bail!("cannot wrap {id}");
        }
        let artifact = StaticArtifact {
            builder_id: "t.wrap".into(),
            id: format!("{id}{}", self.suffix),
            ..StaticArtifact::default()
        };
        Ok(PostProcessOutput {
            artifact: Some(Arc::new(artifact)),
            keep: true,
            force_override: false,
        })
    }
}

/// The fake Packer connected to the test provisioner.
fn connect() -> FakePacker {
    let plugin = Plugin::new("t", "0.0.1", "example.com/t/t").provisioner::<Waiter>("waiter");
    FakePacker::start(&plugin, Kind::Provisioner, "waiter")
}

async fn read_eof(s: &mut MuxStream) -> Vec<u8> {
    let mut v = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut v))
        .await
        .expect("stream must be closed, not left hanging")
        .ok();
    v
}

#[tokio::test]
async fn unknown_methods_get_go_error_texts_and_the_stream_keeps_working() {
    let p = connect();
    let rpc = p.rpc().await;
    let e = rpc.call("Provisioner.Nope", &()).await.unwrap_err();
    assert_eq!(
        e,
        RpcError::Remote("rpc: can't find method Provisioner.Nope".into())
    );
    let e = rpc.call("Nope.Nope", &()).await.unwrap_err();
    assert_eq!(
        e,
        RpcError::Remote("rpc: can't find service Nope.Nope".into())
    );
    let e = rpc.call("NoDot", &()).await.unwrap_err();
    assert!(matches!(e, RpcError::Remote(t) if t.contains("ill-formed")));
    let v = rpc.call("Provisioner.ConfigSpec", &()).await.unwrap();
    let bytes = match packer_sdk::rpc::value::get(&v, "ConfigSpec") {
        Some(rmpv::Value::Binary(b)) => b.clone(),
        other => panic!("ConfigSpec must be bin, got {other:?}"),
    };
    let spec = packer_sdk::spec::gob::decode(&bytes).unwrap();
    assert_eq!(spec, WaiterConfig::object_spec());
}

#[tokio::test]
async fn many_concurrent_calls_are_matched_by_seq() {
    let p = connect();
    let rpc = p.rpc().await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let rpc = rpc.clone();
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                rpc.call("Provisioner.ConfigSpec", &()).await.map(|_| ())
            } else {
                match rpc.call("Provisioner.Nope", &()).await {
                    Err(RpcError::Remote(t)) if t.ends_with("Provisioner.Nope") => Ok(()),
                    other => panic!("{other:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn a_header_that_is_not_a_map_closes_the_stream_cleanly() {
    let p = connect();
    let mut s = p.stream0().await;
    s.write_all(&[0x93, 0x01, 0x02, 0x03, 0xc0]).await.unwrap();
    s.flush().await.unwrap();
    assert!(read_eof(&mut s).await.is_empty());
    assert!(
        !p.plugin_finished(),
        "a bad stream must not kill the plugin"
    );
}

#[tokio::test]
async fn hostile_lengths_close_without_allocating() {
    for bytes in [
        vec![0xdb, 0xff, 0xff, 0xff, 0xff], // str32 of 4 GiB
        vec![0xdd, 0xff, 0xff, 0xff, 0xff], // array32 of 4 G elements
        vec![0xdf, 0x7f, 0xff, 0xff, 0xff], // map32
        vec![0xc6, 0xff, 0xff, 0xff, 0xff], // bin32
        vec![0x91; 4096],                   // nesting bomb
        vec![0xc1],                         // reserved marker
    ] {
        let p = connect();
        let mut s = p.stream0().await;
        s.write_all(&bytes).await.unwrap();
        s.flush().await.unwrap();
        assert!(read_eof(&mut s).await.is_empty(), "{:x?}", &bytes[..1]);
    }
}

#[tokio::test]
async fn truncated_request_then_eof_closes_cleanly() {
    let p = connect();
    let mut s = p.stream0().await;
    // a header cut in the middle of its ServiceMethod string
    s.write_all(&[0x82, 0xad, b'S', b'e', b'r']).await.unwrap();
    s.shutdown().await.unwrap();
    assert!(read_eof(&mut s).await.is_empty());
}

#[tokio::test]
async fn packer_166_json_prepare_bytes_decode_and_name_the_missing_field() {
    // Recorded from Packer 1.6.6 (JSON template, shell provisioner's Prepare): config map,
    // packer_* map and the build placeholder map. Our test component has `inline` too.
    let p = connect();
    let mut s = p.stream0().await;
    let req = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/prepare-json-166.msgpack"
    ))
    .unwrap();
    // the recorded config has no `mode`: expect the field named in the error
    s.write_all(&req).await.unwrap();
    let mut r = packer_sdk::msgpack::ValueReader::new(&mut s);
    let h = r.next().await.unwrap().unwrap();
    let h = packer_sdk::rpc::Header::from_value(&h).unwrap();
    assert_eq!(h.service_method, "Provisioner.Prepare");
    assert!(
        h.error.contains("mode: required attribute is missing"),
        "{}",
        h.error
    );
}

#[tokio::test]
async fn packer_166_hcl2_prepare_bytes_decode_and_name_the_unknown_attribute() {
    let p = connect();
    let mut s = p.stream0().await;
    let req = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/prepare-hcl2-166.msgpack"
    ))
    .unwrap();
    s.write_all(&req).await.unwrap();
    let mut r = packer_sdk::msgpack::ValueReader::new(&mut s);
    let h = packer_sdk::rpc::Header::from_value(&r.next().await.unwrap().unwrap()).unwrap();
    // the cty JSON blob carried the shell provisioner's `environment_vars = ["A=1"]`
    assert!(
        h.error.contains("environment_vars: unknown attribute"),
        "{}",
        h.error
    );
}

/// The test provisioner's configuration in `mode` as Packer ≥ 1.7 sends it: the packer map,
/// the cty JSON blob, no override.
fn cty_config(mode: &str) -> Vec<rmpv::Value> {
    let json = format!(
        r#"{{"value":{{"mode":"{mode}","inline":null}},"type":["object",{{"mode":"string","inline":["list","string"]}}]}}"#
    );
    vec![
        rmpv::Value::Map(vec![
            ("packer_build_name".into(), "b".into()),
            (
                "packer_sensitive_variables".into(),
                rmpv::Value::Array(vec!["s3cret-value".into()]),
            ),
        ]),
        rmpv::Value::Binary(json.into_bytes()),
        rmpv::Value::Nil,
    ]
}

/// Prepares the test provisioner in `mode` and starts `Provision`, with the fake Packer serving
/// a Ui (answering "yes") on an id it issued (as Packer does). Returns the recorded UI and the
/// pending call.
async fn start_provision(
    p: &FakePacker,
    mode: &str,
) -> (
    Arc<Callbacks>,
    tokio::task::JoinHandle<Result<rmpv::Value, RpcError>>,
) {
    p.prepare(cty_config(mode)).await.unwrap();
    let ui = Arc::new(Callbacks::ui(RecordingUi::answering("yes")));
    let generated = rmpv::Value::Map(vec![("ID".into(), "Null".into())]);
    let call = p.start_provision(ui.clone(), generated).await;
    (ui, call)
}

/// What the Ui recorded, as `Method:text`.
fn ui_lines(ui: &Callbacks) -> Vec<String> {
    ui.recorded_ui()
        .calls()
        .iter()
        .map(|(m, t)| format!("{m}:{t}"))
        .collect()
}

#[tokio::test]
async fn cancel_reaches_a_running_provision_on_the_same_stream() {
    let p = connect();
    let rpc = p.rpc().await;
    let (ui, provision) = start_provision(&p, "wait").await;
    // wait until the provisioner is running (it said so), then cancel
    for _ in 0..100 {
        if !ui_lines(&ui).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ui_lines(&ui), ["Say:waiting"]);
    rpc.call("Provisioner.Cancel", &()).await.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(5), provision)
        .await
        .expect("provision must end after Cancel")
        .unwrap();
    assert_eq!(r, Err(RpcError::Remote("cancelled by Packer".into())));
}

#[tokio::test]
async fn prepare_twice_and_provision_before_prepare() {
    let p = connect();
    let rpc = p.rpc().await;
    let e = rpc
        .call(
            "Provisioner.Provision",
            &rmpv::Value::Map(vec![("StreamID".into(), 9.into())]),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, RpcError::Remote(t) if t.contains("before Prepare")));
    let e = p.prepare(cty_config("")).await.unwrap_err();
    assert_eq!(e, RpcError::Remote("mode: must not be empty".into()));
    p.prepare(cty_config("now")).await.unwrap();
    p.prepare(cty_config("now")).await.unwrap();
}

#[tokio::test]
async fn closing_the_connection_ends_the_plugin() {
    let p = connect();
    let _s = p.stream0().await;
    p.session().close().await;
    let r = tokio::time::timeout(Duration::from_secs(5), p.into_plugin()).await;
    assert!(
        matches!(r, Ok(Ok(Ok(())))),
        "plugin must exit cleanly when Packer goes away: {r:?}"
    );
}

#[tokio::test]
async fn ui_calls_have_go_shapes_and_sensitive_values_are_masked() {
    let p = connect();
    let (ui, provision) = start_provision(&p, "ui").await;
    provision.await.unwrap().unwrap();
    assert_eq!(
        ui_lines(&ui),
        [
            "Message:the token is <sensitive>",
            "Error:an error line",
            "Machine:artifact|a,<sensitive>",
            "Ask:continue?",
            "Say:answer was yes",
        ]
    );
}

#[tokio::test]
async fn a_post_processor_reads_its_input_and_returns_an_artifact_packer_can_read() {
    let plugin = Plugin::new("t", "0.0.1", "example.com/t/t").post_processor::<Wrap>("wrap");
    for (suffix, want) in [
        ("-wrapped", Ok("us-east-1:ami-1-wrapped")),
        ("fail", Err(())),
    ] {
        let p = FakePacker::start(&plugin, Kind::PostProcessor, "wrap");
        let config = rmpv::Value::Map(vec![("suffix".into(), suffix.into())]);
        p.configure(vec![config, build_variables("b", "amazon-ebs")])
            .await
            .unwrap();
        let input = StaticArtifact {
            builder_id: "mitchellh.amazonebs".into(),
            id: "us-east-1:ami-1".into(),
            ..StaticArtifact::default()
        };
        let packer_side = Arc::new(Callbacks::post_processor(
            RecordingUi::new(),
            Arc::new(input),
        ));
        let out = p.post_process(packer_side.clone()).await.unwrap();
        assert_eq!(ui_lines(&packer_side), ["Say:wrapping us-east-1:ami-1"]);
        match want {
            Ok(id) => {
                assert_eq!(out.error, None);
                assert!(out.keep && !out.force_override);
                let artifact = out.artifact.expect("an artifact");
                assert_eq!(artifact.id().await.unwrap(), id);
                assert_eq!(artifact.builder_id().await.unwrap(), "t.wrap");
            }
            Err(()) => {
                assert_eq!(out.error.as_deref(), Some("cannot wrap us-east-1:ami-1"));
                assert!(out.artifact.is_none() && !out.keep);
            }
        }
    }
}

/// Bytes written by the upstream Packer 1.6.6 SDK client code with the 2015 ugorji codec: keys
/// sorted (`Seq` before `ServiceMethod`), unsigned integer forms. Debian's build writes the
/// other dialect (tests above); both must read the same.
#[tokio::test]
async fn the_old_ugorji_dialect_reads_the_same() {
    use packer_sdk::msgpack::ValueReader;
    use packer_sdk::rpc::Header;
    let read_all = |name: &str| {
        let bytes =
            std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        async move {
            let mut r = ValueReader::new(&bytes[..]);
            let mut v = Vec::new();
            while let Some(x) = r.next().await.unwrap() {
                v.push(x);
            }
            v
        }
    };
    let req = read_all("old-ugorji-requests.msgpack").await;
    let methods: Vec<(String, u64)> = req
        .iter()
        .step_by(2)
        .map(|h| {
            let h = Header::from_value(h).unwrap();
            (h.service_method, h.seq)
        })
        .collect();
    assert_eq!(
        methods,
        [
            ("Provisioner.ConfigSpec".to_string(), 0),
            ("Provisioner.Prepare".to_string(), 1),
            ("Provisioner.Prepare".to_string(), 2),
            ("Provisioner.Provision".to_string(), 3),
        ]
    );
    #[derive(serde::Deserialize, HclSpec)]
    #[allow(dead_code)]
    struct Old {
        greeting: String,
        count: Option<u32>,
        command: Option<String>,
        tags: Option<std::collections::BTreeMap<String, String>>,
    }
    // JSON-template Prepare (plain maps) and HCL2 Prepare (cty JSON bin) from that client
    for (body, want_count) in [(&req[3], 3), (&req[5], 2)] {
        let configs = packer_sdk::rpc::value::get(body, "Configs")
            .and_then(packer_sdk::rpc::value::as_array)
            .unwrap();
        let d = packer_sdk::config::decode::<Old>(configs).unwrap();
        assert_eq!(d.config.count, Some(want_count));
        assert!(d.config.greeting.starts_with("fake166"));
    }
    let replies = read_all("old-ugorji-replies.msgpack").await;
    for (i, h) in replies.iter().step_by(2).enumerate() {
        let h = Header::from_value(h).unwrap();
        assert_eq!(h.seq, i as u64);
        assert!(h.error.is_empty());
    }
}
