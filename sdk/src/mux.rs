//! The yamux session with Packer.
//!
//! The plugin is the yamux *server* (even stream ids); Packer is the client. rust-yamux does all
//! socket I/O inside `Connection::poll_next_inbound`, so one driver task owns the connection,
//! hands inbound streams to the [`broker`](crate::broker) and opens outbound streams on request.
//! When Packer closes the socket the driver ends and [`Session::closed`] fires.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::Poll;

use futures::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};
use tokio_util::sync::CancellationToken;

/// A yamux stream with tokio I/O traits.
pub type MuxStream = Compat<yamux::Stream>;

type OpenReply = oneshot::Sender<Result<yamux::Stream, String>>;

enum Command {
    Open(OpenReply),
    Close,
}

/// Handle to the running session; cheap to clone.
#[derive(Clone)]
pub struct Session {
    cmd_tx: mpsc::UnboundedSender<Command>,
    closed: CancellationToken,
}

/// yamux settings matching what HashiCorp's yamux expects from a peer.
pub fn config() -> yamux::Config {
    let mut cfg = yamux::Config::default();
    // Packer's side allows 256 un-accepted streams; keep our own limit above it.
    cfg.set_max_num_streams(1024);
    cfg
}

impl Session {
    /// Starts the driver task over `io` (server mode). Inbound streams arrive on the returned
    /// receiver.
    pub fn start<T>(io: T) -> (Session, mpsc::UnboundedReceiver<MuxStream>)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::start_with_mode(io, yamux::Mode::Server)
    }

    /// Like [`Session::start`] in either role; the client role is what Packer plays (tests use it
    /// to stand in for Packer).
    pub fn start_with_mode<T>(
        io: T,
        mode: yamux::Mode,
    ) -> (Session, mpsc::UnboundedReceiver<MuxStream>)
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let closed = CancellationToken::new();
        let conn = yamux::Connection::new(io, config(), mode);
        let done = closed.clone();
        tokio::spawn(async move {
            match drive(conn, cmd_rx, in_tx).await {
                Ok(()) => tracing::debug!("yamux session closed by Packer"),
                Err(e) => tracing::debug!(error = %e, "yamux session ended"),
            }
            done.cancel();
        });
        (Session { cmd_tx, closed }, in_rx)
    }

    /// Opens an outbound stream (its SYN goes out with the first write).
    pub async fn open(&self) -> Result<MuxStream, String> {
        let (tx, rx) = oneshot::channel();
        self.cmd_tx
            .send(Command::Open(tx))
            .map_err(|_| "connection is shut down".to_string())?;
        let s = rx
            .await
            .map_err(|_| "connection is shut down".to_string())??;
        Ok(s.compat())
    }

    /// Resolves when the connection to Packer is gone.
    pub async fn closed(&self) {
        self.closed.cancelled().await
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Closes the session (GoAway) and waits until it is down.
    pub async fn close(&self) {
        let _ = self.cmd_tx.send(Command::Close);
        self.closed().await
    }
}

async fn drive<T>(
    mut conn: yamux::Connection<T>,
    mut cmd_rx: mpsc::UnboundedReceiver<Command>,
    in_tx: mpsc::UnboundedSender<MuxStream>,
) -> Result<(), yamux::ConnectionError>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let mut waiting: VecDeque<OpenReply> = VecDeque::new();
    let mut closing = false;
    poll_fn(|cx| {
        loop {
            while let Poll::Ready(Some(cmd)) = cmd_rx.poll_recv(cx) {
                match cmd {
                    Command::Open(req) => waiting.push_back(req),
                    Command::Close => closing = true,
                }
            }
            if closing {
                for tx in waiting.drain(..) {
                    let _ = tx.send(Err("connection is shut down".into()));
                }
                return conn.poll_close(cx);
            }
            while !waiting.is_empty() {
                match conn.poll_new_outbound(cx) {
                    Poll::Ready(Ok(s)) => {
                        if let Some(tx) = waiting.pop_front() {
                            // a requester that gave up just drops the stream (RST)
                            let _ = tx.send(Ok(s));
                        }
                    }
                    Poll::Ready(Err(e)) => {
                        for tx in waiting.drain(..) {
                            let _ = tx.send(Err(e.to_string()));
                        }
                        return Poll::Ready(Err(e));
                    }
                    Poll::Pending => break,
                }
            }
            match conn.poll_next_inbound(cx) {
                Poll::Ready(Some(Ok(s))) => {
                    let _ = in_tx.send(s.compat());
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    })
    .await
}
