//! The `ConfigSpec` reply: the component's spec in the form this Packer reads (protobuf when
//! started with `--protobuf`, gob otherwise), wrapped as `{ConfigSpec: bin}`.

use std::sync::OnceLock;

use serde::Serialize;

use crate::rpc::encode_body;
use crate::rpc::server::Reply;
use crate::spec::{HclSpec, gob, proto};

/// How this process must encode ConfigSpec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecFormat {
    /// Go gob.
    Gob,
    Protobuf,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConfigSpecReply {
    #[serde(with = "serde_bytes")]
    config_spec: Vec<u8>,
}

/// Encodes the ConfigSpec of `T` for Packer.
pub fn config_spec_reply<T: HclSpec>(format: &SpecFormat) -> Reply {
    let spec = T::object_spec();
    let bytes = match format {
        SpecFormat::Gob => {
            // only nested blocks depend on how this Packer was built; look only if needed
            static NAME: OnceLock<gob::ObjectSpecName> = OnceLock::new();
            let name = if spec.has_blocks() {
                NAME.get_or_init(gob::ObjectSpecName::detect).clone()
            } else {
                gob::ObjectSpecName::default()
            };
            gob::encode(&spec, &name)
        }
        SpecFormat::Protobuf => proto::encode(&spec).map_err(|e| e.to_string())?,
    };
    encode_body(&ConfigSpecReply { config_spec: bytes })
}
