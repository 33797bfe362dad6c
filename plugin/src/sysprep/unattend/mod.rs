//! The answer file: typed settings ([`AnswerSettings`], in `settings`) → a generic unattend
//! model ([`Document`], in `model`: passes, components with their four identity attributes,
//! elements) → XML written with quick-xml (`xml`: every value escaped; no string templates).
//! `schema` holds what Windows Setup accepts and [`validate`] checks the model against it;
//! [`parse`] reads XML back into the same model, so the bytes are checked before they are
//! uploaded to the path the agent reads ([`super::detect::Agent::answer_file`]). [`merge`] (in
//! `merge`) puts our settings into the agent's current file (which the probe brings back)
//! instead of replacing it; [`render_for_agent`] is the whole way from settings to bytes.

#[cfg(test)]
mod fixtures;
mod merge;
mod model;
mod schema;
mod settings;
mod xml;

pub use merge::merge;
pub use model::{Component, Document, Element, PassSettings};
pub use schema::{ALL_PASSES, Arch, NS, PUBLIC_KEY_TOKEN, Pass, validate, validate_merged};
pub use settings::{AnswerSettings, ComputerName, check_locale, check_time_zone};
pub use xml::{decode, parse, to_xml};

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

/// The bytes to upload for `settings`, checked: the model is valid and the XML parses back to
/// exactly the same model.
pub fn render_checked(settings: &AnswerSettings) -> Result<Vec<u8>, String> {
    let doc = settings.document();
    let problems = validate(&doc);
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    written(&doc)
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
    Ok((written(&doc)?, origin))
}

/// `doc` as XML, read back and compared: the bytes say exactly what the model says.
fn written(doc: &Document) -> Result<Vec<u8>, String> {
    let xml = to_xml(doc);
    let text = std::str::from_utf8(&xml).map_err(|e| e.to_string())?;
    if parse(text)? != *doc {
        return Err("the written answer file does not read back as written".into());
    }
    Ok(xml)
}

#[cfg(test)]
mod tests {
    use super::fixtures::{AGENT_FILE, full};
    use super::*;

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
}
