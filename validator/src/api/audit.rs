//! One structured line per call (target `amiforge_validator::audit`, level INFO, on by default
//! for `serve`): who called (caller and peer address), what (method, run id, how many AMIs),
//! how it ended (the verdict, or the gRPC status) and how long it took. Refused calls are
//! logged too, with the caller when it is known.

use std::time::Instant;

use super::auth::Caller;

/// The log target of audit lines.
pub const TARGET: &str = "amiforge_validator::audit";

/// A call being audited.
#[derive(Debug)]
pub struct Call {
    method: &'static str,
    caller: String,
    peer: String,
    started: Instant,
}

impl Call {
    pub fn start(method: &'static str, caller: &Caller) -> Call {
        Call {
            method,
            caller: caller.name.clone(),
            peer: caller.peer.clone(),
            started: Instant::now(),
        }
    }

    /// A call refused before its caller was known.
    pub fn anonymous(method: &'static str) -> Call {
        Call {
            method,
            caller: "-".into(),
            peer: "-".into(),
            started: Instant::now(),
        }
    }

    /// Writes the call's line.
    pub fn done(&self, outcome: &str, run_id: &str, targets: usize) {
        tracing::info!(
            target: TARGET,
            caller = %self.caller,
            peer = %self.peer,
            method = %self.method,
            run_id = %if run_id.is_empty() { "-" } else { run_id },
            targets,
            outcome = %outcome,
            duration_ms = self.started.elapsed().as_millis() as u64,
            "call"
        );
    }

    /// Writes the line of a call refused with `status`.
    pub fn refused(&self, status: &tonic::Status, run_id: &str, targets: usize) {
        let code = format!("{:?}", status.code());
        self.done(&code, run_id, targets);
    }
}
