//! `amiforge-aws`: everything amiforge says to AWS, in one crate so the rest of the workspace
//! builds without the AWS SDK (the SDK costs minutes per cold build).
//!
//! Pure logic (no SDK): [`artifact`] (Packer's `region:ami` ids), [`sharing`] (account/org/OU/KMS
//! reference formats), [`tags`] (provenance and limits), [`cost`], [`duration`], [`manifest`], [`lifecycle`]
//! (strategies and shelf lives).
//! SDK side: [`client`] (per-region clients, endpoint override, adaptive retry), [`images`]
//! (copy, wait, tag, share, deprecate, deregister with snapshots), [`instances`] (test launches,
//! status checks, key pairs, security groups, finding by tag), [`kms`], [`ssm`], [`commands`]
//! (SSM Run Command: a shell script on an instance, output cut detection).

pub mod artifact;
pub mod client;
pub mod commands;
pub mod cost;
pub mod duration;
pub mod images;
pub mod instances;
pub mod kms;
pub mod lifecycle;
pub mod manifest;
pub mod sharing;
pub mod ssm;
pub mod tags;
