//! The answer file: typed settings ([`AnswerSettings`]) → a generic unattend model
//! ([`Document`]: passes, components with their four identity attributes, elements) → XML
//! written with quick-xml (every value escaped; no string templates). [`validate`] checks the
//! model (passes, components allowed in each pass, attributes, list orders) and [`parse`] reads
//! XML back into the same model, so the bytes are checked before they are uploaded to the path
//! the agent reads ([`super::detect::Agent::answer_file_path`]). [`merge`] puts our settings into
//! the agent's current file (which the probe brings back) instead of replacing it.

use std::borrow::Cow;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// The unattend namespace every answer file uses.
pub const NS: &str = "urn:schemas-microsoft-com:unattend";
const NS_WCM: &str = "http://schemas.microsoft.com/WMIConfig/2002/State";
const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// The public key token of every Microsoft-Windows-* component.
pub const PUBLIC_KEY_TOKEN: &str = "31bf3856ad364e35";

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

/// An answer file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub passes: Vec<PassSettings>,
}

/// `<settings pass="…">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassSettings {
    pub pass: String,
    pub components: Vec<Component>,
}

/// `<component name="…" processorArchitecture="…" publicKeyToken="…" language="…"
/// versionScope="…">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    pub arch: String,
    pub public_key_token: String,
    pub language: String,
    pub version_scope: String,
    pub children: Vec<Element>,
}

/// A setting: text, or children; list items carry `wcm:action="add"` (attributes such as
/// `wcm:keyValue` in an agent's file are kept as they are).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: Option<String>,
    pub children: Vec<Element>,
}

impl Element {
    fn text(name: &str, v: impl Into<String>) -> Element {
        Element {
            name: name.into(),
            attrs: vec![],
            text: Some(v.into()),
            children: vec![],
        }
    }

    fn group(name: &str, children: Vec<Element>) -> Element {
        Element {
            name: name.into(),
            attrs: vec![],
            text: None,
            children,
        }
    }

    fn item(name: &str, children: Vec<Element>) -> Element {
        Element {
            attrs: vec![("wcm:action".into(), "add".into())],
            ..Element::group(name, children)
        }
    }

    /// Whether this is a list item (`wcm:action="add"`).
    pub fn is_add(&self) -> bool {
        self.attrs
            .iter()
            .any(|(k, v)| k == "wcm:action" && v == "add")
    }

    /// The first child called `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

impl Component {
    fn new(name: &str, arch: Arch, children: Vec<Element>) -> Component {
        Component {
            name: name.into(),
            arch: arch.name().into(),
            public_key_token: PUBLIC_KEY_TOKEN.into(),
            language: "neutral".into(),
            version_scope: "nonSxS".into(),
            children,
        }
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

impl Document {
    pub fn pass(&self, pass: Pass) -> Option<&PassSettings> {
        self.passes.iter().find(|p| p.pass == pass.name())
    }

    pub fn component(&self, pass: Pass, name: &str) -> Option<&Component> {
        self.pass(pass)?.components.iter().find(|c| c.name == name)
    }
}

const SHELL: &str = "Microsoft-Windows-Shell-Setup";
const INTL: &str = "Microsoft-Windows-International-Core";
const DEPLOY: &str = "Microsoft-Windows-Deployment";
const PNP: &str = "Microsoft-Windows-PnpSysprep";

/// The components each pass may hold here (those this model writes).
fn allowed(pass: Pass) -> &'static [&'static str] {
    match pass {
        Pass::Generalize => &[PNP],
        Pass::Specialize => &[SHELL, INTL, DEPLOY],
        Pass::OobeSystem => &[SHELL, INTL],
    }
}

impl AnswerSettings {
    /// The answer file for these settings. Always: generalize keeps installed drivers
    /// (`PersistAllDeviceInstalls`, so ENA/NVMe drivers survive) and OOBE asks nothing.
    pub fn document(&self) -> Document {
        let a = self.arch;
        let generalize = vec![Component::new(
            PNP,
            a,
            vec![
                Element::text("PersistAllDeviceInstalls", "true"),
                Element::text("DoNotCleanUpNonPresentDevices", "true"),
            ],
        )];
        let mut specialize_shell = Vec::new();
        match &self.computer_name {
            ComputerName::AgentDecides => {}
            ComputerName::Random => specialize_shell.push(Element::text("ComputerName", "*")),
            ComputerName::Fixed(n) => specialize_shell.push(Element::text("ComputerName", n)),
        }
        if self.copy_profile {
            specialize_shell.push(Element::text("CopyProfile", "true"));
        }
        if let Some(tz) = &self.time_zone {
            specialize_shell.push(Element::text("TimeZone", tz));
        }
        let mut specialize = Vec::new();
        if !specialize_shell.is_empty() {
            specialize.push(Component::new(SHELL, a, specialize_shell));
        }
        let intl = self.locale.as_ref().map(|l| {
            Component::new(
                INTL,
                a,
                ["InputLocale", "SystemLocale", "UILanguage", "UserLocale"]
                    .iter()
                    .map(|n| Element::text(n, l))
                    .collect(),
            )
        });
        if let Some(c) = &intl {
            specialize.push(c.clone());
        }
        if !self.run_synchronous.is_empty() {
            let cmds = self
                .run_synchronous
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Element::item(
                        "RunSynchronousCommand",
                        vec![
                            Element::text("Order", (i + 1).to_string()),
                            Element::text("Path", c),
                        ],
                    )
                })
                .collect();
            specialize.push(Component::new(
                DEPLOY,
                a,
                vec![Element::group("RunSynchronous", cmds)],
            ));
        }
        let mut oobe_shell = vec![Element::group(
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
            let cmds = self
                .first_logon_commands
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Element::item(
                        "SynchronousCommand",
                        vec![
                            Element::text("Order", (i + 1).to_string()),
                            Element::text("CommandLine", c),
                        ],
                    )
                })
                .collect();
            oobe_shell.push(Element::group("FirstLogonCommands", cmds));
        }
        let mut oobe = vec![Component::new(SHELL, a, oobe_shell)];
        if let Some(c) = intl {
            oobe.push(c);
        }
        let mut passes = vec![PassSettings {
            pass: Pass::Generalize.name().into(),
            components: generalize,
        }];
        if !specialize.is_empty() {
            passes.push(PassSettings {
                pass: Pass::Specialize.name().into(),
                components: specialize,
            });
        }
        passes.push(PassSettings {
            pass: Pass::OobeSystem.name().into(),
            components: oobe,
        });
        Document { passes }
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
            if c.language != "neutral" {
                errs.push(format!("{at}: language {:?} is not neutral", c.language));
            }
            if c.version_scope != "nonSxS" {
                errs.push(format!(
                    "{at}: versionScope {:?} is not nonSxS",
                    c.version_scope
                ));
            }
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

/// The document as UTF-8 XML (indented, with a declaration).
pub fn to_xml(doc: &Document) -> Vec<u8> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // writing into a Vec cannot fail
    let _ = write_doc(&mut w, doc);
    let mut out = w.into_inner();
    out.push(b'\n');
    out
}

fn write_doc(w: &mut Writer<Vec<u8>>, doc: &Document) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    w.write_event(Event::Start(
        BytesStart::new("unattend").with_attributes([("xmlns", NS)]),
    ))?;
    for p in &doc.passes {
        w.write_event(Event::Start(
            BytesStart::new("settings").with_attributes([("pass", p.pass.as_str())]),
        ))?;
        for c in &p.components {
            w.write_event(Event::Start(BytesStart::new("component").with_attributes(
                [
                    ("name", c.name.as_str()),
                    ("processorArchitecture", c.arch.as_str()),
                    ("publicKeyToken", c.public_key_token.as_str()),
                    ("language", c.language.as_str()),
                    ("versionScope", c.version_scope.as_str()),
                    ("xmlns:wcm", NS_WCM),
                    ("xmlns:xsi", NS_XSI),
                ],
            )))?;
            for e in &c.children {
                write_element(w, e)?;
            }
            w.write_event(Event::End(BytesEnd::new("component")))?;
        }
        w.write_event(Event::End(BytesEnd::new("settings")))?;
    }
    w.write_event(Event::End(BytesEnd::new("unattend")))?;
    Ok(())
}

fn write_element(w: &mut Writer<Vec<u8>>, e: &Element) -> std::io::Result<()> {
    let mut start = BytesStart::new(e.name.as_str());
    for (k, v) in &e.attrs {
        start.push_attribute((k.as_str(), v.as_str()));
    }
    match &e.text {
        Some(t) => {
            w.write_event(Event::Start(start))?;
            w.write_event(Event::Text(BytesText::new(t)))?;
        }
        None => {
            w.write_event(Event::Start(start))?;
            for c in &e.children {
                write_element(w, c)?;
            }
        }
    }
    w.write_event(Event::End(BytesEnd::new(e.name.as_str())))
}

/// A node while parsing.
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }
}

fn node(e: &BytesStart<'_>) -> Result<Node, String> {
    let name = e.name().as_ref().to_string();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| format!("<{name}>: {e}"))?;
        let k = a.key.as_ref().to_string();
        let v = a
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("<{name}> {k}: {e}"))?;
        attrs.push((k, v.into_owned()));
    }
    Ok(Node {
        name,
        attrs,
        text: String::new(),
        children: vec![],
    })
}

/// Reads an answer file back into the model (whitespace between elements ignored).
pub fn parse(xml: &str) -> Result<Document, String> {
    let mut r = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node {
        name: String::new(),
        attrs: vec![],
        text: String::new(),
        children: vec![],
    }];
    loop {
        let ev = r
            .read_event()
            .map_err(|e| format!("not well-formed XML at byte {}: {e}", r.error_position()))?;
        match ev {
            Event::Start(e) => stack.push(node(&e)?),
            Event::Empty(e) => {
                let n = node(&e)?;
                if let Some(top) = stack.last_mut() {
                    top.children.push(n);
                }
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("unbalanced end tag")?;
                let top = stack.last_mut().ok_or("unbalanced end tag")?;
                top.children.push(n);
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.into_inner());
                }
            }
            Event::GeneralRef(g) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push('&');
                    top.text.push_str(&g.into_inner());
                    top.text.push(';');
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text
                        .push_str(&quick_xml::escape::escape(c.into_inner()));
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = stack.pop().ok_or("empty document")?;
    if !stack.is_empty() {
        return Err("unclosed elements at the end".into());
    }
    let top: Vec<Node> = root.children.drain(..).collect();
    let [unattend] = <[Node; 1]>::try_from(top).map_err(|_| "expected one root element")?;
    if unattend.name != "unattend" || unattend.attr("xmlns") != Some(NS) {
        return Err(format!("root must be <unattend xmlns=\"{NS}\">"));
    }
    let mut passes = Vec::new();
    for s in unattend.children {
        if s.name != "settings" {
            return Err(format!("<{}> where <settings> was expected", s.name));
        }
        let pass = s.attr("pass").ok_or("<settings> without pass")?.to_string();
        let mut components = Vec::new();
        for c in s.children {
            if c.name != "component" {
                return Err(format!("<{}> where <component> was expected", c.name));
            }
            let a = |k: &str| c.attr(k).unwrap_or("").to_string();
            components.push(Component {
                name: a("name"),
                arch: a("processorArchitecture"),
                public_key_token: a("publicKeyToken"),
                language: a("language"),
                version_scope: a("versionScope"),
                children: c
                    .children
                    .into_iter()
                    .map(element)
                    .collect::<Result<_, _>>()?,
            });
        }
        passes.push(PassSettings { pass, components });
    }
    Ok(Document { passes })
}

fn element(n: Node) -> Result<Element, String> {
    let text = if n.children.is_empty() {
        let t: Cow<'_, str> =
            quick_xml::escape::unescape(&n.text).map_err(|e| format!("<{}>: {e}", n.name))?;
        Some(t.trim().to_string())
    } else {
        None
    };
    Ok(Element {
        name: n.name,
        attrs: n.attrs,
        text,
        children: n
            .children
            .into_iter()
            .map(element)
            .collect::<Result<_, _>>()?,
    })
}

/// `ours` merged into `base` (the agent's file): passes and components that `base` lacks are
/// added (in pass order); in a component both have, our settings replace the agent's of the same
/// name, groups (such as `OOBE`) merge setting by setting, and list items (`RunSynchronous`,
/// `FirstLogonCommands`) are appended after the agent's own and renumbered, skipping items the
/// agent already has. Everything else in `base` stays.
pub fn merge(mut base: Document, ours: &Document) -> Document {
    let rank = |name: &str| {
        ALL_PASSES
            .iter()
            .position(|n| *n == name)
            .unwrap_or(usize::MAX)
    };
    for p in &ours.passes {
        match base.passes.iter_mut().find(|b| b.pass == p.pass) {
            None => {
                let at = base
                    .passes
                    .iter()
                    .position(|b| rank(&b.pass) > rank(&p.pass))
                    .unwrap_or(base.passes.len());
                base.passes.insert(at, p.clone());
            }
            Some(b) => {
                for c in &p.components {
                    match b.components.iter_mut().find(|bc| bc.name == c.name) {
                        None => b.components.push(c.clone()),
                        Some(bc) => merge_children(&mut bc.children, &c.children),
                    }
                }
            }
        }
    }
    base
}

fn is_list(e: &Element) -> bool {
    e.children.iter().any(Element::is_add)
}

/// The item without its `Order`, to recognise an item the agent already has.
fn item_key(e: &Element) -> Vec<&Element> {
    e.children.iter().filter(|c| c.name != "Order").collect()
}

fn merge_children(base: &mut Vec<Element>, ours: &[Element]) {
    for e in ours {
        match base.iter_mut().find(|b| b.name == e.name) {
            None => base.push(e.clone()),
            Some(b) if is_list(e) => {
                for item in e.children.iter().filter(|c| c.is_add()) {
                    let have = b
                        .children
                        .iter()
                        .any(|x| x.is_add() && item_key(x) == item_key(item));
                    if !have {
                        b.children.push(item.clone());
                    }
                }
                let mut n = 0;
                for item in b.children.iter_mut().filter(|c| c.is_add()) {
                    n += 1;
                    if let Some(o) = item.children.iter_mut().find(|c| c.name == "Order") {
                        o.text = Some(n.to_string());
                    }
                }
            }
            Some(b) if e.text.is_none() && b.text.is_none() => {
                merge_children(&mut b.children, &e.children)
            }
            Some(b) => *b = e.clone(),
        }
    }
}

/// An answer file's bytes as text: UTF-8 (with or without BOM) or UTF-16 with a BOM.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let utf16 = |b: &[u8], le: bool| {
        let units: Vec<u16> = b
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|e| format!("not UTF-16: {e}"))
    };
    match bytes {
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            String::from_utf8(rest.to_vec()).map_err(|e| format!("not UTF-8: {e}"))
        }
        [0xFF, 0xFE, rest @ ..] => utf16(rest, true),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, false),
        _ => String::from_utf8(bytes.to_vec()).map_err(|e| format!("not UTF-8: {e}")),
    }
}

/// How the uploaded answer file came about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The agent had no answer file: ours is complete.
    New,
    /// Merged into the agent's file.
    Merged,
    /// The agent's file could not be read (why); ours replaces it.
    Replaced(String),
}

/// The bytes to upload: `settings` merged into the agent's current file (`existing`), checked
/// like [`render_checked`] (valid, and read back equal to the merged model).
pub fn render_for_agent(
    settings: &AnswerSettings,
    existing: Option<&[u8]>,
) -> Result<(Vec<u8>, Origin), String> {
    let ours = settings.document();
    let problems = validate(&ours);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let (doc, origin) = match existing.map(|b| decode(b).and_then(|t| parse(&t))) {
        None => (ours, Origin::New),
        Some(Err(e)) => (ours, Origin::Replaced(e)),
        Some(Ok(base)) => (merge(base, &ours), Origin::Merged),
    };
    let problems = validate_merged(&doc);
    if !problems.is_empty() {
        return Err(format!(
            "merged with the agent's answer file: {}",
            problems.join("; ")
        ));
    }
    let xml = to_xml(&doc);
    let text = std::str::from_utf8(&xml).map_err(|e| e.to_string())?;
    if parse(text)? != doc {
        return Err("the written answer file does not read back as written".into());
    }
    Ok((xml, origin))
}

/// Probe part: each agent's current answer file, base64 (only when `answer_file` is set).
pub const PROBE_PS: &str = r#"
# each agent's current answer file, to merge our settings into
$answerFiles = @(
    @('ec2launch-v2', (Join-Path $env:ProgramData 'Amazon\EC2Launch\sysprep\unattend.xml')),
    @('ec2launch-v1', (Join-Path $env:ProgramData 'Amazon\EC2-Windows\Launch\Sysprep\Unattend.xml')),
    @('ec2config', (Join-Path $env:ProgramFiles 'Amazon\Ec2ConfigService\sysprep2008.xml'))
)
foreach ($entry in $answerFiles) {
    if (Test-Path -LiteralPath $entry[1]) {
        Out-Tag 'answer-file', $entry[0], ([Convert]::ToBase64String([IO.File]::ReadAllBytes($entry[1])))
    }
}
"#;

/// The bytes to upload for `settings`, checked: the model is valid and the XML parses back to
/// exactly the same model.
pub fn render_checked(settings: &AnswerSettings) -> Result<Vec<u8>, String> {
    let doc = settings.document();
    let problems = validate(&doc);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    let xml = to_xml(&doc);
    let text = std::str::from_utf8(&xml).map_err(|e| e.to_string())?;
    let back = parse(text)?;
    if back != doc {
        return Err("the written answer file does not read back as written".into());
    }
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> AnswerSettings {
        AnswerSettings {
            arch: Arch::Amd64,
            computer_name: ComputerName::Random,
            time_zone: Some("W. Europe Standard Time".into()),
            locale: Some("de-DE".into()),
            copy_profile: true,
            run_synchronous: vec![
                "cmd /c echo a & echo <b>".into(),
                "powershell -Command \"Set-Content x 'y'\"".into(),
            ],
            first_logon_commands: vec!["cmd /c whoami > C:\\first.txt".into()],
        }
    }

    /// An agent-style answer file, written for these tests: a component we do not model,
    /// a RunSynchronous list, a fixed name, OOBE settings and an element with wcm:keyValue.
    pub(crate) const AGENT_FILE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <!-- written by the agent -->
  <settings pass="generalize">
    <component name="Microsoft-Windows-Security-SPP" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <SkipRearm>1</SkipRearm>
    </component>
  </settings>
  <settings pass="specialize">
    <component name="Microsoft-Windows-Deployment" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <RunSynchronous>
        <RunSynchronousCommand wcm:action="add">
          <Order>1</Order>
          <Path>agent-step.cmd</Path>
        </RunSynchronousCommand>
      </RunSynchronous>
    </component>
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <ComputerName>AGENTNAME</ComputerName>
      <RegisteredOwner>Amazon</RegisteredOwner>
    </component>
    <component name="Microsoft-Windows-TCPIP" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <Interfaces>
        <Interface wcm:action="add">
          <Identifier>Ethernet</Identifier>
          <Routes>
            <Route wcm:action="add" wcm:keyValue="1">
              <Identifier>1</Identifier>
            </Route>
          </Routes>
        </Interface>
      </Interfaces>
    </component>
  </settings>
  <settings pass="oobeSystem">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
      <OOBE>
        <HideEULAPage>false</HideEULAPage>
        <HideLocalAccountScreen>true</HideLocalAccountScreen>
      </OOBE>
    </component>
  </settings>
</unattend>
"#;

    #[test]
    fn our_settings_merge_into_the_agents_file() {
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(AGENT_FILE.as_bytes());
        let (xml, origin) = render_for_agent(&full(), Some(&bom)).unwrap();
        assert_eq!(origin, Origin::Merged);
        let doc = parse(std::str::from_utf8(&xml).unwrap()).unwrap();
        assert!(
            validate_merged(&doc).is_empty(),
            "{:?}",
            validate_merged(&doc)
        );
        // the agent's own settings stay
        let spp = doc
            .component(Pass::Generalize, "Microsoft-Windows-Security-SPP")
            .unwrap();
        assert_eq!(spp.child("SkipRearm").unwrap().text.as_deref(), Some("1"));
        assert!(
            doc.component(Pass::Generalize, PNP).is_some(),
            "ours added beside it"
        );
        let tcpip = doc
            .component(Pass::Specialize, "Microsoft-Windows-TCPIP")
            .unwrap();
        let route = &tcpip.children[0].children[0]
            .child("Routes")
            .unwrap()
            .children[0];
        assert!(
            route
                .attrs
                .contains(&("wcm:keyValue".to_string(), "1".to_string()))
        );
        let shell = doc.component(Pass::Specialize, SHELL).unwrap();
        assert_eq!(
            shell.child("ComputerName").unwrap().text.as_deref(),
            Some("*"),
            "ours wins"
        );
        assert_eq!(
            shell.child("RegisteredOwner").unwrap().text.as_deref(),
            Some("Amazon")
        );
        // list items: the agent's first, then ours, renumbered
        let run = &doc
            .component(Pass::Specialize, DEPLOY)
            .unwrap()
            .child("RunSynchronous")
            .unwrap()
            .children;
        let paths: Vec<(&str, &str)> = run
            .iter()
            .map(|i| {
                (
                    i.child("Order").unwrap().text.as_deref().unwrap(),
                    i.child("Path").unwrap().text.as_deref().unwrap(),
                )
            })
            .collect();
        assert_eq!(paths[0], ("1", "agent-step.cmd"));
        assert_eq!(paths[1].0, "2");
        assert_eq!(paths.len(), 3);
        // groups merge setting by setting
        let oobe = doc
            .component(Pass::OobeSystem, SHELL)
            .unwrap()
            .child("OOBE")
            .unwrap();
        assert_eq!(
            oobe.child("HideEULAPage").unwrap().text.as_deref(),
            Some("true")
        );
        assert_eq!(
            oobe.child("HideLocalAccountScreen")
                .unwrap()
                .text
                .as_deref(),
            Some("true")
        );
        // merging again adds nothing (a base image that was already prepared this way)
        let again = merge(doc.clone(), &full().document());
        assert_eq!(again, doc);
    }

    #[test]
    fn utf16_agent_files_and_unreadable_ones() {
        let mut utf16 = vec![0xFF, 0xFE];
        utf16.extend(AGENT_FILE.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode(&utf16).unwrap(), AGENT_FILE);
        let (_, origin) = render_for_agent(&full(), Some(&utf16)).unwrap();
        assert_eq!(origin, Origin::Merged);
        let (xml, origin) = render_for_agent(&full(), Some(b"<unattend>")).unwrap();
        assert!(matches!(origin, Origin::Replaced(_)), "{origin:?}");
        assert_eq!(xml, render_checked(&full()).unwrap());
        let (_, origin) = render_for_agent(&full(), None).unwrap();
        assert_eq!(origin, Origin::New);
        // an agent file whose architecture differs cannot be merged
        let arm = AGENT_FILE.replace("amd64", "arm64");
        let e = render_for_agent(&full(), Some(arm.as_bytes())).unwrap_err();
        assert!(e.contains("differs from the other components"), "{e}");
    }

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
    fn the_xml_round_trips_and_escapes_every_value() {
        let xml = render_checked(&full()).unwrap();
        let text = String::from_utf8(xml).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
        assert!(
            text.contains("cmd /c echo a &amp; echo &lt;b&gt;"),
            "{text}"
        );
        assert!(text.contains(
            "<component name=\"Microsoft-Windows-Shell-Setup\" processorArchitecture=\"amd64\" \
             publicKeyToken=\"31bf3856ad364e35\" language=\"neutral\" versionScope=\"nonSxS\""
        ));
        assert!(text.contains("<RunSynchronousCommand wcm:action=\"add\">"));
        assert_eq!(parse(&text).unwrap(), full().document());
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
