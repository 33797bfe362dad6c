//! Property tests over every decoder that reads bytes from Packer: arbitrary input must give a
//! value or an error, never a panic, and never loop. (The same entry points are the `cargo fuzz`
//! targets in `fuzz/`, which search far deeper; these run in every test run.)

use proptest::prelude::*;

fn config_inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        // msgpack-ish prefixes are more interesting than pure noise
        (proptest::collection::vec(any::<u8>(), 0..256), 0x80u8..0xe0).prop_map(|(mut v, m)| {
            v.insert(0, m);
            v
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn msgpack_scan_and_decode(data in config_inputs()) {
        let mut rest = &data[..];
        while let Ok(Some(n)) = packer_sdk::msgpack::scan(rest) {
            prop_assert!(n > 0 && n <= rest.len());
            let mut cur = &rest[..n];
            let v = rmpv::decode::read_value(&mut cur);
            prop_assert!(v.is_ok(), "scan accepted what rmpv rejects: {:x?}", &rest[..n]);
            let _ = packer_sdk::rpc::Header::from_value(&v.unwrap());
            rest = &rest[n..];
        }
    }

    #[test]
    fn gob_streams(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = packer_sdk::gob::decode_stream(&data);
        let _ = packer_sdk::gob::decode_command_finished(&data);
        let _ = packer_sdk::spec::gob::decode(&data);
    }

    #[test]
    fn proto_specs(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(spec) = packer_sdk::spec::proto::decode(&data) {
            let again = packer_sdk::spec::proto::encode(&spec).unwrap();
            prop_assert_eq!(packer_sdk::spec::proto::decode(&again).ok(), Some(spec));
        }
    }
}

#[test]
fn every_prefix_of_a_real_request_is_incomplete_not_an_error() {
    let req = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/prepare-json-166.msgpack"
    ))
    .unwrap();
    let header_len = packer_sdk::msgpack::scan(&req).unwrap().unwrap();
    for cut in 0..header_len {
        assert_eq!(
            packer_sdk::msgpack::scan(&req[..cut]),
            Ok(None),
            "cut {cut}"
        );
    }
    let body = &req[header_len..];
    assert_eq!(packer_sdk::msgpack::scan(body).unwrap(), Some(body.len()));
}

/// Inputs `cargo fuzz` found that once crashed or exhausted memory; each must now be handled.
#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        let _ = packer_sdk::gob::decode_stream(&data);
        let _ = packer_sdk::spec::gob::decode(&data);
        let mut rest = &data[..];
        while let Ok(Some(k)) = packer_sdk::msgpack::scan(rest) {
            let mut cur = &rest[..k];
            if let Ok(v) = rmpv::decode::read_value(&mut cur) {
                // was exponential in the depth of composite map keys
                assert!(packer_sdk::rpc::value::to_json(&v).to_string().len() < 1 << 20);
                let items = match v {
                    rmpv::Value::Array(a) => a,
                    other => vec![other],
                };
                let _ = packer_sdk::config::merge(&items);
            }
            rest = &rest[k..];
        }
        n += 1;
    }
    assert!(n >= 3);
}
