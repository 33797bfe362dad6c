//! `amiforge-validator`: the command line over the library (see `amiforge_validator::cli`).

fn main() {
    std::process::exit(amiforge_validator::cli::main());
}
