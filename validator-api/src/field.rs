//! Bad input, named by field: a [`FieldError`] is a structured [`Path`] (`guest.check[1].name`,
//! `launch.subnets["eu-west-1"]`) and a message that says what is wrong and how to fix it.
//! Front ends rename paths structurally (the gate drops the settings group to get its HCL
//! attribute; the gRPC API names manifest regions), never by parsing text.

use std::fmt;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.name`
    Field(String),
    /// `[3]`
    Index(usize),
    /// `["eu-west-1"]`
    Key(String),
}

/// Where in a request a problem is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Segment>);

impl Path {
    /// `a.b.c` from field names.
    pub fn fields(names: &[&str]) -> Path {
        Path(
            names
                .iter()
                .map(|n| Segment::Field(n.to_string()))
                .collect(),
        )
    }

    pub fn field(mut self, name: &str) -> Path {
        self.0.push(Segment::Field(name.to_string()));
        self
    }

    pub fn index(mut self, i: usize) -> Path {
        self.0.push(Segment::Index(i));
        self
    }

    pub fn key(mut self, k: &str) -> Path {
        self.0.push(Segment::Key(k.to_string()));
        self
    }

    /// The first segment's field name (`guest` of `guest.check[1]`).
    pub fn head(&self) -> Option<&str> {
        match self.0.first() {
            Some(Segment::Field(f)) => Some(f),
            _ => None,
        }
    }

    /// The path without its first segment.
    pub fn tail(&self) -> Path {
        Path(self.0.iter().skip(1).cloned().collect())
    }

    /// `prefix` followed by this path.
    pub fn under(&self, prefix: &Path) -> Path {
        Path(prefix.0.iter().chain(&self.0).cloned().collect())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Field(n) if i == 0 => write!(f, "{n}")?,
                Segment::Field(n) => write!(f, ".{n}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: Path,
    pub message: String,
}

impl FieldError {
    pub fn new(path: Path, message: impl Into<String>) -> FieldError {
        FieldError {
            path,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.0.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in an input (one per line when printed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> FieldErrors {
        FieldErrors::default()
    }

    /// A single problem.
    pub fn one(path: Path, message: impl Into<String>) -> FieldErrors {
        FieldErrors(vec![FieldError::new(path, message)])
    }

    pub fn push(&mut self, path: Path, message: impl Into<String>) {
        self.0.push(FieldError::new(path, message));
    }

    pub fn extend(&mut self, other: FieldErrors) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `Ok(())` when nothing was found.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }

    /// Each problem as its line (`path: message`).
    pub fn lines(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.lines().join("\n"))
    }
}

impl std::error::Error for FieldErrors {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_print_like_the_fields_users_write() {
        let p = Path::fields(&["guest", "check"]).index(1).field("name");
        assert_eq!(p.to_string(), "guest.check[1].name");
        assert_eq!(p.head(), Some("guest"));
        assert_eq!(p.tail().to_string(), "check[1].name");
        let p = Path::fields(&["launch", "subnets"]).key("eu-west-1");
        assert_eq!(p.to_string(), "launch.subnets[\"eu-west-1\"]");
        let e = FieldErrors::one(p, "no AMI to validate in eu-west-1");
        assert_eq!(
            e.to_string(),
            "launch.subnets[\"eu-west-1\"]: no AMI to validate in eu-west-1"
        );
    }
}
