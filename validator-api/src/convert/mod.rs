//! Proto ↔ model: [`request`] (`ValidateRequest` ↔ [`crate::request::Request`], bad fields named
//! by their proto paths) and [`event`] (run events, statuses, verdicts, the final report).

pub mod event;
pub mod request;

pub use event::{event, event_from_proto, final_verdict, status, verdict};
pub use request::{request, to_proto};

/// Bad input as the gRPC status: `INVALID_ARGUMENT`, every problem on its own line.
pub fn invalid(e: &crate::field::FieldErrors) -> tonic::Status {
    tonic::Status::invalid_argument(format!("bad request:\n{e}"))
}
