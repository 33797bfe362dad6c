//! Version order per package kind. dpkg versions (`[epoch:]upstream[-revision]`, `~` before
//! everything) through `debversion`; rpm versions (`[epoch:]version[-release]`, rpmvercmp rules)
//! through `rpm-version`. Both are total orders over the versions they accept.

use std::cmp::Ordering;

/// How a distribution orders its package versions.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Dpkg,
    Rpm,
}

/// A version that does not parse under its kind's rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{version:?} is not a valid {kind:?} version")]
pub struct VersionError {
    pub kind: Kind,
    pub version: String,
}

/// `a` against `b` under `kind`'s rules.
pub fn compare(kind: Kind, a: &str, b: &str) -> Result<Ordering, VersionError> {
    match kind {
        Kind::Dpkg => {
            let parse = |v: &str| {
                v.parse::<debversion::Version>().map_err(|_| VersionError {
                    kind,
                    version: v.to_string(),
                })
            };
            Ok(parse(a)?.cmp(&parse(b)?))
        }
        Kind::Rpm => {
            if a.is_empty() || b.is_empty() {
                let version = if a.is_empty() { a } else { b };
                return Err(VersionError {
                    kind,
                    version: version.to_string(),
                });
            }
            Ok(rpm_version::rpm_evr_compare(a, b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    fn dpkg(a: &str, b: &str) -> Ordering {
        compare(Kind::Dpkg, a, b).unwrap()
    }
    fn rpm(a: &str, b: &str) -> Ordering {
        compare(Kind::Rpm, a, b).unwrap()
    }

    #[test]
    fn dpkg_orders_like_dpkg() {
        assert_eq!(dpkg("1:1.0", "2.0"), Greater, "the epoch wins");
        assert_eq!(dpkg("1.0~rc1", "1.0"), Less, "~ sorts before the end");
        assert_eq!(
            dpkg("1.0-1", "1.0-1+deb12u1"),
            Less,
            "a stable update is newer"
        );
        assert_eq!(
            dpkg("3.0.15-1~deb12u1", "3.0.15-1"),
            Less,
            "a backport is older"
        );
        assert_eq!(dpkg("3.0.11-1~deb12u2", "3.0.15-1~deb12u1"), Less);
        assert_eq!(
            dpkg("1.0a", "1.0+"),
            Less,
            "letters sort before non-letters"
        );
        assert_eq!(dpkg("0:1.0", "1.0"), Equal, "epoch 0 is no epoch");
        assert_eq!(
            dpkg("9.2p1-2+deb12u3", "9.2p1-2+deb12u10"),
            Less,
            "digits compare as numbers"
        );
        assert!(compare(Kind::Dpkg, "1.0 beta", "1").is_err());
        assert!(compare(Kind::Dpkg, "", "1").is_err());
    }

    #[test]
    fn rpm_orders_like_rpmvercmp() {
        assert_eq!(rpm("1.0-1.el9", "1.0-1.el9_3"), Less);
        assert_eq!(rpm("1:1.0-1", "2.0-1"), Greater, "the epoch wins");
        assert_eq!(rpm("3.0.7-24.el9", "3.0.7-27.el9"), Less);
        assert_eq!(rpm("1.0~rc1-1", "1.0-1"), Less);
        assert_eq!(rpm("1.0-1", "1.0-1"), Equal);
        assert_eq!(rpm("2.0.1-1", "2.0-1"), Greater);
        assert!(compare(Kind::Rpm, "", "1").is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn dpkg_version() -> impl Strategy<Value = String> {
            (
                0u8..3,
                "[0-9][0-9a-z.+~]{0,6}",
                proptest::option::of("[0-9a-z.+~]{1,5}"),
            )
                .prop_map(|(epoch, up, rev)| {
                    let mut v = if epoch > 0 {
                        format!("{epoch}:{up}")
                    } else {
                        up
                    };
                    if let Some(r) = rev {
                        v = format!("{v}-{r}");
                    }
                    v
                })
        }

        fn rpm_version() -> impl Strategy<Value = String> {
            (0u8..3, "[0-9][0-9a-z.~^]{0,6}", "[0-9][0-9a-z._]{0,5}").prop_map(|(e, v, r)| {
                if e > 0 {
                    format!("{e}:{v}-{r}")
                } else {
                    format!("{v}-{r}")
                }
            })
        }

        proptest! {
            #[test]
            fn dpkg_is_a_total_order(a in dpkg_version(), b in dpkg_version(), c in dpkg_version()) {
                let (ab, ba) = (dpkg(&a, &b), dpkg(&b, &a));
                prop_assert_eq!(ab, ba.reverse());
                prop_assert_eq!(dpkg(&a, &a), Equal);
                if ab != Greater && dpkg(&b, &c) != Greater {
                    prop_assert_ne!(dpkg(&a, &c), Greater, "transitive");
                }
            }

            #[test]
            fn rpm_is_a_total_order(a in rpm_version(), b in rpm_version(), c in rpm_version()) {
                let (ab, ba) = (rpm(&a, &b), rpm(&b, &a));
                prop_assert_eq!(ab, ba.reverse());
                prop_assert_eq!(rpm(&a, &a), Equal);
                if ab != Greater && rpm(&b, &c) != Greater {
                    prop_assert_ne!(rpm(&a, &c), Greater, "transitive");
                }
            }
        }
    }
}
