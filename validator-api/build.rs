//! Generates the gRPC API's messages and client (`proto/amiforge/validator/v1/validator.proto`)
//! with protox (pure Rust, no system `protoc`). The server side is generated in
//! `amiforge-validator`, so clients such as the Packer plugin never compile it.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto/amiforge");
    let fds = protox::compile(["amiforge/validator/v1/validator.proto"], ["../proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .type_attribute(".", "#[allow(clippy::all)]")
        .compile_fds(fds)?;
    Ok(())
}
