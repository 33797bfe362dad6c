//! ConfigSpec and exit-status gob bytes checked against what real Go code produced
//! (files in tests/data, recorded from Packer 1.6.6 and Go's `encoding/gob`).

use packer_sdk::gob::decode_command_finished;
use packer_sdk::spec::gob::{self, OBJECT_SPEC_DEBIAN, ObjectSpecName};
use packer_sdk::spec::{AttrSpec, CtyType, ObjectSpec, Spec};

fn data(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn attr(spec: &ObjectSpec, name: &str) -> AttrSpec {
    match spec.get(name) {
        Some(Spec::Attr(a)) => a.clone(),
        other => panic!("{name}: {other:?}"),
    }
}

/// Re-encoding a decoded spec and decoding it again gives the same model.
fn roundtrip(spec: &ObjectSpec, name: &ObjectSpecName) {
    let ours = gob::encode(spec, name);
    assert_eq!(&gob::decode(&ours).expect("our bytes decode"), spec);
}

#[test]
fn minimal_spec_is_byte_identical_to_the_verified_golden() {
    let mut s = ObjectSpec::new();
    s.insert(Spec::Attr(AttrSpec {
        name: "greeting".into(),
        ty: CtyType::String,
        required: true,
    }));
    let want = data("min-greeting-typedefs-first.gob");
    assert_eq!(want.len(), 286);
    assert_eq!(gob::encode(&s, &ObjectSpecName::default()), want);
}

#[test]
fn go_encoder_spec_decodes_and_roundtrips() {
    // Written by Go's own encoder (type definitions interleaved with the value).
    let spec = gob::decode(&data("full-spec-go-encoder.gob")).expect("decode Go's spec");
    let names: Vec<&str> = spec.0.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["flag", "inner", "items", "list", "num", "str", "tags"]
    );
    assert_eq!(attr(&spec, "str").ty, CtyType::String);
    assert!(attr(&spec, "str").required);
    assert_eq!(attr(&spec, "num").ty, CtyType::Number);
    assert_eq!(attr(&spec, "flag").ty, CtyType::Bool);
    assert_eq!(attr(&spec, "list").ty, CtyType::list(CtyType::String));
    assert_eq!(attr(&spec, "tags").ty, CtyType::map(CtyType::String));
    assert!(matches!(spec.get("inner"), Some(Spec::Block(_))));
    assert!(matches!(spec.get("items"), Some(Spec::BlockList(_))));
    roundtrip(&spec, &ObjectSpecName::default());
}

#[test]
fn real_shell_provisioner_spec_from_packer_166() {
    let spec = gob::decode(&data("shell-provisioner-configspec-166debian.gob")).expect("decode");
    assert_eq!(spec.0.len(), 25);
    assert_eq!(attr(&spec, "inline").ty, CtyType::list(CtyType::String));
    assert_eq!(
        attr(&spec, "valid_exit_codes").ty,
        CtyType::list(CtyType::Number)
    );
    assert_eq!(attr(&spec, "expect_disconnect").ty, CtyType::Bool);
    assert_eq!(
        attr(&spec, "packer_user_variables").ty,
        CtyType::map(CtyType::String)
    );
    roundtrip(&spec, &ObjectSpecName::default());
}

#[test]
fn real_amazon_ebs_spec_with_nested_blocks_from_debian_packer() {
    let bytes = data("amazon-ebs-configspec-166debian.gob");
    let spec = gob::decode(&bytes).expect("decode");
    assert!(spec.0.len() > 80, "{} entries", spec.0.len());
    assert!(spec.has_blocks());
    assert!(matches!(
        spec.get("launch_block_device_mappings"),
        Some(Spec::BlockList(_))
    ));
    // the Debian build registers hcldec.ObjectSpec under its vendored path
    let needle = OBJECT_SPEC_DEBIAN.as_bytes();
    assert!(bytes.windows(needle.len()).any(|w| w == needle));
    let debian = ObjectSpecName(OBJECT_SPEC_DEBIAN.into());
    roundtrip(&spec, &debian);
    let ours = gob::encode(&spec, &debian);
    assert!(ours.windows(needle.len()).any(|w| w == needle));
}

#[test]
fn corrupting_any_byte_of_a_real_spec_never_panics() {
    let good = data("shell-provisioner-configspec-166debian.gob");
    for i in (0..good.len()).step_by(7) {
        let mut b = good.clone();
        b[i] ^= 0xa5;
        let _ = gob::decode(&b);
        let _ = gob::decode(&good[..i]);
    }
}

#[test]
fn exit_statuses_recorded_from_packer() {
    assert_eq!(
        decode_command_finished(&data("commandfinished-0.gob")).unwrap(),
        0
    );
    assert_eq!(
        decode_command_finished(&data("commandfinished-1.gob")).unwrap(),
        1
    );
}
