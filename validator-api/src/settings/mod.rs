//! The validator's settings, one struct per concept, each at once the `amiforge-validate` HCL
//! spec (`#[derive(HclSpec)]`, flattened into the gate's config), the `amiforge-validator run`
//! flags (`clap::Args`, flattened into the CLI) and the proto message of the same name (field
//! names 1:1; a test holds all three equal). Old CLI spellings remain as hidden aliases.
//!
//! | module | owns |
//! |---|---|
//! | [`policy`] | [`Policy`]: what every AMI must be |
//! | [`launch`] | [`Launch`]: how test instances are launched |
//! | [`guest`] | [`Guest`]: in-guest checks and their transport |
//! | [`user_check`] | [`UserCheck`]: a user's own check; the CLI mini-syntax and checks files |
//! | [`maps`] | the map-valued settings (tags, subnets, security groups) on every front end |
//! | [`values`] | [`Transport`], [`BootMode`] and reading `""` as unset |
//! | [`ssh`] | SSH addresses, login names and destinations |

pub mod guest;
pub mod launch;
pub mod maps;
pub mod policy;
pub mod ssh;
pub mod user_check;
pub mod values;

pub use guest::Guest;
pub use launch::Launch;
pub use maps::{RequiredTags, SecurityGroups, Subnets};
pub use policy::Policy;
pub use user_check::UserCheck;
pub use values::{BootMode, Transport};
