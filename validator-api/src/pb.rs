//! The gRPC messages and the client, generated from `proto/amiforge/validator/v1/validator.proto`
//! (the server side is generated in `amiforge-validator`).
#![allow(clippy::all, missing_docs)]

tonic::include_proto!("amiforge.validator.v1");
