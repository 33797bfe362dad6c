//! The OS packages of a CycloneDX SBOM, read from their purls: `pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl`
//! names the binary package, its version, the distribution release and (in `upstream`) the source
//! package that Debian's and Ubuntu's advisories are written against. Components of other kinds
//! (pypi, npm, …) are counted and left to other scanners.

use std::str::FromStr;

use packageurl::PackageUrl;
use serde::Serialize;

use crate::distro::Distro;

/// One installed OS package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The source package (Debian/Ubuntu advisories name it), when it differs or is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The source package's version when it differs from the binary's (binNMUs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    pub distro: Distro,
    pub purl: String,
}

/// What an SBOM holds for the scanner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub packages: Vec<Package>,
    /// Components that are not OS packages of a known distribution, by purl or name.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("not a CycloneDX JSON document: {0}")]
    Json(String),
    #[error("bomFormat is {0:?}, not \"CycloneDX\"")]
    NotCycloneDx(String),
    #[error("components[{index}].purl {purl:?}: {problem}")]
    Purl {
        index: usize,
        purl: String,
        problem: String,
    },
}

/// `distro` from the SBOM's operating-system component (`debian` + `12` → `debian-12`), for
/// purls without the qualifier.
fn os_of(doc: &serde_json::Value) -> Option<String> {
    let c = &doc["metadata"]["component"];
    (c["type"] == "operating-system").then(|| {
        format!(
            "{}-{}",
            c["name"].as_str().unwrap_or_default(),
            c["version"].as_str().unwrap_or_default()
        )
    })
}

/// The source name in an `upstream` qualifier: `openssl`, `openssl@3.0.15-1` (deb) or
/// `openssl-3.0.7-24.el9.src.rpm` (rpm) → (`openssl`, the version if given).
fn upstream(kind: &str, value: &str) -> (String, Option<String>) {
    if kind == "rpm" {
        let base = value.strip_suffix(".src.rpm").unwrap_or(value);
        let mut parts = base.rsplitn(3, '-');
        let (release, version, name) = (parts.next(), parts.next(), parts.next());
        return match (name, version, release) {
            (Some(n), Some(v), Some(r)) => (n.to_string(), Some(format!("{v}-{r}"))),
            _ => (base.to_string(), None),
        };
    }
    match value.split_once('@') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (value.to_string(), None),
    }
}

/// One purl as an OS package: `Ok(None)` when it is not one of a known release (`distro`
/// from the qualifier, else `fallback`); `Err` names what is wrong with it.
pub fn from_purl(text: &str, fallback: Option<&str>) -> Result<Option<Package>, String> {
    let purl = PackageUrl::from_str(text).map_err(|e| e.to_string())?;
    if !matches!(purl.ty(), "deb" | "rpm") {
        return Ok(None);
    }
    let version = purl
        .version()
        .ok_or_else(|| "an OS package needs a version".to_string())?;
    let q = purl.qualifiers();
    let distro_id = q
        .get("distro")
        .map(|d| d.to_string())
        .or_else(|| fallback.map(str::to_string));
    let Some(distro) = distro_id.as_deref().and_then(Distro::from_qualifier) else {
        return Ok(None);
    };
    let (source, source_version) = match q.get("upstream") {
        Some(u) => {
            let (n, v) = upstream(purl.ty(), u);
            (Some(n), v)
        }
        None => (None, None),
    };
    Ok(Some(Package {
        name: purl.name().to_string(),
        version: version.to_string(),
        arch: q.get("arch").map(|a| a.to_string()),
        source,
        source_version,
        distro,
        purl: text.to_string(),
    }))
}

/// The inventory a target reported itself (the validator's in-guest collection), through the
/// same purls the harden SBOM carries.
pub fn from_os_packages<'a>(
    packages: impl IntoIterator<Item = amiforge_model::purl::OsPackage<'a>>,
) -> Inventory {
    let mut inv = Inventory::default();
    for p in packages {
        match amiforge_model::purl::os_package(&p).map(|text| from_purl(&text, None)) {
            Some(Ok(Some(pkg))) => inv.packages.push(pkg),
            _ => inv.skipped.push(format!("{} {}", p.name, p.version)),
        }
    }
    inv
}

/// Reads the OS packages of a CycloneDX JSON SBOM.
pub fn from_cyclonedx(bytes: &[u8]) -> Result<Inventory, InventoryError> {
    let doc: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| InventoryError::Json(e.to_string()))?;
    let format = doc["bomFormat"].as_str().unwrap_or_default();
    if format != "CycloneDX" {
        return Err(InventoryError::NotCycloneDx(format.to_string()));
    }
    let fallback = os_of(&doc);
    let mut inv = Inventory::default();
    let components = doc["components"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (index, c) in components.iter().enumerate() {
        let Some(text) = c["purl"].as_str() else {
            inv.skipped
                .push(c["name"].as_str().unwrap_or("(unnamed)").to_string());
            continue;
        };
        match from_purl(text, fallback.as_deref()) {
            Ok(Some(p)) => inv.packages.push(p),
            Ok(None) => inv.skipped.push(text.to_string()),
            Err(problem) => {
                return Err(InventoryError::Purl {
                    index,
                    purl: text.to_string(),
                    problem,
                });
            }
        }
    }
    Ok(inv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_give_name_version_distro_and_source() {
        let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.5",
          "metadata":{"component":{"type":"operating-system","name":"debian","version":"12"}},
          "components":[
            {"name":"libssl3","purl":"pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl"},
            {"name":"tar","purl":"pkg:deb/debian/tar@1.34%2Bdfsg-1.2%2Bdeb12u1?arch=amd64"},
            {"name":"openssl","purl":"pkg:rpm/almalinux/openssl@1:3.0.7-27.el9?arch=x86_64&distro=almalinux-9.4&upstream=openssl-3.0.7-27.el9.src.rpm"},
            {"name":"requests","purl":"pkg:pypi/requests@2.31.0"},
            {"name":"nameless"}
          ]}"#;
        let inv = from_cyclonedx(sbom).unwrap();
        assert_eq!(inv.packages.len(), 3);
        let ssl = &inv.packages[0];
        assert_eq!(
            (
                ssl.name.as_str(),
                ssl.version.as_str(),
                ssl.source.as_deref()
            ),
            ("libssl3", "3.0.15-1~deb12u1", Some("openssl"))
        );
        assert_eq!(ssl.distro.ecosystem, "Debian:12");
        // no distro qualifier: the SBOM's operating system; percent-decoding applies
        assert_eq!(inv.packages[1].version, "1.34+dfsg-1.2+deb12u1");
        assert_eq!(inv.packages[1].distro.ecosystem, "Debian:12");
        let rpm = &inv.packages[2];
        assert_eq!(rpm.source.as_deref(), Some("openssl"));
        assert_eq!(rpm.distro.ecosystem, "AlmaLinux:9");
        assert_eq!(inv.skipped, ["pkg:pypi/requests@2.31.0", "nameless"]);
    }

    #[test]
    fn bad_documents_are_named() {
        assert!(matches!(
            from_cyclonedx(b"[]"),
            Err(InventoryError::NotCycloneDx(_))
        ));
        assert!(matches!(from_cyclonedx(b"{"), Err(InventoryError::Json(_))));
        let e = from_cyclonedx(
            br#"{"bomFormat":"CycloneDX","components":[{"purl":"pkg:deb/debian/x"}]}"#,
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "components[0].purl \"pkg:deb/debian/x\": an OS package needs a version"
            ),
            "{e}"
        );
    }
}
