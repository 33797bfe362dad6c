//! The SSM transport: each script is one `AWS-RunShellScript` command (the agent runs it as
//! root), sent again while the instance's agent has not registered yet (bounded by a deadline),
//! then its invocation polled to the end. Output AWS cut at 24,000 characters is an error,
//! never a result; callers keep single answers below [`Transport::output_limit`].

use std::time::{Duration, Instant};

use amiforge_aws::client::Clients;
use amiforge_aws::commands::{self, Invocation, STDOUT_LIMIT, SendError};

use super::transport::{Output, Transport, last_line};

/// One instance reached through SSM Run Command.
pub struct Ssm<'a> {
    pub clients: &'a Clients,
    pub region: String,
    pub instance: String,
    /// Sending is retried until then while the agent has not registered.
    pub wait_until: Instant,
    pub poll: Duration,
    /// One script may run this long.
    pub command_timeout: Duration,
}

/// The answer of a finished invocation, or why there is none to judge.
pub fn judge(i: &Invocation, guest: &str) -> Result<Output, String> {
    if !i.ran() {
        let why = if i.details.is_empty() {
            i.status.clone()
        } else {
            format!("{} ({})", i.status, i.details)
        };
        return Err(format!(
            "{guest}: the command did not run to its end: {why}; {}",
            last_line(&i.stderr)
        ));
    }
    if i.truncated() {
        return Err(format!(
            "{guest}: SSM cut the command's output at {STDOUT_LIMIT} characters; the result \
             is incomplete and was not judged"
        ));
    }
    Ok(Output {
        exit: i.exit,
        stdout: i.stdout.clone(),
        stderr: i.stderr.clone(),
    })
}

impl Ssm<'_> {
    async fn send(&self, script: &str) -> Result<String, String> {
        loop {
            match commands::send_shell(
                self.clients,
                &self.region,
                &self.instance,
                script,
                self.command_timeout,
                "amiforge-validator in-guest check",
            )
            .await
            {
                Ok(id) => return Ok(id),
                Err(SendError::NotManaged(m)) if Instant::now() < self.wait_until => {
                    tracing::debug!(instance = %self.instance, error = %m, "SSM agent not registered yet; retrying");
                    tokio::time::sleep(self.poll).await;
                }
                Err(SendError::NotManaged(m)) => {
                    return Err(format!(
                        "{}: the SSM agent never registered ({m}); the instance needs the agent, \
                         an instance profile allowing SSM (guest.instance_profile) or Default Host \
                         Management, and a route to SSM; or use the ssh transport",
                        self.describe()
                    ));
                }
                Err(SendError::Failed(e)) => return Err(e.to_string()),
            }
        }
    }
}

impl Transport for Ssm<'_> {
    async fn run(&self, script: &str) -> Result<Output, String> {
        let id = self.send(script).await?;
        let give_up = Instant::now() + self.command_timeout + Duration::from_secs(60);
        loop {
            tokio::time::sleep(self.poll).await;
            match commands::invocation(self.clients, &self.region, &id, &self.instance)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(i) if i.finished() => return judge(&i, &self.describe()),
                _ if Instant::now() >= give_up => {
                    return Err(format!(
                        "{}: command {id} did not finish within {}",
                        self.describe(),
                        humantime::format_duration(self.command_timeout)
                    ));
                }
                _ => {}
            }
        }
    }

    fn output_limit(&self) -> Option<usize> {
        Some(STDOUT_LIMIT)
    }

    fn describe(&self) -> String {
        format!("{} in {} via SSM", self.instance, self.region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(status: &str, details: &str, exit: i32, stdout: String) -> Invocation {
        Invocation {
            status: status.into(),
            details: details.into(),
            exit,
            stdout,
            stderr: "boom".into(),
        }
    }

    #[test]
    fn a_finished_command_is_judged_by_its_exit_code() {
        let o = judge(&inv("Failed", "Failed", 3, "x\n".into()), "i-1").unwrap();
        assert_eq!((o.exit, o.stdout.as_str()), (3, "x\n"));
        assert_eq!(
            judge(&inv("Success", "Success", 0, String::new()), "i-1")
                .unwrap()
                .exit,
            0
        );
    }

    #[test]
    fn undelivered_timed_out_or_cut_output_is_an_error_not_a_result() {
        let e = judge(&inv("Failed", "Undeliverable", -1, String::new()), "i-1").unwrap_err();
        assert!(e.contains("Undeliverable"), "{e}");
        let e = judge(
            &inv("TimedOut", "ExecutionTimedOut", -1, String::new()),
            "i-1",
        )
        .unwrap_err();
        assert!(e.contains("ExecutionTimedOut"), "{e}");
        let e = judge(
            &inv("Success", "Success", 0, "y".repeat(STDOUT_LIMIT)),
            "i-1",
        )
        .unwrap_err();
        assert!(e.contains("cut the command's output at 24000"), "{e}");
    }
}
