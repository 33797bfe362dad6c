//! JUnit XML (`--junit`) for CI systems: one `<testsuite>` per suite (an AMI's attributes, or an
//! AMI on one instance type), one `<testcase>` per check; failures say what was expected and what
//! was found, naming the AMI and region. Written with quick-xml, so every value is escaped.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::report::{Check, Report, Status, Suite};

/// The report as a JUnit XML document.
pub fn render(report: &Report) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let (passed, failed, errors, skipped) = report.totals();
    let tests = (passed + failed + errors + skipped).to_string();
    let (failed, errors, skipped) = (failed.to_string(), errors.to_string(), skipped.to_string());
    let time = format!("{:.3}", report.seconds);
    w.create_element("testsuites")
        .with_attributes([
            ("name", "amiforge-validator"),
            ("tests", tests.as_str()),
            ("failures", failed.as_str()),
            ("errors", errors.as_str()),
            ("skipped", skipped.as_str()),
            ("time", time.as_str()),
        ])
        .write_inner_content(|w| {
            for s in &report.suites {
                suite(w, s, &report.run_id)?;
            }
            Ok(())
        })?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}

fn suite(w: &mut Writer<Vec<u8>>, s: &Suite, run_id: &str) -> io::Result<()> {
    let count = |st| s.count(st).to_string();
    let time = format!("{:.3}", s.checks.iter().map(|c| c.seconds).sum::<f64>());
    let name = s.name();
    let (tests, failures, errors, skipped) = (
        s.checks.len().to_string(),
        count(Status::Failed),
        count(Status::Error),
        count(Status::Skipped),
    );
    w.create_element("testsuite")
        .with_attributes([
            ("name", name.as_str()),
            ("tests", tests.as_str()),
            ("failures", failures.as_str()),
            ("errors", errors.as_str()),
            ("skipped", skipped.as_str()),
            ("time", time.as_str()),
        ])
        .write_inner_content(|w| {
            w.create_element("properties").write_inner_content(|w| {
                let mut props = vec![
                    ("region", s.region.as_str()),
                    ("ami", s.ami.as_str()),
                    ("run_id", run_id),
                ];
                if let Some(t) = &s.instance_type {
                    props.push(("instance_type", t));
                }
                if let Some(i) = &s.instance_id {
                    props.push(("instance_id", i));
                }
                for (k, v) in props {
                    w.create_element("property")
                        .with_attributes([("name", k), ("value", v)])
                        .write_empty()?;
                }
                Ok(())
            })?;
            for c in &s.checks {
                case(w, s, c)?;
            }
            Ok(())
        })?;
    Ok(())
}

fn case(w: &mut Writer<Vec<u8>>, s: &Suite, c: &Check) -> io::Result<()> {
    let classname = match &s.instance_type {
        Some(t) => format!("{}.{}.{t}", s.region, s.ami),
        None => format!("{}.{}", s.region, s.ami),
    };
    let time = format!("{:.3}", c.seconds);
    let el = w.create_element("testcase").with_attributes([
        ("classname", classname.as_str()),
        ("name", c.name.as_str()),
        ("time", time.as_str()),
    ]);
    let tag = match c.status {
        Status::Passed => {
            el.write_empty()?;
            return Ok(());
        }
        Status::Failed => "failure",
        Status::Error => "error",
        Status::Skipped => "skipped",
    };
    let message = text(s, c);
    el.write_inner_content(|w| {
        let inner = w
            .create_element(tag)
            .with_attributes([("message", message.as_str()), ("type", c.name.as_str())]);
        if c.status == Status::Skipped {
            inner.write_empty()?;
        } else {
            inner.write_text_content(BytesText::new(&message))?;
        }
        Ok(())
    })?;
    Ok(())
}

/// "expected X, found Y: message (ami-… in region)".
pub fn text(s: &Suite, c: &Check) -> String {
    let mut t = String::new();
    if !c.expected.is_empty() || !c.found.is_empty() {
        t.push_str(&format!("expected {}, found {}", c.expected, c.found));
    }
    if !c.message.is_empty() {
        if !t.is_empty() {
            t.push_str(": ");
        }
        t.push_str(&c.message);
    }
    t.push_str(&format!(" ({} in {})", s.ami, s.region));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Cleanup, Verdict};

    fn report() -> Report {
        Report {
            schema: crate::report::SCHEMA.into(),
            run_id: "r1".into(),
            started_at: "2026-11-27T00:00:00Z".into(),
            seconds: 1.5,
            verdict: Verdict::GateFailed,
            summary: String::new(),
            suites: vec![
                Suite {
                    region: "eu-west-1".into(),
                    ami: "ami-1".into(),
                    instance_type: None,
                    instance_id: None,
                    checks: vec![
                        Check::new("ami.available", Status::Passed, "available", "available"),
                        Check::new("ami.encrypted", Status::Failed, "key <a&b>", "unencrypted")
                            .with_message("snapshot snap-1"),
                    ],
                },
                Suite {
                    region: "eu-west-1".into(),
                    ami: "ami-1".into(),
                    instance_type: Some("t3.micro".into()),
                    instance_id: Some("i-1".into()),
                    checks: vec![
                        Check::new("instance.launch", Status::Error, "", "")
                            .with_message("RunInstances: InsufficientInstanceCapacity"),
                        Check::new("instance.status-checks", Status::Skipped, "", "")
                            .with_message("not launched"),
                    ],
                },
            ],
            cleanup: Cleanup::default(),
        }
    }

    #[test]
    fn counts_cases_and_escapes_values() {
        let xml = String::from_utf8(render(&report()).unwrap()).unwrap();
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        assert!(xml.contains(
            r#"<testsuites name="amiforge-validator" tests="4" failures="1" errors="1" skipped="1" time="1.500">"#
        ), "{xml}");
        assert!(
            xml.contains(r#"<testsuite name="eu-west-1 ami-1 attributes" tests="2" failures="1""#)
        );
        assert!(xml.contains(r#"<testsuite name="eu-west-1 ami-1 t3.micro" tests="2" failures="0" errors="1" skipped="1""#));
        assert!(xml.contains("expected key &lt;a&amp;b&gt;, found unencrypted: snapshot snap-1 (ami-1 in eu-west-1)"), "{xml}");
        assert!(xml.contains(r#"<property name="instance_id" value="i-1"/>"#));
        assert!(xml.contains(
            r#"<testcase classname="eu-west-1.ami-1" name="ami.available" time="0.000"/>"#
        ));
    }

    #[test]
    fn the_document_parses_back_with_the_same_shape() {
        use quick_xml::Reader;
        use quick_xml::events::Event as E;
        let xml = render(&report()).unwrap();
        let mut r = Reader::from_reader(xml.as_slice());
        let (mut cases, mut failures, mut depth, mut max_depth) = (0, 0, 0, 0);
        let mut buf = Vec::new();
        loop {
            match r.read_event_into(&mut buf).unwrap() {
                E::Start(e) => {
                    depth += 1;
                    max_depth = max_depth.max(depth);
                    cases += usize::from(e.name().into_inner() == "testcase");
                    failures += usize::from(e.name().into_inner() == "failure");
                }
                E::Empty(e) => cases += usize::from(e.name().into_inner() == "testcase"),
                E::End(_) => depth -= 1,
                E::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        assert_eq!((cases, failures, depth), (4, 1, 0));
        assert_eq!(max_depth, 4, "testsuites > testsuite > testcase > failure");
    }
}
