//! Packer's AMI artifact ids: `region:ami-id` pairs joined by `,`, sorted by region
//! (packer-plugin-amazon `common/artifact.go`).

use std::collections::BTreeMap;

/// Builder ids whose artifacts are AMIs.
pub const AMI_BUILDERS: &[&str] = &[
    "mitchellh.amazonebs",
    "mitchellh.amazon.ebssurrogate",
    "mitchellh.amazon.chroot",
    "mitchellh.amazon.ebsvolume",
    "mitchellh.amazon.instance",
    "amiforge.replicate",
    "amiforge.validate",
];

/// Why a string is not an AMI artifact id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{0:?} is not region:ami-id")]
    NotAPair(String),
    #[error("{0:?} is not a region name")]
    Region(String),
    #[error("{0:?} is not an AMI id")]
    Ami(String),
    #[error("region {0} appears twice")]
    Twice(String),
    #[error("the artifact names no AMI")]
    Empty,
}

/// Parses `region:ami,region:ami` into region → AMI id.
pub fn parse_id(id: &str) -> Result<BTreeMap<String, String>, IdError> {
    let mut out = BTreeMap::new();
    for part in id.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (region, ami) = part
            .split_once(':')
            .ok_or_else(|| IdError::NotAPair(part.to_string()))?;
        if !is_region(region) {
            return Err(IdError::Region(region.to_string()));
        }
        if !is_ami_id(ami) {
            return Err(IdError::Ami(ami.to_string()));
        }
        if out.insert(region.to_string(), ami.to_string()).is_some() {
            return Err(IdError::Twice(region.to_string()));
        }
    }
    if out.is_empty() {
        return Err(IdError::Empty);
    }
    Ok(out)
}

/// Formats region → AMI back into Packer's id (sorted by region).
pub fn format_id(amis: &BTreeMap<String, String>) -> String {
    amis.iter()
        .map(|(r, a)| format!("{r}:{a}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, `ap-southeast-4`: the shape of an
/// AWS region name (existence is checked against DescribeRegions).
pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    (3..=4).contains(&parts.len())
        && first.len() == 2
        && first.bytes().all(|b| b.is_ascii_lowercase())
        && !last.is_empty()
        && last.bytes().all(|b| b.is_ascii_digit())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

/// `ami-` followed by 8 or 17 hex digits.
pub fn is_ami_id(s: &str) -> bool {
    s.strip_prefix("ami-").is_some_and(|h| {
        (h.len() == 8 || h.len() == 17) && h.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let m = parse_id("us-east-1:ami-0123456789abcdef0,eu-west-1:ami-12345678").unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(
            format_id(&m),
            "eu-west-1:ami-12345678,us-east-1:ami-0123456789abcdef0"
        );
    }

    #[test]
    fn rejects_bad_ids() {
        for bad in [
            "",
            "us-east-1",
            "us-east-1:snap-1",
            "useast1:ami-12345678",
            "us-east-1:ami-12345678,us-east-1:ami-12345678",
        ] {
            assert!(parse_id(bad).is_err(), "{bad}");
        }
        assert!(
            is_region("us-gov-west-1") && is_region("ap-southeast-4") && !is_region("xx-nowhere")
        );
    }
}
