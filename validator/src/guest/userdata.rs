//! `guest.user-data`: the user data the test launch passed ran to completion. `hybrid` and
//! `os-only` images finish their configuration at launch, so their test must prove that launch
//! configuration works, not only that the instance boots: the check waits for cloud-init
//! (`cloud-init status --wait --long`, bounded) and passes on `status: done` with exit 0.
//! cloud-init's `error` (exit 1), recoverable errors (exit 2, cloud-init ≥ 23.4) and a timeout
//! fail, naming what cloud-init reported; a guest without cloud-init is an error (Windows'
//! EC2Launch status is not read yet).

use std::time::Duration;

use amiforge_validator_api::report::{Check, Status};

use super::exec;
use super::transport::{Transport, last_line};

pub const NAME: &str = "guest.user-data";

const NO_CLOUD_INIT: &str = "AMIFORGE-NO-CLOUD-INIT";

/// The script: waits at most `wait` for cloud-init to finish and prints its long status.
pub fn script(wait: Duration) -> String {
    format!(
        "command -v cloud-init >/dev/null 2>&1 || {{ echo {NO_CLOUD_INIT}; exit 127; }}\n\
         timeout {} cloud-init status --wait --long\n",
        wait.as_secs().max(1)
    )
}

/// Judges cloud-init's answer (exit code and `status --long` output).
pub fn judge(exit: i32, stdout: &str, stderr: &str, wait: Duration) -> Check {
    let expected = "cloud-init status: done (exit 0)";
    let field = |key: &str| {
        stdout.lines().find_map(|l| {
            l.trim()
                .strip_prefix(key)
                .map(|v| v.trim().trim_start_matches(':').trim().to_string())
        })
    };
    let status = field("status").unwrap_or_default();
    let found = if status.is_empty() {
        format!("exit {exit}")
    } else {
        format!("status: {status} (exit {exit})")
    };
    if stdout.contains(NO_CLOUD_INIT) {
        return Check::new(NAME, Status::Error, expected, "no cloud-init").with_message(
            "user data was given but the guest has no cloud-init to report on it \
             (EC2Launch status on Windows is not read yet)",
        );
    }
    if exit == 124 {
        return Check::new(NAME, Status::Failed, expected, found).with_message(format!(
            "cloud-init did not finish within {} (still {})",
            humantime::format_duration(wait),
            if status.is_empty() {
                "running"
            } else {
                &status
            }
        ));
    }
    if exit == 0 && status == "done" {
        return Check::new(NAME, Status::Passed, expected, found);
    }
    // what cloud-init says went wrong: `detail:` and the `errors:` list
    let mut why: Vec<String> = Vec::new();
    if let Some(d) = field("detail").filter(|d| !d.is_empty()) {
        why.push(d);
    }
    let mut in_errors = false;
    for l in stdout.lines() {
        let t = l.trim();
        if t.starts_with("errors:") {
            in_errors = true;
            let rest = t.trim_start_matches("errors:").trim();
            if !rest.is_empty() && rest != "[]" {
                why.push(rest.to_string());
            }
        } else if in_errors && t.starts_with('-') {
            why.push(t.trim_start_matches('-').trim().to_string());
        } else if in_errors && !t.is_empty() {
            in_errors = false;
        }
    }
    if why.is_empty() && !stderr.trim().is_empty() {
        why.push(last_line(stderr));
    }
    let what = match exit {
        2 => "finished with recoverable errors",
        1 => "reported an error",
        _ => "did not report done",
    };
    Check::new(NAME, Status::Failed, expected, found).with_message(format!(
        "the launch's user data: cloud-init {what}{}",
        if why.is_empty() {
            String::new()
        } else {
            format!(": {}", why.join("; "))
        }
    ))
}

/// Runs the check on the guest behind `t`.
pub async fn check<T: Transport>(t: &T, wait: Duration) -> Check {
    match exec::run_root(t, &script(wait), false).await {
        Ok(o) => judge(o.exit, &o.stdout, &o.stderr, wait),
        Err(e) => {
            Check::new(NAME, Status::Error, "cloud-init status: done", "not run").with_message(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: Duration = Duration::from_secs(300);

    #[test]
    fn done_passes_and_everything_else_says_why() {
        let ok = "status: done\nextended_status: done\nboot_status_code: enabled-by-generator\ndetail:\nDataSourceEc2Local\nerrors: []\n";
        assert_eq!(judge(0, ok, "", W).status, Status::Passed);

        let err = "status: error\ndetail:\nDataSourceEc2Local\nerrors:\n\t- ('scripts_user', RuntimeError('Runparts: 1 failures (part-001) in 1 attempted commands'))\n";
        let c = judge(1, err, "", W);
        assert_eq!(c.status, Status::Failed);
        assert!(c.message.contains("reported an error"), "{c:?}");
        assert!(c.message.contains("part-001"), "{c:?}");
        assert_eq!(c.found, "status: error (exit 1)");

        let degraded = "status: done\nextended_status: degraded done\nerrors: []\nrecoverable_errors:\nWARNING:\n\t- Deprecated key\n";
        let c = judge(2, degraded, "", W);
        assert_eq!(c.status, Status::Failed);
        assert!(c.message.contains("recoverable errors"), "{c:?}");

        let c = judge(124, "status: running\n", "", W);
        assert_eq!(c.status, Status::Failed);
        assert!(c.message.contains("did not finish within 5m"), "{c:?}");

        let c = judge(127, "AMIFORGE-NO-CLOUD-INIT\n", "", W);
        assert_eq!(c.status, Status::Error);
    }

    #[test]
    fn the_script_is_bounded_and_knows_when_cloud_init_is_missing() {
        let s = script(Duration::from_secs(90));
        assert!(
            s.contains("timeout 90 cloud-init status --wait --long"),
            "{s}"
        );
        assert!(s.contains(NO_CLOUD_INIT));
    }
}
