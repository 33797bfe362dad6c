//! The result of a run: named checks grouped in suites (one per AMI for its attributes, one per
//! AMI and instance type for launches), what was cleaned up, the verdict and its exit code, and
//! the JSON form (`--json`).

use serde::{Deserialize, Serialize};

/// Version tag of the JSON report.
pub const SCHEMA: &str = "amiforge.validation-report/v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    /// The AMI does not meet the gate.
    Failed,
    /// The check could not be made (AWS error, interrupted).
    Error,
    /// Not run (with the reason in the message).
    Skipped,
}

/// One named check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Stable name, e.g. `ami.encrypted`, `instance.status-checks`.
    pub name: String,
    pub status: Status,
    /// What the gate wanted and what was found (empty when not applicable).
    pub expected: String,
    pub found: String,
    /// One line for humans; failure texts name the AMI and region.
    pub message: String,
    pub seconds: f64,
}

impl Check {
    pub fn new(
        name: &str,
        status: Status,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Check {
        Check {
            name: name.to_string(),
            status,
            expected: expected.into(),
            found: found.into(),
            message: String::new(),
            seconds: 0.0,
        }
    }

    pub fn with_message(mut self, m: impl Into<String>) -> Check {
        self.message = m.into();
        self
    }
}

/// Checks of one AMI (attributes) or of one test instance (launch, in-guest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite {
    pub region: String,
    pub ami: String,
    /// `None` for the AMI attribute suite.
    pub instance_type: Option<String>,
    pub instance_id: Option<String>,
    pub checks: Vec<Check>,
}

impl Suite {
    /// `eu-west-1 ami-… ` or `eu-west-1 ami-… t3.micro`.
    pub fn name(&self) -> String {
        match &self.instance_type {
            Some(t) => format!("{} {} {t}", self.region, self.ami),
            None => format!("{} {} attributes", self.region, self.ami),
        }
    }

    pub fn count(&self, s: Status) -> usize {
        self.checks.iter().filter(|c| c.status == s).count()
    }
}

/// What the run removed again, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cleanup {
    pub instances: Vec<String>,
    pub key_pairs: Vec<String>,
    pub security_groups: Vec<String>,
    /// Resources that could not be removed (`sweep` finds them by tag).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Passed,
    GateFailed,
    BadInput,
    InfrastructureError,
}

impl Verdict {
    /// The process exit code: 0 pass, 1 gate failed, 2 bad input, 3 infrastructure error.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Passed => 0,
            Verdict::GateFailed => 1,
            Verdict::BadInput => 2,
            Verdict::InfrastructureError => 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub run_id: String,
    pub started_at: String,
    pub seconds: f64,
    pub verdict: Verdict,
    /// One line: counts, or why the run could not finish.
    pub summary: String,
    pub suites: Vec<Suite>,
    pub cleanup: Cleanup,
}

impl Report {
    /// The verdict the checks and the cleanup add up to: any failed check fails the gate; else
    /// any error (or cleanup left something) is an infrastructure error.
    pub fn decide(suites: &[Suite], cleanup: &Cleanup, interrupted: bool) -> Verdict {
        let count = |s| suites.iter().map(|x| x.count(s)).sum::<usize>();
        if count(Status::Failed) > 0 {
            Verdict::GateFailed
        } else if interrupted || count(Status::Error) > 0 || !cleanup.errors.is_empty() {
            Verdict::InfrastructureError
        } else {
            Verdict::Passed
        }
    }

    /// The report of a finished run: verdict decided, summary `N passed, … {scope}{notes}`.
    pub fn finish(
        run_id: &str,
        started_at: std::time::SystemTime,
        seconds: f64,
        suites: Vec<Suite>,
        cleanup: Cleanup,
        interrupted: bool,
        scope: &str,
    ) -> Report {
        let verdict = Report::decide(&suites, &cleanup, interrupted);
        let mut report = Report {
            schema: SCHEMA.into(),
            run_id: run_id.to_string(),
            started_at: humantime::format_rfc3339_seconds(started_at).to_string(),
            seconds,
            verdict,
            summary: String::new(),
            suites,
            cleanup,
        };
        let (p, f, e, s) = report.totals();
        report.summary = format!(
            "{p} passed, {f} failed, {e} error(s), {s} skipped {scope}{}{}",
            if interrupted { "; interrupted" } else { "" },
            if report.cleanup.errors.is_empty() {
                String::new()
            } else {
                format!(
                    "; cleanup left {} resource(s): run `amiforge-validator sweep --run-id {run_id}`",
                    report.cleanup.errors.len()
                )
            }
        );
        report
    }

    pub fn totals(&self) -> (usize, usize, usize, usize) {
        let count = |s| self.suites.iter().map(|x| x.count(s)).sum::<usize>();
        (
            count(Status::Passed),
            count(Status::Failed),
            count(Status::Error),
            count(Status::Skipped),
        )
    }

    /// The report of a request that never ran (bad input): the verdict and every problem.
    pub fn refused(e: &crate::field::FieldErrors) -> Report {
        Report {
            schema: SCHEMA.into(),
            run_id: String::new(),
            started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            seconds: 0.0,
            verdict: Verdict::BadInput,
            summary: e.to_string(),
            suites: Vec::new(),
            cleanup: Cleanup::default(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suite(statuses: &[Status]) -> Suite {
        Suite {
            region: "eu-west-1".into(),
            ami: "ami-1".into(),
            instance_type: None,
            instance_id: None,
            checks: statuses
                .iter()
                .map(|s| Check::new("x", *s, "", ""))
                .collect(),
        }
    }

    #[test]
    fn a_failure_outranks_an_error_and_errors_outrank_a_pass() {
        let clean = Cleanup::default();
        use Status::*;
        assert_eq!(
            Report::decide(&[suite(&[Passed, Skipped])], &clean, false),
            Verdict::Passed
        );
        assert_eq!(
            Report::decide(&[suite(&[Passed, Error])], &clean, false),
            Verdict::InfrastructureError
        );
        assert_eq!(
            Report::decide(&[suite(&[Error]), suite(&[Failed])], &clean, false),
            Verdict::GateFailed
        );
        assert_eq!(
            Report::decide(&[suite(&[Passed])], &clean, true),
            Verdict::InfrastructureError
        );
        let left = Cleanup {
            errors: vec!["i-1".into()],
            ..Cleanup::default()
        };
        assert_eq!(
            Report::decide(&[suite(&[Passed])], &left, false),
            Verdict::InfrastructureError
        );
        assert_eq!(
            [
                Verdict::Passed,
                Verdict::GateFailed,
                Verdict::BadInput,
                Verdict::InfrastructureError
            ]
            .map(Verdict::exit_code),
            [0, 1, 2, 3]
        );
    }
}
