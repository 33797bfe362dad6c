use super::*;
use crate::HclSpec;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize, HclSpec, PartialEq)]
struct Cfg {
    /// Commands.
    inline: Vec<String>,
    count: Option<u32>,
    #[serde(default)]
    verbose: bool,
    tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "type_name")]
    kind: Option<String>,
}

fn map(pairs: &[(&str, rmpv::Value)]) -> rmpv::Value {
    rmpv::Value::Map(
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect(),
    )
}

#[test]
fn spec_from_derive() {
    let s = Cfg::object_spec();
    let names: Vec<&str> = s.0.keys().map(String::as_str).collect();
    assert_eq!(names, ["count", "inline", "tags", "type_name", "verbose"]);
    match s.get("inline") {
        Some(crate::spec::Spec::Attr(a)) => {
            assert!(a.required);
            assert_eq!(
                a.ty,
                crate::spec::CtyType::list(crate::spec::CtyType::String)
            );
        }
        other => panic!("{other:?}"),
    }
    match s.get("verbose") {
        Some(crate::spec::Spec::Attr(a)) => assert!(!a.required),
        other => panic!("{other:?}"),
    }
    assert_eq!(Cfg::field_docs()[0].doc, "Commands.");
}

#[test]
fn json_template_floats_and_placeholders() {
    let configs = vec![
        map(&[
            ("inline", rmpv::Value::Array(vec!["echo hi".into()])),
            ("count", rmpv::Value::F64(3.0)),
            ("verbose", "true".into()),
        ]),
        map(&[
            ("packer_build_name", "null".into()),
            ("packer_debug", false.into()),
            ("packer_user_variables", map(&[("x", "y".into())])),
        ]),
        map(&[
            (
                "PackerRunUUID",
                "Build_PackerRunUUID. To set this dynamically…".into(),
            ),
            ("ID", "Build_ID".into()),
        ]),
    ];
    let d = decode::<Cfg>(&configs).unwrap();
    assert_eq!(d.config.inline, vec!["echo hi"]);
    assert_eq!(d.config.count, Some(3));
    assert!(d.config.verbose);
    assert_eq!(d.packer.build_name, "null");
    assert_eq!(
        d.packer.user_variables.get("x").map(String::as_str),
        Some("y")
    );
}

#[test]
fn hcl2_cty_json_with_nulls() {
    let cty = br#"{"value":{"inline":["a","b"],"count":null,"verbose":null,"tags":{"k":"v"},"type_name":null},
                  "type":["object",{"inline":["list","string"],"count":"number","verbose":"bool","tags":["map","string"],"type_name":"string"}]}"#;
    let configs = vec![
        map(&[
            ("packer_build_name", "b".into()),
            ("packer_debug", "true".into()),
        ]),
        rmpv::Value::Binary(cty.to_vec()),
        rmpv::Value::Nil,
    ];
    let d = decode::<Cfg>(&configs).unwrap();
    assert_eq!(d.config.inline, vec!["a", "b"]);
    assert_eq!(d.config.count, None);
    assert!(d.packer.debug, "modern Packer sends bools as strings");
    assert_eq!(d.config.tags.unwrap()["k"], "v");
}

#[test]
fn errors_name_the_field() {
    let configs = vec![map(&[
        ("inlin", rmpv::Value::Array(vec!["x".into()])),
        ("count", "many".into()),
    ])];
    let e = decode::<Cfg>(&configs).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("inlin: unknown attribute; did you mean `inline`?"),
        "{text}"
    );
    assert!(
        text.contains("count: expected number, got string \"many\""),
        "{text}"
    );
    assert!(
        text.contains("inline: required attribute is missing; add `inline = <list(string)>`"),
        "{text}"
    );
}

#[test]
fn nested_type_errors_carry_the_path() {
    let configs = vec![map(&[
        (
            "inline",
            rmpv::Value::Array(vec!["ok".into(), rmpv::Value::Map(vec![])]),
        ),
        ("tags", map(&[("k", rmpv::Value::Array(vec![]))])),
    ])];
    let text = decode::<Cfg>(&configs).unwrap_err().to_string();
    assert!(
        text.contains("inline[1]: expected string, got a map/object"),
        "{text}"
    );
    assert!(
        text.contains("tags[\"k\"]: expected string, got a list of 0"),
        "{text}"
    );
}

#[test]
fn out_of_range_number_is_reported_by_serde_with_path() {
    let configs = vec![map(&[
        ("inline", rmpv::Value::Array(vec![])),
        ("count", rmpv::Value::from(-5)),
    ])];
    let text = decode::<Cfg>(&configs).unwrap_err().to_string();
    assert!(text.starts_with("count:"), "{text}");
}

#[test]
fn bad_cty_blob_is_an_error_not_a_panic() {
    let e = decode::<Cfg>(&[rmpv::Value::Binary(b"{not json".to_vec())]).unwrap_err();
    assert!(e.to_string().contains("cannot read Packer's HCL value"));
}

/// Settings shared by several components, flattened into one of them.
#[derive(Debug, Deserialize, HclSpec, PartialEq)]
struct Shared {
    /// How long.
    #[serde(default, with = "humantime_serde")]
    timeout: Option<std::time::Duration>,
    #[serde(default)]
    retries: u32,
    /// Read from JSON elsewhere, never from HCL.
    #[hcl(skip)]
    #[serde(default)]
    internal: Option<String>,
}

#[derive(Debug, Deserialize, HclSpec, PartialEq)]
struct WithShared {
    /// Own.
    name: String,
    #[serde(flatten)]
    shared: Shared,
}

#[test]
fn flattened_settings_sit_beside_the_own_attributes() {
    let s = WithShared::object_spec();
    let names: Vec<&str> = s.0.keys().map(String::as_str).collect();
    assert_eq!(names, ["name", "retries", "timeout"]);
    let docs: Vec<&str> = WithShared::field_docs().iter().map(|d| d.name).collect();
    assert_eq!(docs, ["name", "timeout", "retries"]);
    let d: Decoded<WithShared> = decode(&[map(&[
        ("name", "a".into()),
        ("timeout", "90s".into()),
        ("retries", "3".into()),
    ])])
    .unwrap();
    assert_eq!(
        d.config.shared.timeout,
        Some(std::time::Duration::from_secs(90))
    );
    assert_eq!(d.config.shared.retries, 3);
    // HCL cannot set a skipped field
    let e = decode::<WithShared>(&[map(&[("name", "a".into()), ("internal", "x".into())])])
        .unwrap_err();
    assert_eq!(e.0[0].field, "internal");
    // a value serde refuses inside the flattened struct is still named by its attribute
    let e = decode::<WithShared>(&[map(&[("name", "a".into()), ("timeout", "soon".into())])])
        .unwrap_err();
    assert_eq!(e.0[0].field, "timeout", "{e}");
}
