//! `packer-plugin-amiforge`: the amiforge Packer plugin. The component registry lives in
//! [`amiforge_plugin::plugin`]; components arrive with their own issues.

fn main() {
    amiforge_plugin::plugin().main()
}
