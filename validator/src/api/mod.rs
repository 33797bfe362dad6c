//! The gRPC API's server side, `amiforge.validator.v1` (`proto/amiforge/validator/v1/validator.proto`):
//! `Validate` (a run with its events streamed, ending in the verdict and the JSON report),
//! `Sweep` and `Health`, served by `amiforge-validator serve` to many pipelines at once, safe to
//! expose: TLS and authentication before it listens beyond loopback, nothing read from its disk
//! for a caller, limits on what one request and one caller may use, every call audited. The
//! messages, conversions and the client are `amiforge-validator-api`'s.
//!
//! | module | owns |
//! |---|---|
//! | [`config`] | [`config::ServeConfig`]: everything `serve` is configured with |
//! | [`listen`] | TCP or unix socket (0600), and the rule that a network listener has TLS + authentication |
//! | [`tls`] | the server's certificate and, for mutual TLS, the client CA |
//! | [`auth`] | who calls: client certificate, bearer token (stored hashed), unix peer uid; admins |
//! | [`admit`] | what a request may bring: target count, no file outside allowed directories, keys by name |
//! | [`limits`] | test instances and runs (total, per caller) at once |
//! | [`audit`] | one line per call: caller, peer, method, run, targets, outcome, duration |
//! | [`service`], [`validate`], [`sweep`] | the service and its calls |
//! | [`server`] | serving: listener, TLS, message limits, shutdown |
//! | [`generated`] | the server trait generated from the proto |

pub mod admit;
pub mod audit;
pub mod auth;
pub mod config;
pub mod limits;
pub mod listen;
pub mod server;
pub mod service;
pub mod sweep;
pub mod tls;
pub mod validate;

/// The server trait generated from the proto (messages are `amiforge_validator_api::pb`'s).
#[allow(clippy::all, missing_docs)]
pub mod generated {
    tonic::include_proto!("amiforge.validator.v1");
}
