//! The amiforge plugin: its name, version and component registry.
//!
//! Every component registers here under its short name; Packer users write it with the plugin
//! prefix (`amiforge-NAME`). What the Packer integrations registry shows about the plugin is in
//! [`integration`].

pub mod harden;
pub mod input;
pub mod integration;
pub mod replicate;
pub mod sysprep;
pub mod validate;

use packer_sdk::Plugin;

/// Plugin name: components appear in templates as `amiforge-<component>`.
pub const NAME: &str = "amiforge";
/// Where `packer plugins install` records the plugin from.
pub const SOURCE: &str = "github.com/amiforge/amiforge";

/// The plugin with every component registered.
pub fn plugin() -> Plugin {
    Plugin::new(NAME, env!("CARGO_PKG_VERSION"), SOURCE)
        .provisioner::<harden::Harden>("harden")
        .provisioner::<sysprep::Sysprep>("sysprep")
        .post_processor::<replicate::Replicate>("replicate")
        .post_processor::<validate::Validate>("validate")
        .integration(integration::integration())
}

#[cfg(test)]
mod tests {
    #[test]
    fn describe_lists_registered_components_only() {
        let d = super::plugin().describe();
        assert_eq!(d["api_version"], "x5.0");
        assert_eq!(d["protocol_version"], "v2");
        assert_eq!(d["provisioners"], serde_json::json!(["harden", "sysprep"]));
        assert_eq!(
            d["post_processors"],
            serde_json::json!(["replicate", "validate"])
        );
    }
}
