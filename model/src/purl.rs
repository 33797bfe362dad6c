//! Package URLs of OS packages: the one spelling every SBOM amiforge writes uses and its
//! scanner reads, the way scanners match them (`distro` names the release, `upstream` the source
//! package Debian's and Ubuntu's advisories are written against):
//! `pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl`,
//! `pkg:rpm/amzn/openssl@1:3.0.8-1.amzn2023.0.14?arch=x86_64&distro=amzn-2023&upstream=openssl-3.0.8-1.amzn2023.0.14.src.rpm`.

use packageurl::PackageUrl;

/// One installed package as the target reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsPackage<'a> {
    /// `deb` or `rpm`.
    pub kind: &'a str,
    /// os-release `ID` and `VERSION_ID` (`debian`, `12`).
    pub os_id: &'a str,
    pub os_version: &'a str,
    pub name: &'a str,
    pub version: &'a str,
    pub arch: &'a str,
    /// deb: the source package's name and version; rpm: the source rpm's file name (version
    /// empty). Empty when unknown.
    pub source: &'a str,
    pub source_version: &'a str,
}

/// The `distro` qualifier: `debian-12` (just the ID when there is no VERSION_ID, as on testing).
pub fn distro(os_id: &str, os_version: &str) -> String {
    if os_version.is_empty() {
        os_id.to_string()
    } else {
        format!("{os_id}-{os_version}")
    }
}

/// The `upstream` qualifier: the source when it says more than the binary package does.
fn upstream(p: &OsPackage) -> Option<String> {
    if p.source.is_empty() {
        return None;
    }
    if p.kind == "rpm" {
        return Some(p.source.to_string());
    }
    let other_version = !p.source_version.is_empty() && p.source_version != p.version;
    match (p.source != p.name, other_version) {
        (_, true) => Some(format!("{}@{}", p.source, p.source_version)),
        (true, false) => Some(p.source.to_string()),
        (false, false) => None,
    }
}

/// The package's purl; `None` when a part is unusable (an empty name or version).
pub fn os_package(p: &OsPackage) -> Option<String> {
    if p.version.is_empty() || p.os_id.is_empty() {
        return None;
    }
    let mut purl = PackageUrl::new(p.kind, p.name).ok()?;
    purl.with_namespace(p.os_id).ok()?;
    purl.with_version(p.version).ok()?;
    if !p.arch.is_empty() {
        purl.add_qualifier("arch", p.arch).ok()?;
    }
    purl.add_qualifier("distro", distro(p.os_id, p.os_version))
        .ok()?;
    if let Some(u) = upstream(p) {
        purl.add_qualifier("upstream", u).ok()?;
    }
    Some(purl.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deb<'a>(name: &'a str, version: &'a str, source: &'a str, sv: &'a str) -> OsPackage<'a> {
        OsPackage {
            kind: "deb",
            os_id: "debian",
            os_version: "12",
            name,
            version,
            arch: "amd64",
            source,
            source_version: sv,
        }
    }

    #[test]
    fn purls_carry_distro_and_upstream() {
        assert_eq!(
            os_package(&deb(
                "openssl",
                "3.0.15-1~deb12u1",
                "openssl",
                "3.0.15-1~deb12u1"
            ))
            .unwrap(),
            "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            os_package(&deb(
                "libssl3",
                "3.0.15-1~deb12u1",
                "openssl",
                "3.0.15-1~deb12u1"
            ))
            .unwrap(),
            "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl"
        );
        // a binNMU: the source's version differs (an epoch's colon stays, as packageurl writes it)
        let p = os_package(&deb("libx", "1:2.0-1+b1", "x", "1:2.0-1")).unwrap();
        assert_eq!(
            p,
            "pkg:deb/debian/libx@1:2.0-1%2Bb1?arch=amd64&distro=debian-12&upstream=x%401:2.0-1"
        );
        let rpm = OsPackage {
            kind: "rpm",
            os_id: "amzn",
            os_version: "2023",
            name: "openssl",
            version: "1:3.0.8-1.amzn2023.0.14",
            arch: "x86_64",
            source: "openssl-3.0.8-1.amzn2023.0.14.src.rpm",
            source_version: "",
        };
        assert!(os_package(&rpm).unwrap().ends_with(
            "?arch=x86_64&distro=amzn-2023&upstream=openssl-3.0.8-1.amzn2023.0.14.src.rpm"
        ));
        assert!(os_package(&deb("x", "", "", "")).is_none());
        assert_eq!(distro("debian", ""), "debian");
    }
}
