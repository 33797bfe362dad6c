//! Project tasks behind `cargo xtask` (the binary in `main.rs` parses the command line):
//! [`release`] packages `packer-plugin-amiforge` the way Packer's plugin getter reads a release.

pub mod release;
