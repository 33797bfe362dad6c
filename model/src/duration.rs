//! Durations users write in templates: Go style (`90m`, `1h30m`, `2160h`), plus days (`90d`)
//! and weeks (`12w`) for lifetimes, via humantime.

use std::time::Duration;

/// A string that is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration")]
    Empty,
    #[error("{text:?} is not a duration like 90d, 36h or 45m ({why})")]
    Invalid { text: String, why: String },
}

/// Parses a duration (`90d`, `1h30m`, `45m`, `500ms`).
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(DurationError::Empty);
    }
    humantime::parse_duration(t).map_err(|e| DurationError::Invalid {
        text: t.to_string(),
        why: e.to_string(),
    })
}

/// A duration the way users write it (`15m`, `1h 30m`).
pub fn format(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn forms() {
        assert_eq!(super::parse("90d").unwrap().as_secs(), 90 * 86400);
        assert_eq!(super::parse("1h30m").unwrap().as_secs(), 5400);
        assert!(super::parse("soon").is_err());
    }
}
