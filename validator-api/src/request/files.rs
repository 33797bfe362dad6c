//! The files a request names, checked and read where the request is made (the CLI, the gate;
//! never a server for a caller): the user data and profile files (read into `launch.user_data`
//! and `guest.profile`, which is what the API carries), an SSH private key (must be readable;
//! its contents are never read here). Not pure, unlike [`super::check`].

use std::path::Path as FsPath;

use super::Request;
use crate::field::{FieldErrors, Path};

/// Problems with the files `r` names, each under its field.
pub fn problems(r: &Request) -> FieldErrors {
    let mut errs = FieldErrors::new();
    let g = &r.guest;
    if let Some(f) = &g.ssh_private_key_file
        && let Err(e) = std::fs::File::open(f)
    {
        errs.push(
            Path::fields(&["guest", "ssh_private_key_file"]),
            format!("cannot read {}: {e}", f.display()),
        );
    }
    if let Some(p) = &g.profile_file
        && let Err(e) = check_profile_file(p)
    {
        errs.push(Path::fields(&["guest", "profile_file"]), e);
    }
    if let Some(text) = &g.profile
        && let Err(e) = check_profile_text(text)
    {
        errs.push(Path::fields(&["guest", "profile"]), e);
    }
    if let Some(p) = &r.launch.user_data_file
        && !p.is_file()
    {
        errs.push(
            Path::fields(&["launch", "user_data_file"]),
            format!("{} does not exist or is not a file", p.display()),
        );
    }
    errs
}

/// Whether `p` holds a hardening profile (the reason when not).
pub fn check_profile_file(p: &FsPath) -> Result<(), String> {
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
    let src = amiforge_profile::Source::File(p.to_path_buf());
    amiforge_profile::load::parse(src, text)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Whether `text` is a hardening profile (where it is wrong when not: line and column, never an
/// excerpt).
pub fn check_profile_text(text: &str) -> Result<(), String> {
    let src = amiforge_profile::Source::Given("the profile".into());
    amiforge_profile::load::parse(src, text.to_string())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// `r` with its user data and profile files read into `launch.user_data` and `guest.profile`
/// (the form the API carries; the file fields are cleared).
pub fn read_files(mut r: Request) -> Result<Request, FieldErrors> {
    let read = |p: &FsPath, group: &str, field: &str| {
        std::fs::read_to_string(p).map_err(|e| {
            FieldErrors::one(
                Path::fields(&[group, field]),
                format!("cannot read {}: {e}", p.display()),
            )
        })
    };
    if let Some(p) = r.launch.user_data_file.take() {
        r.launch.user_data = Some(read(&p, "launch", "user_data_file")?);
    }
    if let Some(p) = r.guest.profile_file.take() {
        r.guest.profile = Some(read(&p, "guest", "profile_file")?);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Target;

    #[test]
    fn unreadable_files_are_named() {
        let mut r = Request::new(vec![Target {
            region: "eu-west-1".into(),
            ami: "ami-0123456789abcdef0".into(),
            expect: Default::default(),
        }]);
        r.guest.profile_file = Some("/nonexistent/p.toml".into());
        r.guest.ssh_private_key_file = Some("/nonexistent/key".into());
        r.launch.user_data_file = Some("/nonexistent/ud".into());
        let e = problems(&r).lines();
        for w in [
            "guest.ssh_private_key_file: cannot read /nonexistent/key",
            "guest.profile_file: cannot read /nonexistent/p.toml",
            "launch.user_data_file: /nonexistent/ud does not exist",
        ] {
            assert!(e.iter().any(|m| m.starts_with(w)), "{w} missing in {e:#?}");
        }
        let dir = tempfile::tempdir().unwrap();
        let ud = dir.path().join("ud");
        std::fs::write(&ud, "#cloud-config\n").unwrap();
        r.launch.user_data_file = Some(ud);
        r.guest.profile_file = None;
        let r = read_files(r).unwrap();
        assert_eq!(r.launch.user_data.as_deref(), Some("#cloud-config\n"));
        assert_eq!(
            r.launch.user_data_file, None,
            "the content replaces the file"
        );
    }
}
