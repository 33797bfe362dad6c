//! A stand-in for Packer shared by the recorded-communicator tests: it serves one of the plugin's
//! provisioners over an in-process yamux session (gob specs), sends `Provisioner.Prepare` with
//! the given config, serves the test's Ui + Communicator handler on a brokered stream and calls
//! `Provisioner.Provision`; plus the gob `CommandFinished` a Communicator sends at the end of a
//! command.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use packer_sdk::broker::Broker;
use packer_sdk::gob::encode::{StreamWriter, StructValue};
use packer_sdk::gob::ids;
use packer_sdk::invocation::Kind;
use packer_sdk::mux::Session;
use packer_sdk::plugin::serve_connection;
use packer_sdk::rpc::server::Handler;
use packer_sdk::rpc::{RpcClient, RpcError, serve};
use packer_sdk::wire_spec::SpecFormat;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// The gob stream a Communicator's response stream carries when a command exits with `code`.
pub fn finished(code: i64) -> Vec<u8> {
    let mut w = StreamWriter::new();
    w.def_struct(65, "CommandFinished", &[("ExitStatus", ids::INT)]);
    let body = StructValue::new().int(0, code).finish();
    w.value(65, false, &body)
}

/// A provisioner of the amiforge plugin, prepared the way Packer 1.6.6 prepares it.
pub struct Prepared {
    pub broker: Arc<Broker>,
    rpc: RpcClient,
}

/// Serves provisioner `name` and prepares it with `config` (plus Packer's build variables).
pub async fn prepare(name: &str, config: rmpv::Value, build_name: &str) -> Prepared {
    let plugin = amiforge_plugin::plugin();
    let factory = plugin.find(Kind::Provisioner, name, false).unwrap().factory;
    let (a, b) = tokio::net::UnixStream::pair().unwrap();
    tokio::spawn(serve_connection(a.compat(), factory, SpecFormat::Gob));
    let (sess, inbound) = Session::start_with_mode(b.compat(), packer_sdk::yamux::Mode::Client);
    let broker = Broker::start(sess, inbound);
    let rpc = RpcClient::new(broker.dial(0).await.unwrap());
    let configs = rmpv::Value::Map(vec![(
        "Configs".into(),
        rmpv::Value::Array(vec![
            config,
            rmpv::Value::Map(vec![
                ("packer_build_name".into(), build_name.into()),
                ("packer_builder_type".into(), "amazon-ebs".into()),
            ]),
        ]),
    )]);
    rpc.call("Provisioner.Prepare", &configs).await.unwrap();
    Prepared { broker, rpc }
}

impl Prepared {
    /// Serves `target` (Ui + Communicator) on a brokered stream and runs `Provision` with
    /// `generated` as the build's generated data; at most 30 s.
    pub async fn provision(
        &self,
        target: Arc<dyn Handler>,
        generated: rmpv::Value,
    ) -> Result<rmpv::Value, RpcError> {
        let id = self.broker.next_id();
        let inc = self.broker.expect(id);
        tokio::spawn(async move {
            let s = inc.accept(Duration::from_secs(5)).await.unwrap();
            serve(s, target).await;
        });
        let args = rmpv::Value::Map(vec![
            ("GeneratedData".into(), generated),
            ("StreamID".into(), rmpv::Value::from(id)),
        ]);
        tokio::time::timeout(
            Duration::from_secs(30),
            self.rpc.call("Provisioner.Provision", &args),
        )
        .await
        .unwrap()
    }
}
