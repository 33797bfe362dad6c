//! `amiforge-model`: the pure model every amiforge crate shares. No I/O, no AWS SDK, no Packer.
//!
//! | module | owns |
//! |---|---|
//! | [`manifest`] | the replication manifest (v1): every region's AMI, snapshots, keys, tags, sharing, cost, hardening digests; sealed with its own sha256 |
//! | [`strategy`] | [`Strategy`] (full / hybrid / os-only): shelf lives, configuration at launch |
//! | [`artifact`] | Packer's AMI artifact ids (`region:ami,…`), region and AMI id shapes |
//! | [`sharing`] | [`Sharing`] and the formats of accounts, organizations, OUs and KMS key references |
//! | [`tags`] | the tags amiforge writes (provenance, ownership, validation) and AWS's tag limits |
//! | [`ssm`] | the SSM parameter names amiforge moves |
//! | [`duration`] | durations users write (`90d`, `15m`) |
//! | [`cost`] | the snapshot storage and transfer estimate |
//! | [`digest`] | sha256 in hex |
//! | [`purl`] | package URLs of OS packages (`distro=` and `upstream=` qualifiers): what every SBOM amiforge writes says and the scanner reads |

pub mod artifact;
pub mod cost;
pub mod digest;
pub mod duration;
pub mod manifest;
pub mod purl;
pub mod sharing;
pub mod ssm;
pub mod strategy;
pub mod tags;

pub use digest::sha256_hex;
pub use manifest::Manifest;
pub use sharing::Sharing;
pub use strategy::Strategy;
