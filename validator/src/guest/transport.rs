//! How in-guest checks reach a machine: the [`Transport`] trait (run one `sh` script as root,
//! get its exit code and output) that SSH and SSM Run Command implement, and the [`Output`]
//! they return.

use std::future::Future;

/// What one script run printed and how it ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
}

/// A way to run scripts on a guest.
pub trait Transport: Sync {
    /// Runs `script` with `sh` as root on the guest (the script is the shell's input). `Err`:
    /// the script could not be run or its result not be read whole (never a result to judge).
    fn run(&self, script: &str) -> impl Future<Output = Result<Output, String>> + Send;

    /// At most this many characters of stdout come back from one run (`None`: no limit);
    /// callers stage larger output on the guest and read it in pieces.
    fn output_limit(&self) -> Option<usize>;

    /// The guest, for messages: `admin@127.0.0.1:2222`, `i-0abc… via SSM`.
    fn describe(&self) -> String;
}

/// The last non-empty line of `s` (for error messages), at most 300 characters.
pub fn last_line(s: &str) -> String {
    let l = s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut out: String = l.trim().chars().take(300).collect();
    if out.is_empty() {
        out.push_str("no error output");
    }
    out
}
