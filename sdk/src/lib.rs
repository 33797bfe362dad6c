//! `packer-sdk`: the plugin side of Packer's plugin protocol, in Rust.
//!
//! A plugin binary declares its components and calls [`Plugin::main`]:
//!
//! ```no_run
//! # use packer_sdk::*;
//! # struct Run; #[derive(serde::Deserialize, HclSpec)] struct Cfg { inline: Vec<String> }
//! # #[async_trait::async_trait] impl Provisioner for Run { type Config = Cfg;
//! #   fn prepare(_: Cfg, _: &PackerConfig) -> Result<Self, ConfigErrors> { Ok(Run) }
//! #   async fn provision(&self, _: ProvisionContext) -> anyhow::Result<()> { Ok(()) } }
//! Plugin::new("scaffold", "0.1.0", "github.com/amiforge/scaffold")
//!     .provisioner::<Run>("run")
//!     .main()
//! ```
//!
//! Layers, bottom up (see `ARCHITECTURE.md`): [`invocation`] (argv, handshake line) → [`mux`]
//! (yamux session) → [`broker`] (numbered side streams) → [`msgpack`] + [`rpc`] (Go net/rpc) →
//! services: [`provisioner`], [`post_processor`], [`artifact`] (with [`registry`] metadata), and
//! Packer's [`ui`] and [`communicator`] called back. Configuration: [`spec`] (one typed schema,
//! encoded as [`gob`] or protobuf), [`config`] (decoding what Packer sends). Documentation from
//! the same types: [`docs`] (the Markdown reference) and [`webdocs`] (the Packer integrations
//! registry's `.web-docs`). With feature `test-util`, `testutil` holds a fake Packer for driving
//! components in tests.

extern crate self as packer_sdk;

pub mod artifact;
pub mod broker;
pub mod communicator;
pub mod config;
pub mod docs;
pub mod gob;
pub mod invocation;
mod lifecycle;
pub mod msgpack;
pub mod mux;
pub mod plugin;
pub mod post_processor;
pub mod provisioner;
pub mod registry;
pub mod rpc;
pub mod secrets;
pub mod spec;
#[cfg(feature = "test-util")]
pub mod testutil;
pub mod ui;
pub mod webdocs;
pub mod wire_spec;

pub use artifact::{Artifact, ArtifactClient, StaticArtifact};
pub use communicator::{CommError, Communicator, FileInfo, Output};
pub use config::{ConfigErrors, PackerConfig};
pub use packer_sdk_derive::HclSpec;
pub use plugin::Plugin;
pub use post_processor::{PostProcessContext, PostProcessOutput, PostProcessor};
pub use provisioner::{ProvisionContext, Provisioner};
pub use registry::RegistryImage;
/// serde_json, for code the `HclSpec` derive generates.
#[doc(hidden)]
pub use serde_json;
pub use ui::Ui;
/// The yamux crate, for code that stands in for Packer in tests.
pub use yamux;

/// Re-exported for component implementations.
pub use async_trait::async_trait;
