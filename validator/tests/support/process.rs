//! The `amiforge-validator serve` binary as a child process: started until it says where it
//! listens (or exits with its error), stopped with SIGTERM and its stderr collected.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use amiforge_e2e::emulator::Emulator;

/// Runs `serve` with `args` until it listens (or exits); its stdout line and stderr so far.
pub fn serve_binary(
    emu: &Emulator,
    args: &[&str],
) -> (Option<std::process::Child>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_amiforge-validator"))
        .arg("serve")
        .args(args)
        .envs(emu.env())
        .env_remove("AMIFORGE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.starts_with("listening on") {
        return (Some(child), line, String::new());
    }
    let out = child.wait_with_output().unwrap();
    (
        None,
        line,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Stops a served child with SIGTERM; its stderr (the audit lines).
pub fn stop(mut child: std::process::Child) -> String {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let mut err = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(child.wait().unwrap().success());
    err
}
