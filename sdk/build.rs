//! Generates the protobuf types for Packer's HCL ConfigSpec (`proto/packer/hcl_spec.proto`)
//! with protox (pure Rust parser), so the build needs no system `protoc`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto/packer/hcl_spec.proto");
    let fds = protox::compile(["packer/hcl_spec.proto"], ["../proto"])?;
    prost_build::Config::new()
        .btree_map(["."]) // deterministic map order in the encoded spec
        .compile_fds(fds)?;
    Ok(())
}
