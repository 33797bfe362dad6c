//! Test support (feature `test-util`) for crates that generate PowerShell or golden files
//! (this crate's script tests, the plugin's sysprep tests): there is no Windows to run the
//! scripts on, so they are parsed with the tree-sitter PowerShell grammar, and generated text is
//! compared with reviewed golden files.

use std::path::Path;

/// Every syntax problem the tree-sitter PowerShell grammar finds in `text` (ERROR and MISSING
/// nodes), as `line N: kind | source line`; empty when it parses.
pub fn powershell_errors(text: &str) -> Vec<String> {
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&tree_sitter_powershell::LANGUAGE.into())
        .expect("grammar loads");
    let tree = parser.parse(text, None).expect("parse runs");
    let mut errs = Vec::new();
    let mut cursor = tree.walk();
    let mut stack = vec![tree.root_node()];
    while let Some(n) = stack.pop() {
        if n.is_error() || n.is_missing() {
            let p = n.start_position();
            let line = text.lines().nth(p.row).unwrap_or("");
            errs.push(format!("line {}: {} | {line}", p.row + 1, n.kind()));
        }
        if n.has_error() {
            stack.extend(n.children(&mut cursor));
        }
    }
    errs
}

/// Asserts that golden file `path` holds exactly `text`; with `UPDATE_GOLDEN` set in the
/// environment it (re)writes the file first.
pub fn assert_golden(path: &Path, text: &str) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let want = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 creates it)", path.display()));
    assert!(
        want == text,
        "{} differs from the generated text; review and UPDATE_GOLDEN=1",
        path.display()
    );
}
