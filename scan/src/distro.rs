//! Which OSV ecosystem a package belongs to and how its versions order, from the `distro`
//! qualifier of its purl (`debian-12`, `ubuntu-22.04`, `almalinux-9`, `rocky-9`, `amzn-2023`).
//! The table below is the one place these names meet.

use crate::version::Kind;

/// A distribution release as OSV names it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Distro {
    /// The purl `distro` qualifier it came from.
    pub id: String,
    /// The OSV ecosystem (`Debian:12`); Ubuntu's records add `:LTS`/`:Pro` after the release,
    /// which [`Distro::matches`] accepts.
    pub ecosystem: String,
    pub kind: Kind,
}

/// Known families: purl `distro` prefix, OSV ecosystem name, version order. Amazon Linux's OSV
/// name follows osv.dev's schema list; it has not been checked against a live osv.dev here.
const FAMILIES: &[(&str, &str, Kind)] = &[
    ("debian", "Debian", Kind::Dpkg),
    ("ubuntu", "Ubuntu", Kind::Dpkg),
    ("almalinux", "AlmaLinux", Kind::Rpm),
    ("rocky", "Rocky Linux", Kind::Rpm),
    ("amzn", "Amazon Linux", Kind::Rpm),
];

impl Distro {
    /// `debian-12` → `Debian:12`. `None` for families amiforge does not know.
    pub fn from_qualifier(id: &str) -> Option<Distro> {
        let (family, release) = id.split_once('-')?;
        let (_, name, kind) = FAMILIES.iter().find(|(f, _, _)| *f == family)?;
        // os-release VERSION_IDs such as 12 or 22.04; minor releases of the RPM family (9.4)
        // share the major release's ecosystem
        let release = match kind {
            Kind::Rpm if family != "amzn" => release.split('.').next().unwrap_or(release),
            _ => release,
        };
        if release.is_empty() {
            return None;
        }
        Some(Distro {
            id: id.to_string(),
            ecosystem: format!("{name}:{release}"),
            kind: *kind,
        })
    }

    /// Whether an OSV record's `ecosystem` is this release (`Ubuntu:22.04:LTS` is `Ubuntu:22.04`).
    pub fn matches(&self, ecosystem: &str) -> bool {
        ecosystem == self.ecosystem
            || ecosystem
                .strip_prefix(self.ecosystem.as_str())
                .is_some_and(|rest| rest.starts_with(':'))
    }

    /// The index key of an OSV ecosystem: the release without Ubuntu's suffixes.
    pub fn key_of(ecosystem: &str) -> &str {
        match ecosystem.match_indices(':').nth(1) {
            Some((i, _)) => &ecosystem[..i],
            None => ecosystem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifiers_name_osv_ecosystems() {
        let d = Distro::from_qualifier("debian-12").unwrap();
        assert_eq!((d.ecosystem.as_str(), d.kind), ("Debian:12", Kind::Dpkg));
        assert_eq!(
            Distro::from_qualifier("almalinux-9.4").unwrap().ecosystem,
            "AlmaLinux:9"
        );
        assert_eq!(
            Distro::from_qualifier("rocky-9").unwrap().ecosystem,
            "Rocky Linux:9"
        );
        assert_eq!(Distro::from_qualifier("amzn-2023").unwrap().kind, Kind::Rpm);
        let u = Distro::from_qualifier("ubuntu-22.04").unwrap();
        assert!(u.matches("Ubuntu:22.04:LTS") && u.matches("Ubuntu:22.04"));
        assert!(!u.matches("Ubuntu:22.045"));
        assert_eq!(Distro::key_of("Ubuntu:22.04:LTS"), "Ubuntu:22.04");
        assert_eq!(Distro::key_of("Debian:12"), "Debian:12");
        assert!(Distro::from_qualifier("gentoo-1").is_none());
        assert!(Distro::from_qualifier("debian").is_none());
    }
}
