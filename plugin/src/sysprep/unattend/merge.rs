//! Merging our answer file into the agent's own (which the probe brings back), instead of
//! replacing it: the agent's settings stay, ours are added or win, list items are appended once
//! and renumbered.

use super::model::{Document, Element};
use super::schema::ALL_PASSES;

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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{AGENT_FILE, full};
    use super::super::schema::{DEPLOY, PNP, Pass, SHELL, validate_merged};
    use super::super::xml::parse;
    use super::super::{Origin, render_for_agent};
    use super::*;

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
}
