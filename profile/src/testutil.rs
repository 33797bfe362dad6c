//! Test helpers shared by every crate that generates PowerShell (feature `test-util`): the
//! parse check that stands in for Windows in tests, with the tree-sitter PowerShell grammar.

/// Every ERROR or MISSING node the PowerShell grammar finds in `text`, as
/// `line N: KIND | the line` (empty: the script parses).
///
/// # Panics
///
/// When the bundled grammar cannot be loaded or the parser gives no tree (a broken build of the
/// test dependencies, not a property of `text`).
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
