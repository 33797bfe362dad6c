//! `amiforge-validator-api`: everything a client of the validator shares with it, and nothing of
//! the launch engine or the server: the settings (one struct per concept that is at once the
//! `amiforge-validate` HCL spec, the `amiforge-validator run` flags and the proto message), the
//! request and report model with field-named errors, proto conversions, JUnit, and the gRPC
//! client. The Packer plugin depends on this crate, never on `amiforge-validator`.
//!
//! | module | owns |
//! |---|---|
//! | [`settings`] | [`Policy`], [`Launch`], [`Guest`], [`UserCheck`]: one spelling of every setting |
//! | [`request`] | [`Request`] (targets + expectations + settings), its rules (`check`), manifests, files |
//! | [`field`] | [`FieldErrors`]: problems named by structured field paths |
//! | [`report`], [`junit`] | results, verdicts and exit codes; JSON and JUnit XML |
//! | [`events`] | what a run reports while it works, and the one line each prints as |
//! | [`convert`] | proto ↔ model (requests, events, verdicts) |
//! | [`client`] | connecting to a validator (`host:port`, `http://…`, `unix:/path`) |
//! | [`pb`] | the generated messages and client |

pub mod client;
pub mod convert;
pub mod events;
pub mod field;
pub mod junit;
pub mod pb;
pub mod report;
pub mod request;
pub mod settings;

pub use field::{FieldError, FieldErrors, Path};
pub use report::{Report, Verdict};
pub use request::{Expect, Request, Target};
pub use settings::{Guest, Launch, Policy, Transport, UserCheck};
