//! gob from Packer (exit statuses) and ConfigSpecs.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = packer_sdk::gob::decode_stream(data);
    let _ = packer_sdk::gob::decode_command_finished(data);
    if let Ok(spec) = packer_sdk::spec::gob::decode(data) {
        // whatever decodes must re-encode to the same model
        let again = packer_sdk::spec::gob::encode(&spec, &Default::default());
        assert_eq!(packer_sdk::spec::gob::decode(&again).ok(), Some(spec));
    }
});
