//! Proto ↔ model: [`request`] (`ValidateRequest` ↔ [`crate::request::Request`], bad fields named
//! by their proto paths) and [`event`] (run events, statuses, verdicts, the final report).

pub mod event;
pub mod request;

pub use event::{event, event_from_proto, final_verdict, status, verdict};
pub use request::{request, to_proto};

/// Problems a status names one by one; the rest are counted (a client drops status messages of
/// a few hundred KiB).
pub const NAMED_PROBLEMS: usize = 20;

/// Bad input as the gRPC status: `INVALID_ARGUMENT`, each problem on its own line (the first
/// [`NAMED_PROBLEMS`], then how many more).
pub fn invalid(e: &crate::field::FieldErrors) -> tonic::Status {
    let lines = e.lines();
    let mut text = lines
        .iter()
        .take(NAMED_PROBLEMS)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n");
    if lines.len() > NAMED_PROBLEMS {
        text.push_str(&format!(
            "\n… and {} more problems",
            lines.len() - NAMED_PROBLEMS
        ));
    }
    tonic::Status::invalid_argument(format!("bad request:\n{text}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::{FieldErrors, Path};

    #[test]
    fn a_long_list_of_problems_is_cut_and_counted() {
        let mut e = FieldErrors::new();
        for i in 0..10_000 {
            e.push(Path::fields(&["targets"]).index(i), "listed twice");
        }
        let s = invalid(&e);
        assert!(
            s.message().lines().count() <= NAMED_PROBLEMS + 2,
            "{}",
            s.message()
        );
        assert!(s.message().ends_with("… and 9980 more problems"));
        assert!(s.message().len() < 2_000);
    }
}
