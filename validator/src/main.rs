//! `amiforge-validator`: the command line over the library (see [`cli`]).

mod cli;

fn main() {
    std::process::exit(cli::main());
}
