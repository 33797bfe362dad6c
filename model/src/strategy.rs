//! Image strategies and their shelf lives (the seed's full / hybrid / os-only images): how long an
//! AMI of each kind may be used before it must be rebuilt, and whether it finishes its
//! configuration at launch. Replicate sets deprecation from it; the validator fails an AMI older
//! than its strategy allows and exercises the launch-time configuration of hybrid/os-only images.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What an image carries when it is built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Strategy {
    /// Everything baked in: launches need nothing more (shelf life 3 months).
    #[default]
    Full,
    /// The OS and the slow-moving parts baked in, the rest applied at launch (6 months).
    Hybrid,
    /// Only the hardened OS; everything else at launch (12 months).
    OsOnly,
}

/// The strategy names users write, in order.
pub const STRATEGIES: [&str; 3] = ["full", "hybrid", "os-only"];

/// A name that is not a strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a strategy: use full, hybrid or os-only")]
pub struct UnknownStrategy(pub String);

impl Strategy {
    pub const ALL: [Strategy; 3] = [Strategy::Full, Strategy::Hybrid, Strategy::OsOnly];

    /// The name users write (`full`, `hybrid`, `os-only`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Full => "full",
            Strategy::Hybrid => "hybrid",
            Strategy::OsOnly => "os-only",
        }
    }

    /// How long an image of this kind may be used: full 90 days, hybrid 180, os-only 365.
    pub fn shelf_life(self) -> Duration {
        let days = match self {
            Strategy::Full => 90,
            Strategy::Hybrid => 180,
            Strategy::OsOnly => 365,
        };
        Duration::from_secs(days * 86400)
    }

    /// Whether images of this kind get (part of) their configuration at launch (user data),
    /// which a launch test must then exercise.
    pub fn configures_at_launch(self) -> bool {
        matches!(self, Strategy::Hybrid | Strategy::OsOnly)
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = UnknownStrategy;

    fn from_str(s: &str) -> Result<Strategy, UnknownStrategy> {
        Strategy::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownStrategy(s.to_string()))
    }
}

impl Serialize for Strategy {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Strategy, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shelf_lives_grow_with_what_is_left_to_launch_time() {
        let d = |s: &str| {
            s.parse::<Strategy>()
                .ok()
                .map(|k| k.shelf_life().as_secs() / 86400)
        };
        assert_eq!(
            (d("full"), d("hybrid"), d("os-only"), d("forever")),
            (Some(90), Some(180), Some(365), None)
        );
        assert!(STRATEGIES.iter().all(|s| s.parse::<Strategy>().is_ok()));
        assert!(!Strategy::Full.configures_at_launch() && Strategy::OsOnly.configures_at_launch());
        assert_eq!(
            "forever".parse::<Strategy>().unwrap_err().to_string(),
            "\"forever\" is not a strategy: use full, hybrid or os-only"
        );
    }

    #[test]
    fn strategies_are_written_by_name() {
        assert_eq!(
            serde_json::to_string(&Strategy::OsOnly).unwrap(),
            "\"os-only\""
        );
        let s: Strategy = serde_json::from_str("\"hybrid\"").unwrap();
        assert_eq!(s, Strategy::Hybrid);
        assert!(serde_json::from_str::<Strategy>("\"Hybrid\"").is_err());
    }
}
