//! `amiforge-scan`: is anything installed on an image vulnerable, and does that fail the release?
//! Pure matching, no network and no AWS: callers hand it an inventory (a CycloneDX SBOM's purls)
//! and a vulnerability database, and get findings judged by a policy.
//!
//! | module | owns |
//! |---|---|
//! | [`version`] | version order per package kind: dpkg (epoch, upstream, `~`, revision) and rpm (epoch:version-release, rpmvercmp) |
//! | [`distro`] | a purl's `distro` qualifier (`debian-12`) → the OSV ecosystem (`Debian:12`) and its version order |
//! | [`inventory`] | the packages of a CycloneDX SBOM, from their purls (source package from `upstream`) |
//! | [`osv`] | the OSV record fields matching needs; whether a version is in an `affected` entry, and its fix |
//! | [`database`] | an OSV directory or zip → an [`index::Index`], cached by the database's digest |
//! | [`index`] | records by ecosystem and package name: one lookup per installed package |
//! | [`severity`] | `low` … `critical`, from CVSS vectors or the distribution's own rating |
//! | [`matcher`] | the [`matcher::Matcher`] trait (backends: OSV offline; Amazon Inspector next) and the OSV matcher |
//! | [`policy`] | threshold, fixed-only, the allowlist file (expired entries fail) → verdict |
//! | [`report`] | the scan report (JSON) and the lines a person reads |
//! | [`sarif`], [`junit`] | SARIF 2.1.0 for code scanning; JUnit, one test case per finding |

pub mod database;
pub mod distro;
pub mod index;
pub mod inventory;
pub mod junit;
pub mod matcher;
pub mod osv;
pub mod policy;
pub mod report;
pub mod sarif;
pub mod severity;
pub mod version;

pub use inventory::Package;
pub use matcher::{Finding, Matcher};
pub use policy::{Allowlist, Policy, Verdict};
pub use severity::Severity;
