//! A component's Configuration Reference as the registry's pages write it: `Required:` and
//! `Optional:` lists of `` - `name` (type) - description ``, then a section per nested block,
//! from the same spec and field docs as `docs/reference.md` ([`crate::docs`]).

use std::fmt::Write as _;

use crate::plugin::Component;
use crate::spec::{FieldDoc, ObjectSpec, Spec};

/// The `## Configuration Reference` section of `c`, ending with a blank line.
pub fn section(c: &Component) -> String {
    let mut out = String::from(
        "## Configuration Reference\n\n\
         Generated from the component's configuration type, like the plugin's `docs` command.\n\n",
    );
    let spec = (c.spec)();
    if spec.0.is_empty() {
        out.push_str("This component has no attributes.\n\n");
        return out;
    }
    lists(&mut out, &spec, &(c.docs)(), "");
    out
}

/// One nested block waiting for its own section.
struct Nested<'a> {
    path: String,
    spec: &'a ObjectSpec,
    docs: &'a [FieldDoc],
    repeatable: bool,
}

fn lists(out: &mut String, spec: &ObjectSpec, docs: &[FieldDoc], prefix: &str) {
    let doc_of = |name: &str| docs.iter().find(|d| d.name == name);
    let (mut required, mut optional, mut blocks) = (Vec::new(), Vec::new(), Vec::new());
    for (name, entry) in &spec.0 {
        let doc = doc_of(name);
        let nested_docs = doc.map(|d| d.nested.as_slice()).unwrap_or(&[]);
        let (ty, is_required) = match entry {
            Spec::Attr(a) => (a.ty.hcl_name(), a.required),
            Spec::Block(b) => {
                blocks.push(Nested {
                    path: format!("{prefix}{name}"),
                    spec: &b.nested,
                    docs: nested_docs,
                    repeatable: false,
                });
                ("block".to_string(), b.required)
            }
            Spec::BlockList(b) => {
                blocks.push(Nested {
                    path: format!("{prefix}{name}"),
                    spec: &b.nested,
                    docs: nested_docs,
                    repeatable: true,
                });
                ("repeatable block".to_string(), b.min_items > 0)
            }
        };
        let mut item = format!("- `{name}` ({ty})");
        if let Some(text) = doc.map(|d| d.doc).filter(|t| !t.is_empty()) {
            let _ = write!(item, " - {text}");
        }
        if is_required {
            required.push(item);
        } else {
            optional.push(item);
        }
    }
    for (title, items) in [("Required", required), ("Optional", optional)] {
        if items.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}:\n");
        for item in items {
            let _ = writeln!(out, "{item}\n");
        }
    }
    for b in blocks {
        let what = if b.repeatable {
            "blocks (repeatable)"
        } else {
            "block"
        };
        let _ = writeln!(out, "### `{}` {what}\n", b.path);
        if b.spec.0.is_empty() {
            out.push_str("No attributes.\n\n");
            continue;
        }
        lists(out, b.spec, b.docs, &format!("{}.", b.path));
    }
}
