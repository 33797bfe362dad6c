//! Packer's mux broker: numbered side channels over the yamux session.
//!
//! Whoever opens a stream first writes a 4-byte little-endian broker id; the side that accepts it
//! answers with the same 4 bytes. Ids are issued per side (first value 1) and only mean something
//! to their issuer: Packer-issued ids are [`Broker::dial`]ed by us, ids we issue are announced to
//! Packer in an RPC argument and [`Broker::expect`]ed here. Streams whose id nobody claims are
//! dropped after 5 s, as in Go's broker.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::mux::{MuxStream, Session};

/// How long an unclaimed inbound stream is kept, and how long a stream's id may take to arrive.
pub const PARK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long we wait for Packer's ack after dialing one of its ids.
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("timeout waiting for Packer to connect broker stream {0}")]
    AcceptTimeout(u32),
    #[error("broker stream {0}: {1}")]
    Io(u32, String),
    #[error("broker stream {id}: bad ack {got} (expected {id})")]
    BadAck { id: u32, got: u32 },
    #[error("connection to Packer is shut down")]
    Closed,
}

enum Slot {
    Parked(Vec<MuxStream>),
    Waiting(oneshot::Sender<MuxStream>),
}

/// The broker; share it with `Arc`.
pub struct Broker {
    session: Session,
    next: AtomicU32,
    slots: Mutex<HashMap<u32, Slot>>,
}

/// A broker id we issued and are waiting for Packer to connect.
pub struct Incoming {
    id: u32,
    rx: oneshot::Receiver<MuxStream>,
    broker: Arc<Broker>,
}

impl Broker {
    /// Starts the broker over a session; `inbound` is the session's inbound stream queue.
    pub fn start(session: Session, mut inbound: mpsc::UnboundedReceiver<MuxStream>) -> Arc<Broker> {
        let broker = Arc::new(Broker {
            session,
            next: AtomicU32::new(0),
            slots: Mutex::new(HashMap::new()),
        });
        let b = Arc::downgrade(&broker);
        tokio::spawn(async move {
            while let Some(mut s) = inbound.recv().await {
                let b = b.clone();
                tokio::spawn(async move {
                    let mut id = [0u8; 4];
                    match tokio::time::timeout(PARK_TIMEOUT, s.read_exact(&mut id)).await {
                        Ok(Ok(_)) => {
                            if let Some(b) = b.upgrade() {
                                b.deliver(u32::from_le_bytes(id), s);
                            }
                        }
                        _ => tracing::debug!("inbound stream without a broker id; dropped"),
                    }
                });
            }
        });
        broker
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    /// A fresh id of ours (pre-increment, first value 1, like Go's `NextId`).
    pub fn next_id(&self) -> u32 {
        self.next.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Slot>> {
        // a panic while holding the lock cannot leave the map inconsistent; keep going
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn deliver(self: &Arc<Self>, id: u32, stream: MuxStream) {
        let mut slots = self.lock();
        let stream = match slots.remove(&id) {
            Some(Slot::Waiting(tx)) => match tx.send(stream) {
                Ok(()) => return,
                Err(s) => s,
            },
            Some(Slot::Parked(mut v)) => {
                v.push(stream);
                slots.insert(id, Slot::Parked(v));
                return;
            }
            None => stream,
        };
        slots.insert(id, Slot::Parked(vec![stream]));
        drop(slots);
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(PARK_TIMEOUT).await;
            if let Some(b) = me.upgrade() {
                let mut slots = b.lock();
                if let Some(Slot::Parked(_)) = slots.get(&id) {
                    tracing::debug!(id, "unclaimed broker stream dropped");
                    slots.remove(&id);
                }
            }
        });
    }

    /// Registers interest in id `id` before telling Packer about it.
    pub fn expect(self: &Arc<Self>, id: u32) -> Incoming {
        let (tx, rx) = oneshot::channel();
        let mut slots = self.lock();
        match slots.remove(&id) {
            Some(Slot::Parked(mut v)) if !v.is_empty() => {
                let s = v.remove(0);
                if !v.is_empty() {
                    slots.insert(id, Slot::Parked(v));
                }
                let _ = tx.send(s);
            }
            _ => {
                slots.insert(id, Slot::Waiting(tx));
            }
        }
        Incoming {
            id,
            rx,
            broker: self.clone(),
        }
    }

    /// Connects to a Packer-issued id: open, send the id, check the ack.
    pub async fn dial(&self, id: u32) -> Result<MuxStream, BrokerError> {
        let mut s = self.session.open().await.map_err(|_| BrokerError::Closed)?;
        let io = |e: std::io::Error| BrokerError::Io(id, e.to_string());
        s.write_all(&id.to_le_bytes()).await.map_err(io)?;
        s.flush().await.map_err(io)?;
        let mut ack = [0u8; 4];
        match tokio::time::timeout(DIAL_TIMEOUT, s.read_exact(&mut ack)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(io(e)),
            Err(_) => return Err(BrokerError::AcceptTimeout(id)),
        }
        let got = u32::from_le_bytes(ack);
        if got != id {
            return Err(BrokerError::BadAck { id, got });
        }
        Ok(s)
    }
}

impl Incoming {
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Waits up to `timeout` for Packer to connect, then acks and returns the stream.
    pub async fn accept(mut self, timeout: Duration) -> Result<MuxStream, BrokerError> {
        let id = self.id;
        let closed = self.broker.session.clone();
        let got = tokio::select! {
            r = tokio::time::timeout(timeout, &mut self.rx) => r,
            _ = closed.closed() => return Err(BrokerError::Closed),
        };
        let mut s = match got {
            Ok(Ok(s)) => s,
            Ok(Err(_)) => return Err(BrokerError::Closed),
            Err(_) => return Err(BrokerError::AcceptTimeout(id)),
        };
        let io = |e: std::io::Error| BrokerError::Io(id, e.to_string());
        s.write_all(&id.to_le_bytes()).await.map_err(io)?;
        s.flush().await.map_err(io)?;
        Ok(s)
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let mut slots = self.broker.lock();
        // ids are issued once, so a Waiting slot for it can only be ours
        if let Some(Slot::Waiting(_)) = slots.get(&self.id) {
            slots.remove(&self.id);
        }
    }
}
