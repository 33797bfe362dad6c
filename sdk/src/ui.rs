//! Packer's `Ui` service, called back by a running component: messages, errors, questions and
//! machine-readable lines. Text passes through [`secrets::redact`](crate::secrets::redact) first.

use serde::Serialize;

use crate::rpc::{RpcClient, RpcError};
use crate::secrets::redact;

/// The build's UI. Clones share the connection.
#[derive(Clone)]
pub struct Ui {
    rpc: RpcClient,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MachineArgs<'a> {
    category: &'a str,
    args: Vec<String>,
}

impl Ui {
    pub fn new(rpc: RpcClient) -> Self {
        Ui { rpc }
    }

    /// A headline (`==> build: msg`).
    pub async fn say(&self, msg: impl AsRef<str>) -> Result<(), RpcError> {
        self.rpc
            .call("Ui.Say", &redact(msg.as_ref()))
            .await
            .map(drop)
    }

    /// A detail line (`    build: msg`).
    pub async fn message(&self, msg: impl AsRef<str>) -> Result<(), RpcError> {
        self.rpc
            .call("Ui.Message", &redact(msg.as_ref()))
            .await
            .map(drop)
    }

    /// An error line (red on a terminal).
    pub async fn error(&self, msg: impl AsRef<str>) -> Result<(), RpcError> {
        self.rpc
            .call("Ui.Error", &redact(msg.as_ref()))
            .await
            .map(drop)
    }

    /// Asks the user a question (only meaningful in an interactive `packer build`).
    pub async fn ask(&self, question: impl AsRef<str>) -> Result<String, RpcError> {
        self.rpc.call_as("Ui.Ask", &redact(question.as_ref())).await
    }

    /// A machine-readable line: `timestamp,build,category,args…` under `-machine-readable`.
    pub async fn machine(&self, category: &str, args: &[&str]) -> Result<(), RpcError> {
        let args = args.iter().map(|a| redact(a)).collect();
        self.rpc
            .call("Ui.Machine", &MachineArgs { category, args })
            .await
            .map(drop)
    }
}
