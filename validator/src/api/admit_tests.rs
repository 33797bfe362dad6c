use super::*;
use amiforge_validator_api::Target;

fn request(n: usize) -> Request {
    Request::new(
        (0..n)
            .map(|i| Target {
                region: "eu-west-1".into(),
                ami: format!("ami-{i:08x}"),
                expect: Default::default(),
            })
            .collect(),
    )
}

const PROFILE: &str = "[profile]\nname = \"mine\"\nversion = \"1\"\nos = \"linux\"\n";

#[test]
fn no_file_outside_the_allowed_directories_is_read_or_even_looked_at() {
    let allowed = tempfile::tempdir().unwrap();
    let a = Admission::new(&[allowed.path().to_path_buf()], BTreeMap::new(), 256).unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.toml");
    std::fs::write(&secret, "AWS_SECRET_ACCESS_KEY=marker-7d1f\n").unwrap();
    let link = allowed.path().join("link.toml");
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let sneaky = allowed
        .path()
        .join("../")
        .join(outside.path().file_name().unwrap());
    let mut texts = Vec::new();
    for p in [
        secret.clone(),
        outside.path().join("missing.toml"),
        "/proc/self/environ".into(),
        "/etc/shadow".into(),
        link,
        sneaky.join("secret.toml"),
        "relative.toml".into(),
    ] {
        let mut r = request(1);
        r.guest.profile_file = Some(p.clone());
        r.guest.ssh_private_key_file = Some(p.clone());
        let e = a.admit(&mut r).unwrap_err();
        let t = e.to_string();
        assert!(!t.contains("marker-7d1f") && !t.contains("root:"), "{t}");
        assert!(t.contains("reads no file a request names"), "{p:?}: {t}");
        texts.push(t);
    }
    // the same words whether the file exists or not
    assert!(texts.windows(2).all(|w| w[0] == w[1]), "{texts:#?}");
}

#[test]
fn an_allowed_profile_file_is_read_and_its_errors_quote_nothing() {
    let allowed = tempfile::tempdir().unwrap();
    let a = Admission::new(&[allowed.path().to_path_buf()], BTreeMap::new(), 256).unwrap();
    let good = allowed.path().join("p.toml");
    std::fs::write(&good, PROFILE).unwrap();
    let mut r = request(1);
    r.guest.profile_file = Some(good);
    a.admit(&mut r).unwrap();
    assert_eq!(r.guest.profile.as_deref(), Some(PROFILE));
    assert_eq!(r.guest.profile_file, None);
    let bad = allowed.path().join("bad.toml");
    std::fs::write(&bad, "[profile\nsecret = \"marker-9c2\"\n").unwrap();
    let mut r = request(1);
    r.guest.profile_file = Some(bad);
    let e = a.admit(&mut r).unwrap_err().to_string();
    assert!(e.contains("line 1, column"), "{e}");
    assert!(!e.contains("marker-9c2"), "{e}");
}

#[test]
fn keys_come_by_name_and_targets_within_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("ci.pem");
    std::fs::write(&key, "-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
    let a = Admission::new(&[], BTreeMap::from([("ci".into(), key.clone())]), 3).unwrap();
    let mut r = request(3);
    r.guest.ssh_private_key_name = Some("ci".into());
    a.admit(&mut r).unwrap();
    assert_eq!(r.guest.ssh_private_key_file.as_deref(), Some(key.as_path()));
    let mut r = request(4);
    r.guest.ssh_private_key_name = Some("other".into());
    let e = a.admit(&mut r).unwrap_err().lines();
    assert!(
        e[0].starts_with("targets: 4 AMIs; this validator takes at most 3"),
        "{e:?}"
    );
    assert!(
        e[1].starts_with("guest.ssh_private_key_name: \"other\": no key"),
        "{e:?}"
    );
    assert!(Admission::new(&["/nonexistent".into()], BTreeMap::new(), 1).is_err());
}
