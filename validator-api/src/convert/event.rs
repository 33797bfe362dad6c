//! Run events and verdicts on the wire: [`Event`] ↔ `ValidateEvent` (a client turns what it
//! receives back into the [`Event`] and prints [`Event::line`], the one text form), statuses and
//! verdicts, and the stream's last event with the whole report.

use crate::events::Event;
use crate::pb;
use crate::report::{Check, Report, Status, Verdict};

pub fn status(s: Status) -> pb::Status {
    match s {
        Status::Passed => pb::Status::Passed,
        Status::Failed => pb::Status::Failed,
        Status::Error => pb::Status::Error,
        Status::Skipped => pb::Status::Skipped,
    }
}

pub fn verdict(v: Verdict) -> pb::Verdict {
    match v {
        Verdict::Passed => pb::Verdict::Passed,
        Verdict::GateFailed => pb::Verdict::GateFailed,
        Verdict::BadInput => pb::Verdict::BadInput,
        Verdict::InfrastructureError => pb::Verdict::InfrastructureError,
    }
}

/// A run event on the stream. (The server sends the run's last event, the verdict, from the
/// report instead: [`final_verdict`].)
pub fn event(e: &Event) -> pb::ValidateEvent {
    use pb::validate_event::Event as E;
    let ev = match e {
        Event::Started {
            run_id,
            targets,
            instances,
        } => E::Started(pb::Started {
            run_id: run_id.clone(),
            targets: u32::try_from(*targets).unwrap_or(u32::MAX),
            instances: u32::try_from(*instances).unwrap_or(u32::MAX),
        }),
        Event::Launched {
            region,
            ami,
            instance_type,
            instance_id,
        } => E::Launched(pb::Launched {
            region: region.clone(),
            ami: ami.clone(),
            instance_type: instance_type.clone(),
            instance_id: instance_id.clone(),
        }),
        Event::Check {
            region,
            ami,
            instance_type,
            check,
        } => E::Check(pb::CheckResult {
            region: region.clone(),
            ami: ami.clone(),
            instance_type: instance_type.clone().unwrap_or_default(),
            name: check.name.clone(),
            status: status(check.status).into(),
            expected: check.expected.clone(),
            found: check.found.clone(),
            message: check.message.clone(),
            seconds: check.seconds,
            line: e.line(),
        }),
        Event::CleanedUp { region, resource } => E::CleanedUp(pb::CleanedUp {
            region: region.clone(),
            resource: resource.clone(),
        }),
        Event::Verdict {
            verdict: v,
            summary,
        } => E::Verdict(pb::VerdictEvent {
            verdict: verdict(*v).into(),
            summary: summary.clone(),
            report_json: Vec::new(),
        }),
    };
    pb::ValidateEvent { event: Some(ev) }
}

/// The stream's last event: the verdict with the whole report as `run --json` writes it.
pub fn final_verdict(r: &Report) -> pb::ValidateEvent {
    pb::ValidateEvent {
        event: Some(pb::validate_event::Event::Verdict(pb::VerdictEvent {
            verdict: verdict(r.verdict).into(),
            summary: r.summary.clone(),
            report_json: r.to_json(),
        })),
    }
}

fn status_from(s: i32) -> Status {
    match pb::Status::try_from(s) {
        Ok(pb::Status::Passed) => Status::Passed,
        Ok(pb::Status::Failed) => Status::Failed,
        Ok(pb::Status::Skipped) => Status::Skipped,
        _ => Status::Error,
    }
}

fn verdict_from(v: i32) -> Verdict {
    match pb::Verdict::try_from(v) {
        Ok(pb::Verdict::Passed) => Verdict::Passed,
        Ok(pb::Verdict::GateFailed) => Verdict::GateFailed,
        Ok(pb::Verdict::BadInput) => Verdict::BadInput,
        _ => Verdict::InfrastructureError,
    }
}

/// The event a `ValidateEvent` carries (`None` for an empty one). An unknown status reads as an
/// error, an unknown verdict as an infrastructure error: never as a pass.
pub fn event_from_proto(e: pb::ValidateEvent) -> Option<Event> {
    use pb::validate_event::Event as E;
    Some(match e.event? {
        E::Started(s) => Event::Started {
            run_id: s.run_id,
            targets: s.targets as usize,
            instances: s.instances as usize,
        },
        E::Launched(l) => Event::Launched {
            region: l.region,
            ami: l.ami,
            instance_type: l.instance_type,
            instance_id: l.instance_id,
        },
        E::Check(c) => Event::Check {
            region: c.region,
            ami: c.ami,
            instance_type: (!c.instance_type.is_empty()).then_some(c.instance_type),
            check: Check {
                name: c.name,
                status: status_from(c.status),
                expected: c.expected,
                found: c.found,
                message: c.message,
                seconds: c.seconds,
            },
        },
        E::CleanedUp(c) => Event::CleanedUp {
            region: c.region,
            resource: c.resource,
        },
        E::Verdict(v) => Event::Verdict {
            verdict: verdict_from(v.verdict),
            summary: v.summary,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldErrors, Path};

    const AMI: &str = "ami-0123456789abcdef0";

    #[test]
    fn check_events_carry_the_cli_line_and_verdicts_the_report() {
        let e = Event::Check {
            region: "eu-west-1".into(),
            ami: AMI.into(),
            instance_type: None,
            check: Check::new("ami.ena", Status::Failed, "supported", "disabled"),
        };
        let Some(pb::validate_event::Event::Check(c)) = event(&e).event else {
            panic!("not a check");
        };
        assert_eq!(c.line, e.line());
        assert_eq!(c.status(), pb::Status::Failed);
        assert_eq!((c.instance_type.as_str(), c.name.as_str()), ("", "ami.ena"));
        let report = Report::refused(&FieldErrors::one(Path::fields(&["x"]), "bad"));
        let Some(pb::validate_event::Event::Verdict(v)) = final_verdict(&report).event else {
            panic!("not a verdict");
        };
        assert_eq!(v.verdict(), pb::Verdict::BadInput);
        let back: Report = serde_json::from_slice(&v.report_json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn events_come_back_from_the_wire_as_they_left() {
        let all = [
            Event::Started {
                run_id: "r".into(),
                targets: 2,
                instances: 4,
            },
            Event::Launched {
                region: "eu-west-1".into(),
                ami: AMI.into(),
                instance_type: "t3.micro".into(),
                instance_id: "i-1".into(),
            },
            Event::Check {
                region: "eu-west-1".into(),
                ami: AMI.into(),
                instance_type: Some("t3.micro".into()),
                check: Check::new("instance.launch", Status::Skipped, "", "").with_message("why"),
            },
            Event::CleanedUp {
                region: "eu-west-1".into(),
                resource: "instance i-1".into(),
            },
            Event::Verdict {
                verdict: Verdict::GateFailed,
                summary: "1 failed".into(),
            },
        ];
        for e in all {
            assert_eq!(event_from_proto(event(&e)).as_ref(), Some(&e));
        }
        let unknown = pb::ValidateEvent {
            event: Some(pb::validate_event::Event::Verdict(pb::VerdictEvent {
                verdict: 99,
                ..Default::default()
            })),
        };
        assert!(matches!(
            event_from_proto(unknown),
            Some(Event::Verdict {
                verdict: Verdict::InfrastructureError,
                ..
            })
        ));
    }
}
