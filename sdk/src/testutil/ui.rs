//! [`RecordingUi`]: Packer's `Ui` service as the fake Packer serves it. It records every call as
//! `(method, text)` and answers `Ask` with a fixed answer.

use std::sync::Mutex;

use crate::rpc::server::{Handler, Reply};
use crate::rpc::value::{as_array, as_str, get};
use crate::rpc::{NIL, encode_body};

/// Packer's `Ui`, recording what a component shows.
#[derive(Default)]
pub struct RecordingUi {
    calls: Mutex<Vec<(String, String)>>,
    answer: String,
}

impl RecordingUi {
    /// A Ui whose `Ask` answers the empty string.
    pub fn new() -> Self {
        Self::default()
    }

    /// A Ui whose `Ask` answers `answer`.
    pub fn answering(answer: impl Into<String>) -> Self {
        RecordingUi {
            answer: answer.into(),
            ..Self::default()
        }
    }

    /// Every call so far as `(method, text)`, e.g. `("Say", "waiting")`; `Machine` calls read
    /// `category|arg,arg`.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.lock().clone()
    }

    /// The texts alone, in order.
    pub fn texts(&self) -> Vec<String> {
        self.lock().iter().map(|(_, t)| t.clone()).collect()
    }

    /// Every call as a `Method: text` line, joined by newlines (for assertion messages and
    /// `contains` checks).
    pub fn transcript(&self) -> String {
        self.lock()
            .iter()
            .map(|(m, t)| format!("{m}: {t}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, String)>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `Ui` service: `Say`, `Message`, `Error`, `Ask` take a string; `Machine` Go's
    /// `MachineArgs{Category string; Args []string}`.
    pub async fn handle(&self, method: &str, body: &rmpv::Value) -> Reply {
        let text = match method {
            "Machine" => {
                let category = get(body, "Category").and_then(as_str).unwrap_or_default();
                let args: Vec<String> = get(body, "Args")
                    .and_then(as_array)
                    .map(|a| a.iter().filter_map(as_str).collect())
                    .unwrap_or_default();
                format!("{category}|{}", args.join(","))
            }
            _ => as_str(body).ok_or("Ui: the argument must be a string")?,
        };
        self.lock().push((method.to_string(), text));
        if method == "Ask" {
            return encode_body(&self.answer);
        }
        Ok(NIL.to_vec())
    }
}

#[async_trait::async_trait]
impl Handler for RecordingUi {
    fn services(&self) -> &'static [&'static str] {
        &["Ui"]
    }

    async fn call(&self, _service: &str, method: &str, body: rmpv::Value) -> Reply {
        self.handle(method, &body).await
    }
}
