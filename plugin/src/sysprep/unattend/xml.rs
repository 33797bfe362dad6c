//! The answer file as bytes: [`to_xml`] writes a [`Document`] with quick-xml (indented, every
//! value escaped; no string templates), [`parse`] reads XML back into the same model (so what is
//! uploaded is checked to read back as written) and [`decode`] turns an agent's file into text by
//! its byte order mark (UTF-8 or UTF-16, with `encoding_rs`).

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::model::{Component, Document, Element, PassSettings};
use super::schema::{NS, NS_WCM, NS_XSI};

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

/// The element tree of `xml` under a nameless root (whitespace between elements kept as text).
fn tree(xml: &str) -> Result<Node, String> {
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
    let root = stack.pop().ok_or("empty document")?;
    if !stack.is_empty() {
        return Err("unclosed elements at the end".into());
    }
    Ok(root)
}

/// Reads an answer file back into the model (whitespace between elements ignored).
pub fn parse(xml: &str) -> Result<Document, String> {
    let mut root = tree(xml)?;
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

/// An answer file's bytes as text: UTF-8 or UTF-16 (little or big endian) as its byte order
/// mark says, UTF-8 without one. Malformed text is an error, never replaced.
pub fn decode(bytes: &[u8]) -> Result<String, String> {
    let (encoding, bom) = Encoding::for_bom(bytes).unwrap_or((UTF_8, 0));
    let body = bytes.get(bom..).unwrap_or_default();
    encoding
        .decode_without_bom_handling_and_without_replacement(body)
        .map(Cow::into_owned)
        .ok_or_else(|| format!("not {} text", encoding.name()))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::full;
    use super::super::render_checked;
    use super::*;

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
    fn decode_follows_the_byte_order_mark() {
        let text = "<unattend>é</unattend>";
        let be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(&be).unwrap(), text);
        assert_eq!(decode(text.as_bytes()).unwrap(), text);
        // an unpaired surrogate, a cut code unit, bytes that are not UTF-8: errors, not guesses
        assert!(decode(&[0xFF, 0xFE, 0x00, 0xD8]).is_err());
        assert!(decode(&[0xFF, 0xFE, 0x3C, 0x00, 0x3C]).is_err());
        assert_eq!(decode(&[0x3C, 0xFF]).unwrap_err(), "not UTF-8 text");
    }
}
