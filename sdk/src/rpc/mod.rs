//! Go `net/rpc` over MessagePack, as packer-plugin-sdk uses it (`codec.GoRpc` + `MsgpackHandle`).
//!
//! Each direction of a stream carries header, body, header, body ... A request header is
//! `{ServiceMethod, Seq}`, a response header `{ServiceMethod, Seq, Error}`; a failed call has a
//! non-empty `Error` and an empty-map body. [`server`] answers calls concurrently (replies may
//! leave out of order, matched by `Seq`); [`client`] calls Packer's services. Headers are decoded
//! liberally: both key orders, any integer width, `str` or `bin` strings (Packer builds differ).

pub mod client;
pub mod server;
pub mod value;

pub use client::{RpcClient, RpcError};
pub use server::{Handler, Reply, serve};

use serde::Serialize;

/// Encodes a request or response header exactly as Go's codec writes it (a map with the Go
/// field names; `rmp_serde::to_vec_named`, never the array form).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RequestHeader<'a> {
    pub service_method: &'a str,
    pub seq: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResponseHeader<'a> {
    pub service_method: &'a str,
    pub seq: u64,
    pub error: &'a str,
}

/// A decoded header: method, sequence number and (responses only) error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub service_method: String,
    pub seq: u64,
    pub error: String,
}

impl Header {
    /// Reads a header map the way Go would, tolerating either key order and integer encoding.
    pub fn from_value(v: &rmpv::Value) -> Result<Header, String> {
        let rmpv::Value::Map(entries) = v else {
            return Err(format!("rpc header is not a map but {}", value::kind(v)));
        };
        let mut h = Header {
            service_method: String::new(),
            seq: 0,
            error: String::new(),
        };
        let mut have_seq = false;
        for (k, val) in entries {
            match value::as_str(k).as_deref() {
                Some("ServiceMethod") => {
                    h.service_method = value::as_str(val).ok_or("ServiceMethod is not a string")?
                }
                Some("Seq") => {
                    h.seq = value::as_u64(val).ok_or("Seq is not an unsigned integer")?;
                    have_seq = true;
                }
                Some("Error") => h.error = value::as_str(val).unwrap_or_default(),
                _ => {}
            }
        }
        if !have_seq {
            return Err("rpc header without Seq".into());
        }
        Ok(h)
    }
}

/// Encodes `v` as a msgpack body the Go side decodes (structs as maps with their field names).
pub fn encode_body<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec_named(v).map_err(|e| e.to_string())
}

/// The `nil` body (`c0`).
pub const NIL: &[u8] = &[0xc0];
/// The body Go's server sends with an error: an empty struct, i.e. an empty map.
pub const EMPTY_STRUCT: &[u8] = &[0x80];
