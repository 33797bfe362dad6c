//! The summary table shown in Packer's UI after a run.

use amiforge_profile::report::Report;
use amiforge_profile::results::Status;

/// Lines of the summary: counts per status, then the ids that need attention.
pub fn table(r: &Report) -> Vec<String> {
    let s = &r.summary;
    let mut out = vec![
        format!(
            "  {:<18} {:>5}   target {} {} ({}), /proc/sys {}",
            "status",
            "count",
            r.target.os_id,
            r.target.os_version,
            r.target.arch,
            r.target.proc_sys
        ),
        format!("  {:<18} {:>5}", "pass", s.pass),
        format!("  {:<18} {:>5}", "fixed", s.fixed),
        format!("  {:<18} {:>5}", "failed", s.failed),
        format!("  {:<18} {:>5}", "not applicable", s.not_applicable),
        format!("  {:<18} {:>5}", "applies at boot", s.applies_at_boot),
        format!("  {:<18} {:>5}", "not verifiable", s.not_verifiable),
        format!(
            "  {:<18} {:>5}   ({} changed on this run)",
            "total", s.total, s.changed
        ),
    ];
    for (status, label) in [
        (Status::Failed, "failed"),
        (Status::Fixed, "fixed"),
        (Status::NotVerifiable, "not verifiable"),
    ] {
        let ids: Vec<&str> = r
            .results
            .iter()
            .filter(|x| x.status == status)
            .map(|x| x.id.as_str())
            .collect();
        if !ids.is_empty() {
            out.push(format!("  {label}: {}", ids.join(", ")));
        }
    }
    out
}
