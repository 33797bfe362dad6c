use std::net::SocketAddr;

use super::*;

fn request(token: Option<&str>) -> tonic::Request<()> {
    let mut r = tonic::Request::new(());
    r.extensions_mut().insert(TcpConnectInfo {
        local_addr: Some("127.0.0.1:7070".parse::<SocketAddr>().unwrap()),
        remote_addr: Some("127.0.0.1:50123".parse::<SocketAddr>().unwrap()),
    });
    if let Some(t) = token {
        r.metadata_mut().insert("authorization", t.parse().unwrap());
    }
    r
}

#[test]
fn tokens_are_known_by_their_digest_only() {
    let (token, line) = new_token("ci").unwrap();
    assert!(
        token.starts_with("afv_") && !line.contains(&token),
        "{line}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, format!("# pipelines\n\n{line}\n")).unwrap();
    let entries = read_token_file(&file).unwrap();
    assert_eq!(entries[0].0, "ci");
    let auth = Authenticator::new(entries, vec!["ops".into()], true);
    let c = auth
        .caller(&request(Some(&format!("Bearer {token}"))))
        .unwrap();
    assert_eq!(
        (c.name.as_str(), c.peer.as_str(), c.admin),
        ("token:ci", "127.0.0.1:50123", false)
    );
    let e = auth.caller(&request(Some("Bearer afv_wrong"))).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let e = auth.caller(&request(Some("Basic x"))).unwrap_err();
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
    let e = auth.caller(&request(None)).unwrap_err();
    assert!(
        e.message().contains("client certificate or a bearer token"),
        "{e:?}"
    );
}

#[test]
fn without_required_authentication_a_local_caller_is_local() {
    let auth = Authenticator::new(Vec::new(), Vec::new(), false);
    assert_eq!(auth.caller(&request(None)).unwrap().name, "local");
}

#[test]
fn admins_are_named_with_or_without_the_kind() {
    let (token, line) = new_token("ops").unwrap();
    let (name, hex) = line.split_once(" sha256:").unwrap();
    let auth = Authenticator::new(vec![(name.into(), hex.into())], vec!["ops".into()], true);
    let c = auth
        .caller(&request(Some(&format!("Bearer {token}"))))
        .unwrap();
    assert!(c.admin);
    let auth = Authenticator::new(Vec::new(), vec!["uid:0".into()], false);
    assert!(auth.is_admin("uid:0") && !auth.is_admin("uid:1000"));
}

#[test]
fn a_bad_token_file_line_is_named_by_number_not_quoted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tokens");
    std::fs::write(&file, "ci sha256:abc\nsecret-value-here\n").unwrap();
    let e = read_token_file(&file).unwrap_err();
    assert!(e.contains("line 1"), "{e}");
    assert!(!e.contains("abc") && !e.contains("secret-value"), "{e}");
    assert!(new_token("a b").is_err());
}
