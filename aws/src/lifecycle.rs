//! Image strategies and their shelf lives (the seed's full / hybrid / os-only images): how long an
//! AMI of each kind may be used before it must be rebuilt. Replicate sets deprecation from it; the
//! validator fails an AMI that is older than its strategy allows.

use std::time::Duration;

/// The strategy names users write.
pub const STRATEGIES: [&str; 3] = ["full", "hybrid", "os-only"];

/// Shelf life of an image built with `strategy` (`full` 3 months, `hybrid` 6, `os-only` 12);
/// `None` for an unknown strategy.
pub fn shelf_life(strategy: &str) -> Option<Duration> {
    let days = match strategy {
        "full" => 90,
        "hybrid" => 180,
        "os-only" => 365,
        _ => return None,
    };
    Some(Duration::from_secs(days * 86400))
}

/// Whether images of this strategy get their configuration at launch (user data), which a launch
/// test must then exercise.
pub fn configures_at_launch(strategy: &str) -> bool {
    matches!(strategy, "hybrid" | "os-only")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shelf_lives_grow_with_what_is_left_to_launch_time() {
        let d = |s| shelf_life(s).map(|d| d.as_secs() / 86400);
        assert_eq!(
            (d("full"), d("hybrid"), d("os-only"), d("forever")),
            (Some(90), Some(180), Some(365), None)
        );
        assert!(STRATEGIES.iter().all(|s| shelf_life(s).is_some()));
        assert!(!configures_at_launch("full") && configures_at_launch("os-only"));
    }
}
