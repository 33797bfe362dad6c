//! A user's own in-guest check ([`UserCheck`]): an HCL `check { … }` block, a proto `UserCheck`,
//! a CLI `--check NAME=COMMAND[,exit=N][,output=REGEX]`, or an entry of a checks file (TOML
//! `[[check]]` tables or a JSON list, parsed by [`parse_checks_file`]).

use packer_sdk::HclSpec;
use serde::{Deserialize, Serialize};

/// A command run as root on the test instance, passing on the expected exit code with stdout
/// matching the expected pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, HclSpec)]
#[serde(deny_unknown_fields)]
pub struct UserCheck {
    /// Name in the reports (`guest.user:<name>`): letters, digits, `.`, `_`, `-`.
    pub name: String,
    /// Shell command run on the test instance (as root).
    pub command: String,
    /// Exit code it must return (0–255; default 0).
    #[serde(default)]
    pub expect_exit: i32,
    /// Regular expression its stdout must match.
    #[serde(default)]
    pub expect_output: Option<String>,
}

impl std::str::FromStr for UserCheck {
    type Err = String;

    /// `NAME=COMMAND[,exit=N][,output=REGEX]` (exit before output; the regex runs to the end, so
    /// it may hold commas). Commands containing `,exit=` or `,output=` belong in a checks file.
    fn from_str(s: &str) -> Result<UserCheck, String> {
        let form = "write NAME=COMMAND[,exit=N][,output=REGEX]";
        let (name, rest) = s.split_once('=').ok_or_else(|| format!("{s:?}: {form}"))?;
        let mut command = rest;
        let mut expect_output = None;
        if let Some(i) = command.rfind(",output=") {
            expect_output = Some(command[i + ",output=".len()..].to_string());
            command = &command[..i];
        }
        let mut expect_exit = 0;
        if let Some(i) = command.rfind(",exit=") {
            let n = &command[i + ",exit=".len()..];
            expect_exit = n
                .parse::<i32>()
                .map_err(|_| format!("{s:?}: exit={n:?} is not an exit code; {form}"))?;
            command = &command[..i];
        }
        if name.trim().is_empty() || command.trim().is_empty() {
            return Err(format!("{s:?}: {form}"));
        }
        Ok(UserCheck {
            name: name.trim().to_string(),
            command: command.to_string(),
            expect_exit,
            expect_output,
        })
    }
}

/// The checks in a checks file's text: JSON (`json`: a list of `{name, command, expect_exit,
/// expect_output}`) or TOML (`[[check]]` tables with the same keys). Unknown keys are refused, so
/// a typo never drops an expectation.
pub fn parse_checks_file(text: &str, json: bool) -> Result<Vec<UserCheck>, String> {
    if json {
        return serde_json::from_str(text).map_err(|e| e.to_string());
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        check: Vec<UserCheck>,
    }
    toml::from_str::<File>(text)
        .map(|f| f.check)
        .map_err(|e| e.to_string().trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_checks_parse_from_flags_and_files() {
        let c: UserCheck = "nginx=systemctl is-active nginx,exit=3,output=^(in)?active$,x"
            .parse()
            .unwrap();
        assert_eq!(c.name, "nginx");
        assert_eq!(c.command, "systemctl is-active nginx");
        assert_eq!(c.expect_exit, 3);
        assert_eq!(c.expect_output.as_deref(), Some("^(in)?active$,x"));
        let c: UserCheck = "a=echo a,b".parse().unwrap();
        assert_eq!((c.command.as_str(), c.expect_exit), ("echo a,b", 0));
        assert!("a=true,exit=x".parse::<UserCheck>().is_err());
        assert!("=true".parse::<UserCheck>().is_err());
        let j = r#"[{"name":"a","command":"true","expect_exit":1}]"#;
        assert_eq!(parse_checks_file(j, true).unwrap()[0].expect_exit, 1);
        let e = parse_checks_file(
            "[[check]]\nname = \"a\"\ncommand = \"true\"\nexit = 1\n",
            false,
        )
        .unwrap_err();
        assert!(e.contains("unknown field `exit`"), "{e}");
    }
}
