//! The OSV record fields matching needs (the OSV schema osv.dev publishes per ecosystem), and the
//! schema's rule for whether a version is affected: events sorted by version, `introduced` opens,
//! `fixed` closes at that version, `last_affected` closes after it; `versions` lists exact ones.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::severity::Severity;
use crate::version::{Kind, compare};

/// One OSV record, as far as matching reads it (unknown fields are ignored, as OSV asks).
#[derive(Debug, Clone, Deserialize)]
pub struct Record {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SeverityEntry {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Affected {
    pub package: Option<AffectedPackage>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default)]
    pub severity: Vec<SeverityEntry>,
    #[serde(default)]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default)]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AffectedPackage {
    pub ecosystem: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

/// One range event; exactly one field is set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
}

impl Event {
    fn version(&self) -> &str {
        self.introduced
            .as_deref()
            .or(self.fixed.as_deref())
            .or(self.last_affected.as_deref())
            .unwrap_or("")
    }
}

/// The severity an affected entry has: the distribution's rating (`ecosystem_specific.urgency`,
/// an `Ubuntu` severity, `database_specific.severity`), else the best CVSS score; with where it
/// came from.
pub fn severity_of(record: &Record, affected: &Affected) -> (Severity, String) {
    let word = |v: &Option<serde_json::Value>, key: &str| {
        v.as_ref()
            .and_then(|v| v.get(key))
            .and_then(|s| s.as_str())
            .and_then(|w| Severity::from_word(w).map(|s| (s, w.to_string())))
    };
    if let Some((s, w)) = word(&affected.ecosystem_specific, "urgency") {
        return (s, format!("distribution urgency {w}"));
    }
    for e in affected.severity.iter().chain(&record.severity) {
        if e.kind == "Ubuntu"
            && let Some(s) = Severity::from_word(&e.score)
        {
            return (s, format!("Ubuntu priority {}", e.score));
        }
    }
    if let Some((s, w)) = word(&affected.database_specific, "severity")
        .or_else(|| word(&record.database_specific, "severity"))
    {
        return (s, format!("database severity {w}"));
    }
    let best = affected
        .severity
        .iter()
        .chain(&record.severity)
        .filter(|e| e.kind.starts_with("CVSS"))
        .filter_map(|e| Severity::from_cvss(&e.score).map(|(s, n)| (s, n, e.kind.clone())))
        .max_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(Ordering::Equal));
    match best {
        Some((s, n, kind)) => (s, format!("{kind} {n:.1}")),
        None => (Severity::Unknown, "no rating in the record".into()),
    }
}

/// Whether `version` is inside the ECOSYSTEM range `events`, and the version that fixes it
/// (the first `fixed` above it), by the OSV schema's evaluation. Events whose version does not
/// parse are left out.
pub fn in_range(kind: Kind, events: &[Event], version: &str) -> Option<Option<String>> {
    let cmp = |a: &str, b: &str| compare(kind, a, b).ok();
    let mut sorted: Vec<&Event> = events
        .iter()
        .filter(|e| e.introduced.as_deref() == Some("0") || cmp(e.version(), e.version()).is_some())
        .collect();
    sorted.sort_by(|a, b| {
        let zero = |e: &Event| e.introduced.as_deref() == Some("0");
        match (zero(a), zero(b)) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => cmp(a.version(), b.version()).unwrap_or(Ordering::Equal),
        }
    });
    let mut affected = false;
    for e in &sorted {
        if let Some(i) = &e.introduced {
            if i == "0" || cmp(version, i)? != Ordering::Less {
                affected = true;
            }
        } else if let Some(f) = &e.fixed {
            if cmp(version, f)? != Ordering::Less {
                affected = false;
            }
        } else if let Some(l) = &e.last_affected
            && cmp(version, l)? == Ordering::Greater
        {
            affected = false;
        }
    }
    if !affected {
        return None;
    }
    let fix = sorted
        .iter()
        .filter_map(|e| e.fixed.as_deref())
        .find(|f| cmp(version, f) == Some(Ordering::Less))
        .map(str::to_string);
    Some(fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(introduced: Option<&str>, fixed: Option<&str>) -> Event {
        Event {
            introduced: introduced.map(str::to_string),
            fixed: fixed.map(str::to_string),
            last_affected: None,
        }
    }

    #[test]
    fn ranges_follow_the_osv_rule() {
        let debian = [ev(Some("0"), None), ev(None, Some("3.0.11-1~deb12u2"))];
        assert_eq!(
            in_range(Kind::Dpkg, &debian, "3.0.9-1"),
            Some(Some("3.0.11-1~deb12u2".into()))
        );
        assert_eq!(in_range(Kind::Dpkg, &debian, "3.0.11-1~deb12u2"), None);
        assert_eq!(in_range(Kind::Dpkg, &debian, "3.0.15-1~deb12u1"), None);
        // unfixed: introduced only
        assert_eq!(
            in_range(Kind::Dpkg, &[ev(Some("0"), None)], "1.34+dfsg-1.2"),
            Some(None)
        );
        // two intervals: [1.0, 1.2) and [2.0, 2.1)
        let two = [
            ev(None, Some("2.1")),
            ev(Some("2.0"), None),
            ev(Some("1.0"), None),
            ev(None, Some("1.2")),
        ];
        assert_eq!(in_range(Kind::Dpkg, &two, "1.1"), Some(Some("1.2".into())));
        assert_eq!(in_range(Kind::Dpkg, &two, "1.5"), None);
        assert_eq!(
            in_range(Kind::Dpkg, &two, "2.0.5"),
            Some(Some("2.1".into()))
        );
        assert_eq!(in_range(Kind::Dpkg, &two, "0.9"), None);
        let last = [
            ev(Some("0"), None),
            Event {
                last_affected: Some("1.0-3.el9".into()),
                ..Event::default()
            },
        ];
        assert_eq!(in_range(Kind::Rpm, &last, "1.0-3.el9"), Some(None));
        assert_eq!(in_range(Kind::Rpm, &last, "1.0-4.el9"), None);
    }
}
