//! Bytes from Packer on an RPC stream: framing, decoding, header parsing.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    while let Ok(Some(n)) = packer_sdk::msgpack::scan(rest) {
        assert!(n <= rest.len());
        let mut cur = &rest[..n];
        if let Ok(v) = rmpv::decode::read_value(&mut cur) {
            let _ = packer_sdk::rpc::Header::from_value(&v);
            let _ = packer_sdk::rpc::value::to_json(&v);
        }
        rest = &rest[n..];
        if n == 0 {
            break;
        }
    }
});
