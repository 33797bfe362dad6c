//! What a run tells its watchers while it works (the CLI's log lines, the gRPC `Validate` stream,
//! the gate post-processor's UI): launches, each check's result, cleanup, the verdict. [`Event::line`]
//! is the one text form of each, whoever prints it.

use serde::Serialize;

use crate::report::{Check, Verdict};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    Started {
        run_id: String,
        targets: usize,
        instances: usize,
    },
    Launched {
        region: String,
        ami: String,
        instance_type: String,
        instance_id: String,
    },
    Check {
        region: String,
        ami: String,
        instance_type: Option<String>,
        check: Check,
    },
    CleanedUp {
        region: String,
        /// `instance i-…`, `key pair …`, `security group sg-…`
        resource: String,
    },
    Verdict {
        verdict: Verdict,
        summary: String,
    },
}

impl Event {
    /// One line for a terminal or Packer's UI.
    pub fn line(&self) -> String {
        match self {
            Event::Started {
                run_id,
                targets,
                instances,
            } => format!("run {run_id}: {targets} AMI(s), {instances} test instance(s)"),
            Event::Launched {
                region,
                ami,
                instance_type,
                instance_id,
            } => format!("{region}: launched {instance_id} ({instance_type}) from {ami}"),
            Event::Check {
                region,
                ami,
                instance_type,
                check,
            } => {
                let on = instance_type
                    .as_deref()
                    .map(|t| format!(" on {t}"))
                    .unwrap_or_default();
                let status = serde_json::to_value(check.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_uppercase))
                    .unwrap_or_default();
                let mut l = format!("{region}: {ami}{on}: {} {status}", check.name);
                if check.status != crate::report::Status::Passed {
                    let detail = crate::junit::text(
                        &crate::report::Suite {
                            region: region.clone(),
                            ami: ami.clone(),
                            instance_type: instance_type.clone(),
                            instance_id: None,
                            checks: Vec::new(),
                        },
                        check,
                    );
                    l.push_str(": ");
                    l.push_str(&detail);
                }
                l
            }
            Event::CleanedUp { region, resource } => format!("{region}: removed {resource}"),
            Event::Verdict { verdict, summary } => {
                let v = serde_json::to_value(verdict)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                format!("verdict: {v}: {summary}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Status;

    #[test]
    fn lines_say_what_failed_and_where() {
        let e = Event::Check {
            region: "eu-west-1".into(),
            ami: "ami-1".into(),
            instance_type: Some("t3.micro".into()),
            check: Check::new(
                "instance.status-checks",
                Status::Failed,
                "ok/ok",
                "impaired/ok",
            ),
        };
        assert_eq!(
            e.line(),
            "eu-west-1: ami-1 on t3.micro: instance.status-checks FAILED: expected ok/ok, found impaired/ok (ami-1 in eu-west-1)"
        );
        let v = Event::Verdict {
            verdict: Verdict::GateFailed,
            summary: "1 failed".into(),
        };
        assert_eq!(v.line(), "verdict: gate-failed: 1 failed");
    }
}
