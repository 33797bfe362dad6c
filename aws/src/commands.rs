//! SSM Run Command on one instance: a shell script sent with `AWS-RunShellScript` and its
//! invocation read back. AWS cuts the output it returns at [`STDOUT_LIMIT`] / [`STDERR_LIMIT`]
//! characters; [`Invocation`] says when that happened so no caller parses a cut answer as whole.

use std::time::Duration;

use crate::client::Clients;
use crate::error::{Error, Result};

/// Characters of standard output GetCommandInvocation returns at most.
pub const STDOUT_LIMIT: usize = 24_000;
/// Characters of standard error GetCommandInvocation returns at most.
pub const STDERR_LIMIT: usize = 8_000;

/// Why a command could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The instance is not (yet) a managed node: its SSM agent has not registered (still
    /// booting, no instance profile, no agent). Worth retrying for a while.
    #[error("{0}")]
    NotManaged(Error),
    /// Anything else (permissions, throttling beyond the retries, bad input).
    #[error("{0}")]
    Failed(Error),
}

/// Sends `script` to `instance` as one `AWS-RunShellScript` command (run by the agent as root);
/// `timeout` bounds its execution. Returns the command id.
pub async fn send_shell(
    clients: &Clients,
    region: &str,
    instance: &str,
    script: &str,
    timeout: Duration,
    comment: &str,
) -> Result<String, SendError> {
    let secs = timeout.as_secs().clamp(30, 172_800).to_string();
    let out = clients
        .ssm(region)
        .send_command()
        .instance_ids(instance)
        .document_name("AWS-RunShellScript")
        .parameters("commands", vec![script.to_string()])
        .parameters("executionTimeout", vec![secs])
        .comment(comment.chars().take(100).collect::<String>())
        .send()
        .await
        .map_err(|e| {
            let e = Error::sdk("SendCommand", &e);
            // SSM's code for "not a managed node (yet)"
            if e.code.as_deref() == Some("InvalidInstanceId") {
                SendError::NotManaged(e)
            } else {
                SendError::Failed(e)
            }
        })?;
    out.command()
        .and_then(|c| c.command_id())
        .map(str::to_string)
        .ok_or_else(|| SendError::Failed(Error::bad_answer("SendCommand", "command id")))
}

/// One command's result on one instance, as GetCommandInvocation reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Invocation {
    /// `Pending`, `InProgress`, `Delayed`, `Success`, `Failed`, `TimedOut`, `Cancelling`,
    /// `Cancelled`.
    pub status: String,
    /// AWS's finer status (`Undeliverable`, `ExecutionTimedOut`, `Terminated`, …).
    pub details: String,
    /// The script's exit code (`-1` until it ended).
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Invocation {
    /// Whether the command will not change any more.
    pub fn finished(&self) -> bool {
        !matches!(
            self.status.as_str(),
            "Pending" | "InProgress" | "Delayed" | "Cancelling" | ""
        )
    }

    /// Whether the script ran to its end (with any exit code).
    pub fn ran(&self) -> bool {
        matches!(self.status.as_str(), "Success" | "Failed") && self.exit >= 0
    }

    /// Whether AWS may have cut the output (it returns at most 24,000 / 8,000 characters).
    pub fn truncated(&self) -> bool {
        self.stdout.chars().count() >= STDOUT_LIMIT || self.stderr.chars().count() >= STDERR_LIMIT
    }
}

/// The invocation of `command` on `instance`; `None` while AWS does not know it yet (it is
/// eventually consistent right after SendCommand).
pub async fn invocation(
    clients: &Clients,
    region: &str,
    command: &str,
    instance: &str,
) -> Result<Option<Invocation>> {
    match clients
        .ssm(region)
        .get_command_invocation()
        .command_id(command)
        .instance_id(instance)
        .send()
        .await
    {
        Ok(o) => Ok(Some(Invocation {
            status: o
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            details: o.status_details().unwrap_or_default().to_string(),
            exit: o.response_code(),
            stdout: o.standard_output_content().unwrap_or_default().to_string(),
            stderr: o.standard_error_content().unwrap_or_default().to_string(),
        })),
        Err(e) => match Error::sdk("GetCommandInvocation", &e) {
            e if e.is_not_found() => Ok(None),
            e => Err(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(status: &str, exit: i32, stdout_len: usize) -> Invocation {
        Invocation {
            status: status.into(),
            exit,
            stdout: "x".repeat(stdout_len),
            ..Invocation::default()
        }
    }

    #[test]
    fn statuses_say_whether_the_script_ran_to_its_end() {
        assert!(!inv("InProgress", -1, 0).finished());
        assert!(!inv("Pending", -1, 0).finished());
        assert!(inv("Success", 0, 0).finished() && inv("Success", 0, 0).ran());
        assert!(inv("Failed", 3, 0).ran());
        assert!(inv("TimedOut", -1, 0).finished());
        assert!(!inv("TimedOut", -1, 0).ran());
        assert!(!inv("Failed", -1, 0).ran(), "undeliverable: no exit code");
        assert!(!inv("Cancelled", -1, 0).ran());
    }

    #[test]
    fn output_at_the_limit_counts_as_cut() {
        assert!(!inv("Success", 0, STDOUT_LIMIT - 1).truncated());
        assert!(inv("Success", 0, STDOUT_LIMIT).truncated());
        let mut i = inv("Success", 0, 10);
        i.stderr = "é".repeat(STDERR_LIMIT);
        assert!(i.truncated(), "characters, not bytes");
    }
}
