//! JUnit XML for CI systems: one test case per finding (a failure when it fails the policy,
//! skipped with the reason otherwise), one failing case per expired allowlist entry, and one
//! passing case when nothing was found, so a clean scan still shows up.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

use crate::policy::Disposition;
use crate::report::ScanReport;

struct Case {
    classname: String,
    name: String,
    /// (tag, message): `failure` or `skipped`; none for a pass.
    outcome: Option<(&'static str, String)>,
}

fn cases(r: &ScanReport) -> Vec<Case> {
    let mut out: Vec<Case> = r
        .verdict
        .findings
        .iter()
        .map(|j| {
            let f = &j.finding;
            let text = format!(
                "{} {} ({}) is affected by {}; fixed in {}; severity {} [{}]",
                f.package,
                f.installed,
                f.matched,
                f.id,
                f.fixed.as_deref().unwrap_or("no fixed version yet"),
                f.severity,
                f.severity_source
            );
            let outcome = match j.disposition {
                Disposition::Violation => ("failure", text),
                Disposition::Allowed => (
                    "skipped",
                    format!("allowed: {}", j.allowed_because.clone().unwrap_or_default()),
                ),
                Disposition::BelowThreshold => ("skipped", format!("below threshold: {text}")),
                Disposition::NoFix => ("skipped", format!("no fix yet: {text}")),
            };
            Case {
                classname: format!("security-scan.{}", f.package),
                name: format!("{} {}", f.id, f.package),
                outcome: Some(outcome),
            }
        })
        .collect();
    out.extend(r.verdict.expired.iter().map(|e| Case {
        classname: "security-scan.allowlist".into(),
        name: format!("allowlist {} {}", e.id, e.package),
        outcome: Some((
            "failure",
            format!("allowlist entry expired on {}: {}", e.expires, e.reason),
        )),
    }));
    if out.is_empty() {
        out.push(Case {
            classname: "security-scan".into(),
            name: "no known vulnerabilities".into(),
            outcome: None,
        });
    }
    out
}

/// The report as a JUnit XML document.
pub fn render(r: &ScanReport) -> io::Result<Vec<u8>> {
    let cases = cases(r);
    let count = |tag| {
        cases
            .iter()
            .filter(|c| matches!(&c.outcome, Some((t, _)) if *t == tag))
            .count()
            .to_string()
    };
    let (tests, failures, skipped) = (cases.len().to_string(), count("failure"), count("skipped"));
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let attrs = [
        ("name", "security-scan"),
        ("tests", tests.as_str()),
        ("failures", failures.as_str()),
        ("errors", "0"),
        ("skipped", skipped.as_str()),
    ];
    w.create_element("testsuites")
        .with_attributes(attrs)
        .write_inner_content(|w| {
            w.create_element("testsuite")
                .with_attributes(attrs)
                .write_inner_content(|w| {
                    for c in &cases {
                        let el = w.create_element("testcase").with_attributes([
                            ("classname", c.classname.as_str()),
                            ("name", c.name.as_str()),
                        ]);
                        match &c.outcome {
                            None => {
                                el.write_empty()?;
                            }
                            Some((tag, message)) => {
                                el.write_inner_content(|w| {
                                    let inner = w
                                        .create_element(*tag)
                                        .with_attribute(("message", message.as_str()));
                                    if *tag == "skipped" {
                                        inner.write_empty()?;
                                    } else {
                                        inner.write_text_content(BytesText::new(message))?;
                                    }
                                    Ok(())
                                })?;
                            }
                        }
                    }
                    Ok(())
                })?;
            Ok(())
        })?;
    let mut out = w.into_inner();
    out.push(b'\n');
    Ok(out)
}
