//! Durations users write in templates: Go style (`90m`, `1h30m`, `2160h`), plus days (`90d`)
//! and weeks (`12w`) for lifetimes, via humantime.

use std::time::Duration;

pub fn parse(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("{t:?} is not a duration like 90d, 36h or 45m ({e})"))
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
