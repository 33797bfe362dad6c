//! Where a run sends its [`Event`]s: a [`Sink`] (an unbounded channel, or nowhere).

pub use amiforge_validator_api::events::Event;

/// Where a run sends its events (dropped silently when nobody listens).
#[derive(Clone)]
pub struct Sink(Option<tokio::sync::mpsc::UnboundedSender<Event>>);

impl Sink {
    pub fn new(tx: tokio::sync::mpsc::UnboundedSender<Event>) -> Sink {
        Sink(Some(tx))
    }

    pub fn none() -> Sink {
        Sink(None)
    }

    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(e);
        }
    }
}
