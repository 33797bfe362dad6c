//! The typed answer file: a [`Document`] of passes ([`PassSettings`]), each holding components
//! ([`Component`]: the four identity attributes besides the name) whose settings are
//! [`Element`]s (text, or children; list items carry `wcm:action="add"`). Generic enough to hold
//! an agent's whole file, not only what we write; the rules are in `schema`.

use super::schema::{Arch, LANGUAGE, PUBLIC_KEY_TOKEN, Pass, VERSION_SCOPE};

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
    /// `<name>v</name>`.
    pub(super) fn text(name: &str, v: impl Into<String>) -> Element {
        Element {
            name: name.into(),
            attrs: vec![],
            text: Some(v.into()),
            children: vec![],
        }
    }

    /// `<name>` holding `children`.
    pub(super) fn group(name: &str, children: Vec<Element>) -> Element {
        Element {
            name: name.into(),
            attrs: vec![],
            text: None,
            children,
        }
    }

    /// A list item: `<name wcm:action="add">` holding `children`.
    pub(super) fn item(name: &str, children: Vec<Element>) -> Element {
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
    /// A `Microsoft-Windows-*` component with the identity every one of them carries.
    pub(super) fn new(name: &str, arch: Arch, children: Vec<Element>) -> Component {
        Component {
            name: name.into(),
            arch: arch.name().into(),
            public_key_token: PUBLIC_KEY_TOKEN.into(),
            language: LANGUAGE.into(),
            version_scope: VERSION_SCOPE.into(),
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
