//! Go `encoding/gob`, the parts Packer's protocol needs.
//!
//! Packer speaks gob in two places: the HCL `ConfigSpec` a plugin returns (when not started with
//! `--protobuf`) and the `CommandFinished{ExitStatus int}` status it writes after a remote command.
//! [`wire`] holds the integer/string primitives, [`decode`] a bounded decoder of whole streams into
//! [`Value`]s (used for exit statuses and to check encoded specs against Go's own bytes), and
//! [`encode`] a writer of type definitions and values in the "all type definitions first" layout that
//! Go's decoder accepts.

pub mod decode;
pub mod encode;
pub mod wire;

pub use decode::{Decoder, GobError, Value, decode_stream};

/// Predefined gob type ids (`encoding/gob/type.go`).
pub mod ids {
    pub const BOOL: i64 = 1;
    pub const INT: i64 = 2;
    pub const UINT: i64 = 3;
    pub const FLOAT: i64 = 4;
    pub const BYTES: i64 = 5;
    pub const STRING: i64 = 6;
    pub const COMPLEX: i64 = 7;
    pub const INTERFACE: i64 = 8;
    /// Go's `firstUserId`: the lowest id a stream may define a type under (decoders accept any
    /// id from here; Go 1.26's encoder hands out 64 first, Go 1.6-era Packer's 65).
    pub const FIRST_USER: i64 = 64;
    /// The first id our encoder assigns: what Packer 1.6.6's Go wrote, so our bytes match its
    /// recorded goldens.
    pub const FIRST_ASSIGNED: i64 = 65;
}

/// Exit status carried by Packer's `CommandFinished` gob message on a `Communicator.Start`
/// response stream. Returns the first value message's `ExitStatus` (0 when the field is absent,
/// as gob omits zero fields).
pub fn decode_command_finished(data: &[u8]) -> Result<i64, GobError> {
    let values = decode_stream(data)?;
    let first = values
        .into_iter()
        .next()
        .ok_or_else(|| GobError::new("no value in the CommandFinished stream"))?;
    match first {
        Value::Struct { fields, .. } => {
            for (name, v) in fields {
                if name == "ExitStatus" {
                    return match v {
                        Value::Int(i) => Ok(i),
                        Value::Uint(u) => {
                            i64::try_from(u).map_err(|_| GobError::new("ExitStatus out of range"))
                        }
                        other => Err(GobError::new(format!(
                            "ExitStatus has unexpected type {}",
                            other.kind()
                        ))),
                    };
                }
            }
            Ok(0)
        }
        other => Err(GobError::new(format!(
            "CommandFinished: expected a struct, got {}",
            other.kind()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Bytes Packer 1.6.6 wrote after `exit 0` and `exit 3` (recorded on the wire).
    const EXIT0: &[u8] = &[
        0x2c, 0xff, 0x81, 0x03, 0x01, 0x01, 0x0f, b'C', b'o', b'm', b'm', b'a', b'n', b'd', b'F',
        b'i', b'n', b'i', b's', b'h', b'e', b'd', 0x01, 0xff, 0x82, 0x00, 0x01, 0x01, 0x01, 0x0a,
        b'E', b'x', b'i', b't', b'S', b't', b'a', b't', b'u', b's', 0x01, 0x04, 0x00, 0x00, 0x00,
        0x03, 0xff, 0x82, 0x00,
    ];

    /// `CommandFinished{3}` as Go 1.26's encoder writes it: the first user type is 64 (`0x7f`
    /// defines it, `0xff 0x80` names it), where Go 1.6-era Packer used 65.
    const GO126_EXIT3: &[u8] = &[
        0x2b, 0x7f, 0x03, 0x01, 0x01, 0x0f, b'C', b'o', b'm', b'm', b'a', b'n', b'd', b'F', b'i',
        b'n', b'i', b's', b'h', b'e', b'd', 0x01, 0xff, 0x80, 0x00, 0x01, 0x01, 0x01, 0x0a, b'E',
        b'x', b'i', b't', b'S', b't', b'a', b't', b'u', b's', 0x01, 0x04, 0x00, 0x00, 0x00, 0x05,
        0xff, 0x80, 0x01, 0x06, 0x00,
    ];

    #[test]
    fn go_1_26_streams_whose_first_type_is_64_decode() {
        assert_eq!(decode_command_finished(GO126_EXIT3).unwrap(), 3);
        // ids below Go's firstUserId stay refused
        let mut reserved = GO126_EXIT3.to_vec();
        reserved[1] = 0x7d; // -63
        assert!(decode_command_finished(&reserved).is_err());
    }

    #[test]
    fn command_finished_zero_and_nonzero() {
        assert_eq!(decode_command_finished(EXIT0).unwrap(), 0);
        let mut three = EXIT0[..EXIT0.len() - 4].to_vec();
        three.extend_from_slice(&[0x05, 0xff, 0x82, 0x01, 0x06, 0x00]);
        assert_eq!(decode_command_finished(&three).unwrap(), 3);
        let mut neg = EXIT0[..EXIT0.len() - 4].to_vec();
        neg.extend_from_slice(&[0x05, 0xff, 0x82, 0x01, 0x01, 0x00]); // zig-zag 1 = -1
        assert_eq!(decode_command_finished(&neg).unwrap(), -1);
    }

    #[test]
    fn command_finished_truncated_is_an_error() {
        for n in 0..EXIT0.len() {
            assert!(
                decode_command_finished(&EXIT0[..n]).is_err(),
                "prefix {n} accepted"
            );
        }
    }
}
