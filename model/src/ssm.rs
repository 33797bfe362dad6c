//! SSM parameter names amiforge moves (replicate's `ssm_parameter`, the gate's
//! `approved_parameter`): a fully qualified hierarchical name such as `/images/web/approved`.

/// The longest fully qualified parameter name SSM accepts.
pub const MAX_NAME: usize = 1011;

/// Why a name is not a parameter name amiforge will write (the fix is in the text).
pub fn check_parameter_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.-/".contains(c);
    if !name.starts_with('/') || name.len() < 2 {
        return Err(format!(
            "{name:?}: write a hierarchical name starting with '/', like /images/web/approved"
        ));
    }
    if name.len() > MAX_NAME {
        return Err(format!("{} characters; SSM allows {MAX_NAME}", name.len()));
    }
    if let Some(c) = name.chars().find(|c| !allowed(*c)) {
        return Err(format!(
            "{name:?}: {c:?} is not allowed; use letters, digits, '_', '.', '-' and '/'"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("/aws") || lower.starts_with("/ssm") {
        return Err(format!("{name:?}: names under /aws and /ssm are reserved"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchical_names_only() {
        check_parameter_name("/images/web/approved").unwrap();
        check_parameter_name("/a.b_c-d/1").unwrap();
        for bad in ["images/web", "/", "/a b", "/aws/x", "/SSM/x"] {
            assert!(check_parameter_name(bad).is_err(), "{bad}");
        }
        assert!(check_parameter_name(&format!("/{}", "a".repeat(MAX_NAME))).is_err());
    }
}
