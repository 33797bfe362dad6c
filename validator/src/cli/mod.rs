//! The command line (private to the binary): `run` (validate AMIs; JUnit/JSON; exit 0 pass, 1
//! gate failed, 2 bad input, 3 infrastructure error), `check` (the in-guest checks against a
//! running host over SSH, no AWS; same exit codes), `sweep` (remove what killed runs left) and
//! `scan` (an SBOM's packages against an OSV database, judged by policy; exit 0 clean, 1
//! violated, 2 bad input), `serve` (the gRPC API; prints `listening on ADDR` when ready), `token` (a bearer token for
//! `serve`), `health` (asks a server whether it serves), `completions` and `man` (generated from
//! these same flags). AWS is reached through the
//! standard credential chain and region; `AWS_ENDPOINT_URL` points it elsewhere (emulators).
//! SIGINT/SIGTERM stop the run and clean up; a second one abandons cleanup (then `sweep`).
//!
//! | module | owns |
//! |---|---|
//! | [`args`] | the flags, parsed once (`run` flattens the validator's settings structs) |
//! | [`run`], [`check`], [`scan`], [`sweep`], [`serve`] | one command each |
//! | [`output`] | event lines, reports, bad input, `--manifest` |
//! | [`signals`] | first signal cancels, second abandons; stdin closing |
//! | [`health`] | `health`: one authenticated `Health` call, retried until `--wait` |
//! | [`generate`] | `completions` and `man`, from the clap model |

mod args;
mod check;
mod generate;
mod health;
mod output;
mod run;
mod scan;
mod serve;
mod signals;
mod sweep;

use amiforge_validator_api::Verdict;
use clap::Parser;

use args::{Cli, Command};

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    // a server says who called what at the default level (the audit log)
    let default = match cli.command {
        Command::Serve(_) => "warn,amiforge_validator::audit=info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMIFORGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("amiforge-validator: cannot start: {e}");
            return Verdict::InfrastructureError.exit_code();
        }
    };
    rt.block_on(async move {
        let home = cli.region.clone().unwrap_or_else(|| "us-east-1".into());
        match cli.command {
            Command::Run(a) => run::command(&home, *a).await,
            Command::Sweep(a) => sweep::command(&home, a).await,
            Command::Serve(a) => serve::command(&home, *a).await,
            Command::Token(a) => serve::token(&a),
            Command::Check(a) => check::command(*a).await,
            Command::Scan(a) => scan::command(&a).await,
            Command::Health(a) => health::command(&a).await,
            Command::Completions(a) => generate::completions(a.shell),
            Command::Man(a) => generate::man(&a.out),
        }
    })
}

#[cfg(test)]
mod tests;
