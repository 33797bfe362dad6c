//! What Windows Setup accepts in an answer file for an EC2 capture: the namespaces, the
//! configuration passes ([`Pass`], [`ALL_PASSES`]), the architectures ([`Arch`]), the identity
//! every `Microsoft-Windows-*` component carries, the components this model writes and the passes
//! each may appear in, and the rules [`validate`] / [`validate_merged`] check a document against.

use super::model::{Component, Document, Element};

/// The unattend namespace every answer file uses.
pub const NS: &str = "urn:schemas-microsoft-com:unattend";
/// The `wcm` namespace (list actions, key values).
pub const NS_WCM: &str = "http://schemas.microsoft.com/WMIConfig/2002/State";
/// The XML Schema instance namespace.
pub const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The public key token of every Microsoft-Windows-* component.
pub const PUBLIC_KEY_TOKEN: &str = "31bf3856ad364e35";
/// `language` of every component.
pub const LANGUAGE: &str = "neutral";
/// `versionScope` of every component.
pub const VERSION_SCOPE: &str = "nonSxS";

/// `processorArchitecture` of the components.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }

    /// From `%PROCESSOR_ARCHITECTURE%` (`AMD64`, `ARM64`).
    pub fn from_env(s: &str) -> Option<Arch> {
        match s.to_ascii_uppercase().as_str() {
            "AMD64" => Some(Arch::Amd64),
            "ARM64" => Some(Arch::Arm64),
            _ => None,
        }
    }
}

/// The configuration passes an EC2 capture uses, in the order Windows runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pass {
    Generalize,
    Specialize,
    OobeSystem,
}

impl Pass {
    pub fn name(self) -> &'static str {
        match self {
            Pass::Generalize => "generalize",
            Pass::Specialize => "specialize",
            Pass::OobeSystem => "oobeSystem",
        }
    }

    pub fn from_name(s: &str) -> Option<Pass> {
        [Pass::Generalize, Pass::Specialize, Pass::OobeSystem]
            .into_iter()
            .find(|p| p.name() == s)
    }
}

/// Every Windows Setup configuration pass, in the order Windows runs them.
pub const ALL_PASSES: [&str; 7] = [
    "windowsPE",
    "offlineServicing",
    "generalize",
    "specialize",
    "auditSystem",
    "auditUser",
    "oobeSystem",
];

/// The components this model writes.
pub const SHELL: &str = "Microsoft-Windows-Shell-Setup";
pub const INTL: &str = "Microsoft-Windows-International-Core";
pub const DEPLOY: &str = "Microsoft-Windows-Deployment";
pub const PNP: &str = "Microsoft-Windows-PnpSysprep";

/// The components each pass may hold here (those this model writes).
fn allowed(pass: Pass) -> &'static [&'static str] {
    match pass {
        Pass::Generalize => &[PNP],
        Pass::Specialize => &[SHELL, INTL, DEPLOY],
        Pass::OobeSystem => &[SHELL, INTL],
    }
}

/// Every problem of `doc`, a file this model wrote (empty: valid for an EC2 capture).
pub fn validate(doc: &Document) -> Vec<String> {
    validate_as(doc, false)
}

/// Every problem of `doc`, a merge of the agent's file and ours: any pass Windows knows and
/// any `Microsoft-Windows-*` component are accepted; attributes, order and lists are checked.
pub fn validate_merged(doc: &Document) -> Vec<String> {
    validate_as(doc, true)
}

fn validate_as(doc: &Document, merged: bool) -> Vec<String> {
    let mut errs = Vec::new();
    let mut last: Option<usize> = None;
    let mut arch: Option<&str> = None;
    for p in &doc.passes {
        let known = Pass::from_name(&p.pass);
        let index = ALL_PASSES.iter().position(|n| *n == p.pass);
        let (Some(index), true) = (index, merged || known.is_some()) else {
            errs.push(format!(
                "pass {:?} is not one of {}",
                p.pass,
                if merged {
                    ALL_PASSES.join(", ")
                } else {
                    "generalize, specialize, oobeSystem".to_string()
                }
            ));
            continue;
        };
        if last.is_some_and(|l| l >= index) {
            errs.push(format!("pass {} is repeated or out of order", p.pass));
        }
        last = Some(index);
        if p.components.is_empty() {
            errs.push(format!("pass {} has no component", p.pass));
        }
        let mut seen = Vec::new();
        for c in &p.components {
            let at = format!("{}/{}", p.pass, c.name);
            let ours = [SHELL, INTL, DEPLOY, PNP].contains(&c.name.as_str());
            // our components only where Windows takes them; the agent's own are its business
            let fits = match known {
                Some(pass) => allowed(pass).contains(&c.name.as_str()) || (merged && !ours),
                None => merged,
            };
            if merged && !c.name.starts_with("Microsoft-Windows-") {
                errs.push(format!("{at}: not a Microsoft-Windows-* component"));
            } else if !fits {
                errs.push(format!("{at}: component not allowed in pass {}", p.pass));
            }
            if seen.contains(&c.name.as_str()) {
                errs.push(format!("{at}: component repeated"));
            }
            seen.push(&c.name);
            check_identity(c, &at, &mut arch, &mut errs);
            for e in &c.children {
                check_lists(e, &at, &mut errs);
            }
        }
    }
    if doc.pass(Pass::OobeSystem).is_none() {
        errs.push("pass oobeSystem is missing (OOBE would stop at its first page)".into());
    }
    errs
}

/// The attributes every component carries besides its name; `arch` is the document's
/// architecture (the first component's).
fn check_identity<'a>(
    c: &'a Component,
    at: &str,
    arch: &mut Option<&'a str>,
    errs: &mut Vec<String>,
) {
    if Arch::from_env(&c.arch).is_none() || c.arch != c.arch.to_ascii_lowercase() {
        errs.push(format!(
            "{at}: processorArchitecture {:?} is not amd64 or arm64",
            c.arch
        ));
    }
    if *arch.get_or_insert(&c.arch) != c.arch {
        errs.push(format!(
            "{at}: processorArchitecture {} differs from the other components",
            c.arch
        ));
    }
    if c.public_key_token != PUBLIC_KEY_TOKEN {
        errs.push(format!(
            "{at}: publicKeyToken {:?} is not {PUBLIC_KEY_TOKEN}",
            c.public_key_token
        ));
    }
    if c.language != LANGUAGE {
        errs.push(format!("{at}: language {:?} is not {LANGUAGE}", c.language));
    }
    if c.version_scope != VERSION_SCOPE {
        errs.push(format!(
            "{at}: versionScope {:?} is not {VERSION_SCOPE}",
            c.version_scope
        ));
    }
}

/// Ordered lists (items with `wcm:action="add"` and an `Order`, such as `RunSynchronous`)
/// carry `Order` 1, 2, … in sequence.
fn check_lists(e: &Element, at: &str, errs: &mut Vec<String>) {
    let items: Vec<&Element> = e.children.iter().filter(|c| c.is_add()).collect();
    let ordered = items.iter().any(|i| i.child("Order").is_some());
    for (i, item) in items.iter().enumerate().filter(|_| ordered) {
        let order = item.child("Order").and_then(|o| o.text.as_deref());
        if order != Some((i + 1).to_string().as_str()) {
            errs.push(format!(
                "{at}/{}: item {} has Order {:?}, expected {}",
                e.name,
                i + 1,
                order.unwrap_or(""),
                i + 1
            ));
        }
    }
    for c in &e.children {
        check_lists(c, &format!("{at}/{}", e.name), errs);
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::full;
    use super::super::xml::parse;
    use super::*;

    #[test]
    fn validation_finds_broken_documents() {
        let mut doc = full().document();
        doc.passes[1].components[0].arch = "x86".into();
        doc.passes[1].components[0].public_key_token = "0".into();
        doc.passes[2]
            .components
            .push(Component::new(DEPLOY, Arch::Amd64, vec![]));
        doc.passes.swap(0, 1);
        let deploy = doc.passes[0]
            .components
            .iter_mut()
            .find(|c| c.name == DEPLOY)
            .unwrap();
        deploy.children[0].children[1].children[0].text = Some("7".into());
        let errs = validate(&doc).join("\n");
        for want in [
            "processorArchitecture \"x86\" is not amd64 or arm64",
            "publicKeyToken \"0\"",
            "pass generalize is repeated or out of order",
            "oobeSystem/Microsoft-Windows-Deployment: component not allowed",
            "item 2 has Order \"7\", expected 2",
        ] {
            assert!(errs.contains(want), "{want} missing in:\n{errs}");
        }
        assert!(
            parse("<unattend xmlns=\"urn:x\"/>")
                .unwrap_err()
                .contains("root must be")
        );
        assert!(
            parse("<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"><settings>").is_err()
        );
    }
}
