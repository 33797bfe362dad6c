//! PowerShell generation for Windows profiles (see the Windows slice of the harden issue).

use crate::resolve::Resolved;

pub fn compile(_r: &Resolved) -> String {
    String::new()
}
