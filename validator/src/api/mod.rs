//! The gRPC API, `amiforge.validator.v1` (`proto/amiforge/validator/v1/validator.proto`):
//! `Validate` (a run with its events streamed, ending in the verdict and the JSON report),
//! `Sweep` and `Health`, served by `amiforge-validator serve` for many pipelines at once.
//!
//! | module | owns |
//! |---|---|
//! | [`pb`] | the generated messages, client and server (tonic + prost, from the proto) |
//! | [`convert`] | proto ↔ model: requests (unset fields take the model's defaults, bad input named by field), events, verdicts |
//! | [`limit`] | the test-instance limit shared by every concurrent `Validate` call |
//! | [`server`] | the service, listening (TCP or unix socket) and graceful shutdown |
//! | [`client`] | connecting to a server by address (`host:port`, `http://…`, `unix:/path`) |

pub mod client;
pub mod convert;
pub mod limit;
pub mod server;

/// The messages and services generated from the proto.
#[allow(clippy::all, missing_docs)]
pub mod pb {
    tonic::include_proto!("amiforge.validator.v1");
}
