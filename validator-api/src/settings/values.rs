//! The typed values of the settings: [`Transport`] and [`BootMode`], each parsed by one `FromStr`
//! that the HCL (serde), the CLI (clap) and the gRPC conversion all call, and the serde helpers
//! that read an empty string as "unset" (an unset Packer template variable is `""`).

use std::fmt;
use std::str::FromStr;

use packer_sdk::spec::{CtyType, HclValue};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How in-guest checks reach a test instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// SSM Run Command (the instance needs the SSM agent and an instance profile).
    #[default]
    Ssm,
    /// SSH with a key pair made for the run (or given).
    Ssh,
    /// No in-guest checks.
    None,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Ssm => "ssm",
            Transport::Ssh => "ssh",
            Transport::None => "none",
        }
    }
}

impl FromStr for Transport {
    type Err = String;

    fn from_str(s: &str) -> Result<Transport, String> {
        match s {
            "ssm" => Ok(Transport::Ssm),
            "ssh" => Ok(Transport::Ssh),
            "none" => Ok(Transport::None),
            _ => Err(format!("{s:?}: use ssm (the default), ssh or none")),
        }
    }
}

/// The boot mode every AMI must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootMode {
    Uefi,
    LegacyBios,
    UefiPreferred,
}

impl BootMode {
    /// As EC2 names it.
    pub fn as_str(self) -> &'static str {
        match self {
            BootMode::Uefi => "uefi",
            BootMode::LegacyBios => "legacy-bios",
            BootMode::UefiPreferred => "uefi-preferred",
        }
    }
}

impl FromStr for BootMode {
    type Err = String;

    fn from_str(s: &str) -> Result<BootMode, String> {
        match s {
            "uefi" => Ok(BootMode::Uefi),
            "legacy-bios" => Ok(BootMode::LegacyBios),
            "uefi-preferred" => Ok(BootMode::UefiPreferred),
            _ => Err(format!("{s:?}: use uefi, legacy-bios or uefi-preferred")),
        }
    }
}

/// Display, serde (as the name) and the HCL type (string) of a value type with `as_str`.
macro_rules! text_value {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
            }
        }

        impl HclValue for $t {
            fn cty_type() -> CtyType {
                CtyType::String
            }
        }
    )*};
}
text_value!(Transport, BootMode);

/// serde helpers for settings read from HCL, JSON and proto-converted text.
pub mod de {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer};

    /// `null`, absent or `""` → `None`; anything else parsed with `FromStr`.
    pub fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: Display,
    {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) if s.is_empty() => Ok(None),
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }

    /// `null`, absent or `""` → the default; anything else parsed with `FromStr`.
    pub fn empty_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr + Default,
        T::Err: Display,
    {
        Ok(empty_as_none(d)?.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_parser_per_value_with_the_fix_in_the_error() {
        assert_eq!("ssh".parse::<Transport>(), Ok(Transport::Ssh));
        assert_eq!(
            "telnet".parse::<Transport>().unwrap_err(),
            "\"telnet\": use ssm (the default), ssh or none"
        );
        assert_eq!("legacy-bios".parse::<BootMode>(), Ok(BootMode::LegacyBios));
        assert!(
            "bios"
                .parse::<BootMode>()
                .unwrap_err()
                .contains("uefi-preferred")
        );
        assert_eq!(serde_json::to_string(&Transport::None).unwrap(), "\"none\"");
    }
}
