//! Generates the server side of the gRPC API (`proto/amiforge/validator/v1/validator.proto`) with
//! protox (no system `protoc`). The messages and the client are `amiforge-validator-api`'s
//! (`extern_path`), so both ends share one set of types.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=../proto/amiforge");
    let fds = protox::compile(["amiforge/validator/v1/validator.proto"], ["../proto"])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .extern_path(".amiforge.validator.v1", "::amiforge_validator_api::pb")
        .type_attribute(".", "#[allow(clippy::all)]")
        .compile_fds(fds)?;
    Ok(())
}
