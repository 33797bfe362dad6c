//! `completions SHELL` and `man`: shell completion scripts and man pages generated from the same
//! clap model the command line parses with, so they never disagree with the flags.

use std::path::Path;

use clap::CommandFactory;

use super::args::Cli;

/// Prints the completion script for `shell`; returns the exit code.
pub fn completions(shell: clap_complete::Shell) -> i32 {
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, &mut std::io::stdout());
    0
}

/// Writes `amiforge-validator.1` and `amiforge-validator-COMMAND.1` for every command into
/// `out`; prints each path; returns the exit code (2 when the directory cannot be written).
pub fn man(out: &Path) -> i32 {
    match write_pages(out) {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            0
        }
        Err(e) => {
            eprintln!("amiforge-validator man: --out {}: {e}", out.display());
            2
        }
    }
}

fn write_pages(out: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(out)?;
    let cmd = Cli::command();
    let mut written = vec![page(out, "amiforge-validator", cmd.clone())?];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        // clap names are &'static str; a handful of short strings live until the process exits
        let name: &'static str = format!("amiforge-validator-{}", sub.get_name()).leak();
        written.push(page(out, name, sub.clone().name(name))?);
    }
    Ok(written)
}

fn page(out: &Path, name: &str, cmd: clap::Command) -> std::io::Result<std::path::PathBuf> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut buf)?;
    let path = out.join(format!("{name}.1"));
    std::fs::write(&path, buf)?;
    Ok(path)
}
