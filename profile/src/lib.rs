//! `amiforge-profile`: declarative hardening profiles, shared by the `amiforge-harden`
//! provisioner and the validator.
//!
//! A profile is a reviewed TOML file of controls (id, title, severity, rationale, platforms, and a
//! typed check with its remediation). [`load`] reads built-in or user profiles and reports problems
//! by field; [`resolve`] applies the user's parameters, exclusions and opt-ins; [`compile`] turns
//! the result into ONE script for the target (POSIX sh for Linux, PowerShell for Windows) that
//! checks, fixes (enforce) and re-checks every control and prints structured results;
//! [`results`] parses them and [`report`] builds the sha256-carrying report; [`evidence`] says
//! where the report and SBOM go on the image. With the `test-util` feature, `testutil` holds
//! the PowerShell parse check the generating crates' tests share.

pub mod compile;
pub mod docs;
pub mod evidence;
pub mod load;
pub mod model;
pub mod report;
pub mod resolve;
pub mod results;
#[cfg(feature = "test-util")]
pub mod testutil;

pub use load::{LoadError, Source, builtin, builtin_names, load};
pub use model::{Check, Control, Mode, Os, Profile, Severity};
pub use resolve::{ResolveError, Resolved, resolve};
pub use results::{ControlResult, Status, Summary};
