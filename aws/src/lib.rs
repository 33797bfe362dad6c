//! `amiforge-aws`: everything amiforge says to AWS, in one crate so the rest of the workspace
//! builds without the AWS SDK (the SDK costs minutes per cold build). The pure rules (manifest,
//! tags, sharing, strategies, artifact ids) live in `amiforge-model`.
//!
//! | module | owns |
//! |---|---|
//! | [`client`] | per-region EC2/KMS/SSM clients (cached), endpoint override, adaptive retry, one rustls HTTPS client |
//! | [`consistency`] | EC2's eventual consistency: which ids this process made, NotFound about them retried within a window, deletes confirmed |
//! | [`error`] | [`Error`]: operation, AWS code and message, and an [`ErrorKind`] derived from the code |
//! | [`images`] | copy, wait with progress, tag, share, deprecate, deregister with snapshots, family listing |
//! | [`instances`] | test launches, status checks, key pairs, security groups, finding by tag |
//! | [`kms`] | key references resolved to enabled keys' ARNs per region |
//! | [`ssm`] | `aws:ec2:image` parameters |
//! | [`commands`] | SSM Run Command: a shell script on an instance, output cut detection |

pub mod client;
pub mod commands;
pub mod consistency;
pub mod error;
pub mod images;
pub mod instances;
pub mod kms;
pub mod ssm;

pub use client::Clients;
pub use error::{Error, ErrorKind};
