//! The gRPC API's server side, `amiforge.validator.v1` (`proto/amiforge/validator/v1/validator.proto`):
//! `Validate` (a run with its events streamed, ending in the verdict and the JSON report),
//! `Sweep` and `Health`, served by `amiforge-validator serve` for many pipelines at once. The
//! messages, conversions and the client are `amiforge-validator-api`'s.
//!
//! | module | owns |
//! |---|---|
//! | [`limit`] | the test-instance limit shared by every concurrent `Validate` call |
//! | [`server`] | the service, listening (TCP or unix socket) and graceful shutdown |
//! | [`service`] | the generated server trait (tonic, from the proto) |

pub mod limit;
pub mod server;

/// The server trait generated from the proto (messages are `amiforge_validator_api::pb`'s).
#[allow(clippy::all, missing_docs)]
pub mod service {
    tonic::include_proto!("amiforge.validator.v1");
}
