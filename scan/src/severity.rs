//! How bad a vulnerability is: `low` … `critical`, from the distribution's own rating when the
//! record has one (Debian's urgency, Ubuntu's priority, a database's word) and else from its CVSS
//! vector (scored with the `cvss` crate). A record with neither is `unknown`, which policies treat
//! as `low` (it fails only a `low` threshold) and reports show as unknown.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The level policies compare: unknown counts as low.
    pub fn rank(self) -> Severity {
        self.max(Severity::Low)
    }

    /// A rating word as distributions and databases write it (`unimportant`, `moderate`,
    /// `Important`, …); `None` for words that are no rating (`not yet assigned`, `end-of-life`).
    pub fn from_word(word: &str) -> Option<Severity> {
        match word.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" | "important" => Some(Severity::High),
            "medium" | "moderate" => Some(Severity::Medium),
            "low" | "negligible" | "unimportant" => Some(Severity::Low),
            _ => None,
        }
    }

    /// A CVSS vector (v2, v3.x, v4) scored: (severity, base score).
    pub fn from_cvss(vector: &str) -> Option<(Severity, f64)> {
        let cvss = cvss::Cvss::from_str(vector.trim()).ok()?;
        let score = cvss.score();
        let severity = match cvss.severity() {
            cvss::Severity::Critical => Severity::Critical,
            cvss::Severity::High => Severity::High,
            cvss::Severity::Medium => Severity::Medium,
            cvss::Severity::Low => Severity::Low,
            cvss::Severity::None => return None,
        };
        Some((severity, score))
    }
}

impl FromStr for Severity {
    type Err = String;
    /// A threshold users write: `low`, `medium`, `high` or `critical`.
    fn from_str(s: &str) -> Result<Severity, String> {
        match s {
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!(
                "{other:?} is not a severity (low, medium, high or critical)"
            )),
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_vectors() {
        assert_eq!(Severity::from_word("unimportant"), Some(Severity::Low));
        assert_eq!(Severity::from_word("Important"), Some(Severity::High));
        assert_eq!(Severity::from_word("not yet assigned"), None);
        let (s, score) =
            Severity::from_cvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert_eq!((s, score), (Severity::Critical, 9.8));
        let (s, _) = Severity::from_cvss("CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N").unwrap();
        assert_eq!(s, Severity::Low);
        assert!(Severity::from_cvss("not a vector").is_none());
        assert_eq!(Severity::Unknown.rank(), Severity::Low);
        assert!(
            "urgent"
                .parse::<Severity>()
                .unwrap_err()
                .contains("low, medium")
        );
    }
}
