//! `guest.user:<name>`: a user's own in-guest check. The command runs with `sh` as root; it
//! passes when it exits with the expected code and, when a regex is given, its stdout matches.

use amiforge_validator_api::UserCheck;
use amiforge_validator_api::report::{Check, Status};

use super::exec;
use super::transport::{Transport, last_line};

/// The check's name in reports.
pub fn name(c: &UserCheck) -> String {
    format!("guest.user:{}", c.name)
}

/// What the check wants, for the report.
fn wanted(c: &UserCheck) -> String {
    match &c.expect_output {
        Some(r) => format!("exit {}, stdout matching /{r}/", c.expect_exit),
        None => format!("exit {}", c.expect_exit),
    }
}

/// Runs one user check.
pub async fn check<T: Transport>(t: &T, c: &UserCheck) -> Check {
    let n = name(c);
    let expected = wanted(c);
    let re = match c
        .expect_output
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
    {
        Ok(r) => r,
        Err(e) => {
            return Check::new(&n, Status::Error, expected, "not run")
                .with_message(format!("guest.checks {:?}: expect_output: {e}", c.name));
        }
    };
    let out = match exec::run_root(t, &c.command, false).await {
        Ok(o) => o,
        Err(e) => return Check::new(&n, Status::Error, expected, "not run").with_message(e),
    };
    let first = out
        .stdout
        .lines()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take(200).collect::<String>());
    let found = match &first {
        Some(l) => format!("exit {}, stdout {l:?}", out.exit),
        None => format!("exit {}, no stdout", out.exit),
    };
    if out.exit != c.expect_exit {
        let err = if out.stderr.trim().is_empty() {
            String::new()
        } else {
            format!("; stderr: {}", last_line(&out.stderr))
        };
        return Check::new(&n, Status::Failed, expected, found).with_message(format!(
            "{:?} exited {} on {}, expected {}{err}",
            c.command,
            out.exit,
            t.describe(),
            c.expect_exit
        ));
    }
    if let Some(re) = &re
        && !re.is_match(&out.stdout)
    {
        return Check::new(&n, Status::Failed, expected, found).with_message(format!(
            "the output of {:?} on {} does not match /{}/",
            c.command,
            t.describe(),
            re.as_str()
        ));
    }
    Check::new(&n, Status::Passed, expected, found)
}
