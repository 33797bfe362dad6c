//! Protobuf ConfigSpecs (what the SDK's FromProto would accept).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = packer_sdk::spec::proto::decode(data) {
        let again = packer_sdk::spec::proto::encode(&spec).expect("decoded specs re-encode");
        assert_eq!(packer_sdk::spec::proto::decode(&again).ok(), Some(spec));
    }
});
