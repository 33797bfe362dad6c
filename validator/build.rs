//! Generates the gRPC API (`proto/amiforge/validator/v1/validator.proto`): prost messages and
//! tonic client + server, parsed with protox (pure Rust), so the build needs no system `protoc`.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto/amiforge");
    let fds = protox::compile(["amiforge/validator/v1/validator.proto"], ["../proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .type_attribute(".", "#[allow(clippy::all)]")
        .compile_fds(fds)?;
    Ok(())
}
