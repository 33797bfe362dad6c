//! The `Configs` of Prepare/Configure: msgpack maps and cty JSON blobs into a typed config.
#![no_main]
use libfuzzer_sys::fuzz_target;
use packer_sdk::HclSpec;
use std::collections::BTreeMap;

#[derive(serde::Deserialize, HclSpec)]
#[allow(dead_code)]
struct Cfg {
    name: String,
    count: Option<u32>,
    ratio: Option<f64>,
    flag: Option<bool>,
    items: Option<Vec<String>>,
    tags: Option<BTreeMap<String, String>>,
    nested: Option<Vec<Vec<i64>>>,
}

fuzz_target!(|data: &[u8]| {
    let mut cur = data;
    let Ok(v) = rmpv::decode::read_value(&mut cur) else {
        return;
    };
    let items = match v {
        rmpv::Value::Array(a) => a,
        other => vec![other],
    };
    let _ = packer_sdk::config::decode::<Cfg>(&items);
    // the same bytes as a cty JSON blob
    let _ = packer_sdk::config::decode::<Cfg>(&[rmpv::Value::Binary(data.to_vec())]);
});
