//! Test support (feature `test-util`): a fake Packer for driving components in-process, so
//! component tests need no Packer binary and carry no copy of the protocol's Packer side.
//!
//! * [`FakePacker`] ([`packer`]): Packer's end of one plugin connection: serves a component
//!   over an in-process yamux session (or talks to a plugin process), prepares/configures it
//!   and runs `Provision`/`PostProcess`.
//! * [`Callbacks`] ([`callbacks`]): what Packer serves back to a running component: a
//!   [`RecordingUi`] ([`ui`]) plus a [`RecordingCommunicator`] ([`communicator`]) or the input
//!   artifact.
//! * [`RecordingCommunicator`] records every `Upload` and `Start` as a [`Call`] and lets a
//!   [`Target`] play the machine ([`Scripted`]: answers by command); exit statuses travel as
//!   Packer's gob `CommandFinished` ([`command_finished`]).
//!
//! ```no_run
//! # async fn demo(plugin: packer_sdk::Plugin) {
//! use std::sync::Arc;
//! use packer_sdk::invocation::Kind;
//! use packer_sdk::testutil::{Answer, Callbacks, FakePacker, RecordingUi, Scripted};
//!
//! let packer = FakePacker::start(&plugin, Kind::Provisioner, "run");
//! packer.prepare(vec![rmpv::Value::Map(vec![])]).await.unwrap();
//! let machine = Scripted::new().on("uname", Answer::lines(&["Linux".into()], "\n", Some(0)));
//! let comm = packer.communicator(Arc::new(machine));
//! let callbacks = Arc::new(Callbacks::provisioner(RecordingUi::new(), comm));
//! packer.provision(callbacks.clone(), rmpv::Value::Nil).await.unwrap();
//! let calls = callbacks.communicator().unwrap().calls();
//! # }
//! ```

pub mod callbacks;
pub mod communicator;
pub mod packer;
pub mod ui;

pub use callbacks::Callbacks;
pub use communicator::{
    Answer, Call, CommandIo, RecordingCommunicator, Scripted, Target, command_finished,
};
pub use packer::{FakePacker, PostProcessed, build_variables, configs};
pub use ui::RecordingUi;
