//! What the user asks the answer file to do ([`AnswerSettings`], from the HCL `answer_file`
//! block), the checks of its values (NetBIOS computer names, Windows time zone ids, locale
//! names) and the answer file those settings make ([`AnswerSettings::document`]).

use super::model::{Component, Document, Element, PassSettings};
use super::schema::{Arch, DEPLOY, INTL, PNP, Pass, SHELL};

/// Computer name policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComputerName {
    /// No `ComputerName` element: the agent's own naming applies.
    AgentDecides,
    /// `*`: Windows generates a random name at first boot.
    Random,
    /// One fixed NetBIOS name (every instance from the AMI gets it).
    Fixed(String),
}

impl ComputerName {
    /// `*` or a NetBIOS name: 1–15 ASCII letters, digits or `-`, not only digits, not starting
    /// or ending with `-`.
    pub fn parse(s: &str) -> Result<ComputerName, String> {
        if s == "*" {
            return Ok(ComputerName::Random);
        }
        let fix = "use \"*\" for a random name or 1–15 letters, digits and hyphens";
        if s.is_empty() || s.len() > 15 {
            return Err(format!("{s:?} has {} characters; {fix}", s.chars().count()));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!("{s:?} contains {c:?}; {fix}"));
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return Err(format!(
                "{s:?} is only digits, which Windows refuses; {fix}"
            ));
        }
        if s.starts_with('-') || s.ends_with('-') {
            return Err(format!("{s:?} starts or ends with a hyphen; {fix}"));
        }
        Ok(ComputerName::Fixed(s.to_string()))
    }
}

/// A Windows time zone id (as `tzutil /l` lists them), not an IANA name.
pub fn check_time_zone(tz: &str) -> Result<(), String> {
    if tz.contains('/') {
        return Err(format!(
            "{tz:?} looks like an IANA name; use the Windows id (tzutil /l), e.g. \"UTC\" or \
             \"W. Europe Standard Time\""
        ));
    }
    let ok = !tz.trim().is_empty()
        && tz.len() <= 64
        && tz
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .()+-_&".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{tz:?} is not a Windows time zone id (tzutil /l), e.g. \"UTC\" or \"W. Europe \
             Standard Time\""
        ))
    }
}

/// A locale name such as `en-US` or `de-DE` (language, then subtags).
pub fn check_locale(l: &str) -> Result<(), String> {
    let mut parts = l.split('-');
    let lang = parts.next().unwrap_or("");
    let lang_ok = (2..=3).contains(&lang.len()) && lang.chars().all(|c| c.is_ascii_lowercase());
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if lang_ok && rest_ok && l.contains('-') {
        Ok(())
    } else {
        Err(format!(
            "{l:?} is not a locale name; use e.g. \"en-US\" or \"de-DE\""
        ))
    }
}

/// What the user asked the answer file to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerSettings {
    pub arch: Arch,
    pub computer_name: ComputerName,
    pub time_zone: Option<String>,
    pub locale: Option<String>,
    pub copy_profile: bool,
    pub run_synchronous: Vec<String>,
    pub first_logon_commands: Vec<String>,
}

/// An ordered list: one `item` per command, each with `Order` 1, 2, … and the command as `field`.
fn ordered(item: &str, field: &str, commands: &[String]) -> Vec<Element> {
    commands
        .iter()
        .enumerate()
        .map(|(i, c)| {
            Element::item(
                item,
                vec![
                    Element::text("Order", (i + 1).to_string()),
                    Element::text(field, c),
                ],
            )
        })
        .collect()
}

impl AnswerSettings {
    /// The answer file for these settings. Always: generalize keeps installed drivers
    /// (`PersistAllDeviceInstalls`, so ENA/NVMe drivers survive) and OOBE asks nothing.
    pub fn document(&self) -> Document {
        let intl = self.international();
        let mut passes = vec![PassSettings {
            pass: Pass::Generalize.name().into(),
            components: vec![self.generalize()],
        }];
        let specialize = self.specialize(intl.as_ref());
        if !specialize.is_empty() {
            passes.push(PassSettings {
                pass: Pass::Specialize.name().into(),
                components: specialize,
            });
        }
        passes.push(PassSettings {
            pass: Pass::OobeSystem.name().into(),
            components: self.oobe_system(intl),
        });
        Document { passes }
    }

    fn generalize(&self) -> Component {
        Component::new(
            PNP,
            self.arch,
            vec![
                Element::text("PersistAllDeviceInstalls", "true"),
                Element::text("DoNotCleanUpNonPresentDevices", "true"),
            ],
        )
    }

    /// The locale component (specialize and oobeSystem both carry it), when a locale is set.
    fn international(&self) -> Option<Component> {
        self.locale.as_ref().map(|l| {
            Component::new(
                INTL,
                self.arch,
                ["InputLocale", "SystemLocale", "UILanguage", "UserLocale"]
                    .iter()
                    .map(|n| Element::text(n, l))
                    .collect(),
            )
        })
    }

    fn specialize(&self, intl: Option<&Component>) -> Vec<Component> {
        let mut shell = Vec::new();
        match &self.computer_name {
            ComputerName::AgentDecides => {}
            ComputerName::Random => shell.push(Element::text("ComputerName", "*")),
            ComputerName::Fixed(n) => shell.push(Element::text("ComputerName", n)),
        }
        if self.copy_profile {
            shell.push(Element::text("CopyProfile", "true"));
        }
        if let Some(tz) = &self.time_zone {
            shell.push(Element::text("TimeZone", tz));
        }
        let mut specialize = Vec::new();
        if !shell.is_empty() {
            specialize.push(Component::new(SHELL, self.arch, shell));
        }
        specialize.extend(intl.cloned());
        if !self.run_synchronous.is_empty() {
            let cmds = ordered("RunSynchronousCommand", "Path", &self.run_synchronous);
            specialize.push(Component::new(
                DEPLOY,
                self.arch,
                vec![Element::group("RunSynchronous", cmds)],
            ));
        }
        specialize
    }

    fn oobe_system(&self, intl: Option<Component>) -> Vec<Component> {
        let mut shell = vec![Element::group(
            "OOBE",
            vec![
                Element::text("HideEULAPage", "true"),
                Element::text("HideWirelessSetupInOOBE", "true"),
                Element::text("NetworkLocation", "Other"),
                Element::text("ProtectYourPC", "3"),
                Element::text("SkipMachineOOBE", "true"),
                Element::text("SkipUserOOBE", "true"),
            ],
        )];
        if !self.first_logon_commands.is_empty() {
            let cmds = ordered(
                "SynchronousCommand",
                "CommandLine",
                &self.first_logon_commands,
            );
            shell.push(Element::group("FirstLogonCommands", cmds));
        }
        let mut oobe = vec![Component::new(SHELL, self.arch, shell)];
        oobe.extend(intl);
        oobe
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::full;
    use super::super::render_checked;
    use super::super::schema::validate;
    use super::*;

    #[test]
    fn computer_names_follow_netbios_rules() {
        assert_eq!(ComputerName::parse("*").unwrap(), ComputerName::Random);
        assert_eq!(
            ComputerName::parse("WEB-01").unwrap(),
            ComputerName::Fixed("WEB-01".into())
        );
        for bad in [
            "",
            "a-very-long-computer-name",
            "web_01",
            "12345",
            "-web",
            "web.x",
        ] {
            let e = ComputerName::parse(bad).unwrap_err();
            assert!(e.contains("use \"*\""), "{bad}: {e}");
        }
    }

    #[test]
    fn time_zones_and_locales() {
        assert!(check_time_zone("UTC").is_ok());
        assert!(check_time_zone("(UTC+01:00)").is_err());
        assert!(
            check_time_zone("Europe/Berlin")
                .unwrap_err()
                .contains("IANA")
        );
        assert!(check_locale("en-US").is_ok());
        assert!(check_locale("sr-Latn-RS").is_ok());
        assert!(check_locale("en").is_err());
        assert!(check_locale("EN-us").is_err());
    }

    #[test]
    fn full_settings_make_a_valid_document_with_the_three_passes() {
        let doc = full().document();
        assert!(validate(&doc).is_empty(), "{:?}", validate(&doc));
        let names: Vec<&str> = doc.passes.iter().map(|p| p.pass.as_str()).collect();
        assert_eq!(names, ["generalize", "specialize", "oobeSystem"]);
        let shell = doc.component(Pass::Specialize, SHELL).unwrap();
        assert_eq!(
            shell.child("ComputerName").unwrap().text.as_deref(),
            Some("*")
        );
        assert_eq!(
            shell.child("CopyProfile").unwrap().text.as_deref(),
            Some("true")
        );
        assert_eq!(
            shell.child("TimeZone").unwrap().text.as_deref(),
            Some("W. Europe Standard Time")
        );
        let deploy = doc.component(Pass::Specialize, DEPLOY).unwrap();
        let cmds = &deploy.child("RunSynchronous").unwrap().children;
        assert_eq!(cmds.len(), 2);
        assert!(cmds.iter().all(Element::is_add));
        assert_eq!(cmds[1].child("Order").unwrap().text.as_deref(), Some("2"));
        let oobe = doc.component(Pass::OobeSystem, SHELL).unwrap();
        let first = &oobe.child("FirstLogonCommands").unwrap().children[0];
        assert_eq!(
            first.child("CommandLine").unwrap().text.as_deref(),
            Some("cmd /c whoami > C:\\first.txt")
        );
        assert!(doc.component(Pass::OobeSystem, INTL).is_some());
        assert!(doc.component(Pass::Generalize, PNP).is_some());
    }

    #[test]
    fn minimal_settings_leave_out_specialize_and_the_name() {
        let s = AnswerSettings {
            arch: Arch::Arm64,
            computer_name: ComputerName::AgentDecides,
            time_zone: None,
            locale: None,
            copy_profile: false,
            run_synchronous: vec![],
            first_logon_commands: vec![],
        };
        let doc = s.document();
        assert!(doc.pass(Pass::Specialize).is_none());
        assert!(
            doc.passes
                .iter()
                .all(|p| p.components.iter().all(|c| c.arch == "arm64"))
        );
        assert!(render_checked(&s).is_ok());
    }
}
