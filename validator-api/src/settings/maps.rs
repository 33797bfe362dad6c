//! The map-valued settings ([`RequiredTags`], [`Subnets`], [`SecurityGroups`]): an HCL map, a
//! proto `map<string, string>`, a JSON object, and on the command line a repeatable
//! `--NAME KEY=VALUE` flag (clap's derive cannot collect a map, so each implements `clap::Args`
//! here and is `#[command(flatten)]`ed into its settings struct). [`SecurityGroups`] owns the one
//! way a region's comma-separated group list is split.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};
use packer_sdk::spec::{CtyType, HclValue};
use serde::{Deserialize, Serialize};

/// `KEY=VALUE` with both sides non-empty.
fn pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?}: write REGION=VALUE")),
    }
}

/// `KEY` (any value) or `KEY=VALUE`.
fn tag(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        None if !s.is_empty() => Ok((s.to_string(), String::new())),
        _ => Err(format!("{s:?}: write KEY or KEY=VALUE")),
    }
}

macro_rules! map_setting {
    (
        $(#[$doc:meta])*
        $name:ident {
            id: $id:literal,
            long: $long:literal,
            aliases: [$($alias:literal),*],
            value_name: $value_name:literal,
            help: $help:literal,
            parse: $parse:path,
            merge: $merge:expr $(,)?
        }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub BTreeMap<String, String>);

        impl $name {
            /// The clap argument id (the HCL attribute's name).
            pub const ID: &'static str = $id;
        }

        impl Deref for $name {
            type Target = BTreeMap<String, String>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl DerefMut for $name {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }

        impl From<BTreeMap<String, String>> for $name {
            fn from(m: BTreeMap<String, String>) -> Self {
                $name(m)
            }
        }

        impl FromIterator<(String, String)> for $name {
            fn from_iter<I: IntoIterator<Item = (String, String)>>(it: I) -> Self {
                let mut m = BTreeMap::new();
                let merge: fn(&mut BTreeMap<String, String>, String, String) = $merge;
                for (k, v) in it {
                    merge(&mut m, k, v);
                }
                $name(m)
            }
        }

        impl HclValue for $name {
            fn cty_type() -> CtyType {
                CtyType::map(CtyType::String)
            }
        }

        impl FromArgMatches for $name {
            fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
                Ok(m
                    .get_many::<(String, String)>($id)
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect())
            }

            fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
                *self = Self::from_arg_matches(m)?;
                Ok(())
            }
        }

        impl Args for $name {
            fn augment_args(cmd: Command) -> Command {
                cmd.arg(
                    Arg::new($id)
                        .long($long)
                        $(.alias($alias))*
                        .value_name($value_name)
                        .help($help)
                        .action(ArgAction::Append)
                        .value_parser($parse),
                )
            }

            fn augment_args_for_update(cmd: Command) -> Command {
                Self::augment_args(cmd)
            }
        }
    };
}

fn insert(m: &mut BTreeMap<String, String>, k: String, v: String) {
    m.insert(k, v);
}

fn append_list(m: &mut BTreeMap<String, String>, k: String, v: String) {
    m.entry(k)
        .and_modify(|l| {
            l.push(',');
            l.push_str(&v);
        })
        .or_insert(v);
}

map_setting! {
    /// Tags every AMI must carry: key → the value it must have (`""`: any value).
    RequiredTags {
        id: "required_tags",
        long: "required-tags",
        aliases: ["required-tag", "require-tag"],
        value_name: "KEY[=VALUE]",
        help: "A tag every AMI must carry, with this value when given (repeatable)",
        parse: tag,
        merge: insert,
    }
}

map_setting! {
    /// Subnet per region for test instances (regions left out use the default VPC).
    Subnets {
        id: "subnets",
        long: "subnets",
        aliases: ["subnet"],
        value_name: "REGION=SUBNET",
        help: "Subnet for the test instances of a region (repeatable; default: the default VPC)",
        parse: pair,
        merge: insert,
    }
}

map_setting! {
    /// Security groups per region, comma-separated (regions left out get a temporary group).
    SecurityGroups {
        id: "security_groups",
        long: "security-groups",
        aliases: ["security-group"],
        value_name: "REGION=SG[,SG]",
        help: "Security groups for the test instances of a region (repeatable; default: a temporary group)",
        parse: pair,
        merge: append_list,
    }
}

impl SecurityGroups {
    /// The group ids given for `region`, split at commas (blanks dropped).
    pub fn ids(&self, region: &str) -> Vec<String> {
        self.0.get(region).map(|l| split(l)).unwrap_or_default()
    }
}

/// A comma-separated list, trimmed, blanks dropped.
fn split(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        tags: RequiredTags,
        #[command(flatten)]
        groups: SecurityGroups,
    }

    #[test]
    fn repeated_flags_become_one_map() {
        use clap::Parser;
        let c = Cli::try_parse_from([
            "x",
            "--required-tags",
            "team=platform",
            "--require-tag",
            "owner",
            "--security-groups",
            "eu-west-1=sg-1",
            "--security-group",
            "eu-west-1=sg-2, sg-3",
        ])
        .unwrap();
        assert_eq!(c.tags["team"], "platform");
        assert_eq!(c.tags["owner"], "");
        assert_eq!(c.groups.ids("eu-west-1"), ["sg-1", "sg-2", "sg-3"]);
        assert!(c.groups.ids("us-west-2").is_empty());
        assert!(Cli::try_parse_from(["x", "--security-groups", "nosg"]).is_err());
    }
}
