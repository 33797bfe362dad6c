//! Packer's `Communicator` (SSH/WinRM to the machine being built), called back by a provisioner.
//!
//! Data never travels inside RPC messages: for every command, upload or download we issue broker
//! ids, wait for Packer to connect them, and move raw bytes over those streams while the RPC call
//! runs. A command's output is delivered as it arrives; its exit status comes back as a gob
//! `CommandFinished` on its own stream after the command ended.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::broker::{Broker, BrokerError, Incoming};
use crate::gob::decode_command_finished;
use crate::mux::MuxStream;
use crate::rpc::{RpcClient, RpcError};
use crate::ui::Ui;

/// How long Packer may take to connect the streams of a call (it dials them first thing).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long output may still trickle in after the exit status arrived.
const OUTPUT_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum CommError {
    #[error("{op}: {source}")]
    Rpc {
        op: &'static str,
        #[source]
        source: RpcError,
    },
    #[error("{op}: {source}")]
    Broker {
        op: &'static str,
        #[source]
        source: BrokerError,
    },
    #[error("{op}: {msg}")]
    Io { op: &'static str, msg: String },
    #[error("remote command: cannot read its exit status: {0}")]
    Status(String),
}

/// One chunk of a running command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// A command started on the remote machine.
pub struct RemoteProcess {
    output: mpsc::Receiver<Output>,
    status: Option<JoinHandle<Result<i64, CommError>>>,
    exit: Option<Result<i64, CommError>>,
    /// Set once the exit status is known: output still arriving after it is cut off here, so a
    /// background process that keeps the session's stdout open cannot hang the build.
    deadline: Option<tokio::time::Instant>,
    readers: Vec<JoinHandle<()>>,
}

enum Event {
    Output(Option<Output>),
    Exited(Result<i64, CommError>),
}

impl RemoteProcess {
    /// The next output chunk in arrival order; `None` once both streams are closed (or
    /// [`OUTPUT_GRACE`] after the command exited).
    pub async fn next_output(&mut self) -> Option<Output> {
        loop {
            if let Some(d) = self.deadline {
                return tokio::time::timeout_at(d, self.output.recv())
                    .await
                    .ok()
                    .flatten();
            }
            let ev = match self.status.as_mut() {
                None => return self.output.recv().await,
                Some(h) => tokio::select! {
                    c = self.output.recv() => Event::Output(c),
                    r = h => Event::Exited(r.unwrap_or_else(|e| Err(CommError::Status(e.to_string())))),
                },
            };
            match ev {
                Event::Output(c) => return c,
                Event::Exited(r) => {
                    self.status = None;
                    self.exit = Some(r);
                    self.deadline = Some(tokio::time::Instant::now() + OUTPUT_GRACE);
                }
            }
        }
    }

    /// Waits for the exit status.
    pub async fn wait(mut self) -> Result<i64, CommError> {
        if self.exit.is_none()
            && let Some(h) = self.status.take()
        {
            self.exit = Some(
                h.await
                    .unwrap_or_else(|e| Err(CommError::Status(e.to_string()))),
            );
        }
        self.exit
            .take()
            .unwrap_or_else(|| Err(CommError::Status("no exit status".into())))
    }
}

impl Drop for RemoteProcess {
    fn drop(&mut self) {
        if let Some(h) = &self.status {
            h.abort();
        }
        for r in &self.readers {
            r.abort();
        }
    }
}

/// The stdin of a command started with [`Communicator::start_with_stdin`]. Close it (or send
/// the last bytes with [`Stdin::finish`]) so the command sees end of input.
pub struct Stdin {
    stream: JoinHandle<Result<MuxStream, CommError>>,
}

impl Stdin {
    /// Writes `data`, then closes stdin.
    pub async fn finish(self, data: &[u8]) -> Result<(), CommError> {
        let io = |e: std::io::Error| CommError::Io {
            op: "Communicator.Start",
            msg: format!("stdin: {e}"),
        };
        let mut s = match self.stream.await {
            Ok(r) => r?,
            Err(e) => return Err(CommError::Status(e.to_string())),
        };
        s.write_all(data).await.map_err(io)?;
        s.shutdown().await.map_err(io)
    }
}

/// Metadata Packer's SSH uploader uses to skip spooling (size) and set permissions (mode).
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    #[serde(rename = "N")]
    pub name: String,
    #[serde(rename = "S")]
    pub size: i64,
    /// Go `os.FileMode`: permission bits (directories would add 1<<31).
    #[serde(rename = "M")]
    pub mode: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StartArgs<'a> {
    command: &'a str,
    stdin_stream_id: u32,
    stdout_stream_id: u32,
    stderr_stream_id: u32,
    response_stream_id: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UploadArgs<'a> {
    path: &'a str,
    reader_stream_id: u32,
    file_info: Option<FileInfo>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DownloadArgs<'a> {
    path: &'a str,
    writer_stream_id: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DirArgs<'a> {
    dst: &'a str,
    src: &'a str,
    exclude: Vec<String>,
}

/// The communicator of the build running this provisioner.
#[derive(Clone)]
pub struct Communicator {
    rpc: RpcClient,
    broker: Arc<Broker>,
}

impl Communicator {
    pub fn new(rpc: RpcClient, broker: Arc<Broker>) -> Self {
        Communicator { rpc, broker }
    }

    fn issue(&self) -> Incoming {
        self.broker.expect(self.broker.next_id())
    }

    /// Starts `command`; output arrives on the returned process as it is produced. Its stdin is
    /// empty.
    pub async fn start(&self, command: &str) -> Result<RemoteProcess, CommError> {
        Ok(self.start_inner(command, false).await?.0)
    }

    /// Starts `command` with a stdin the caller writes to (and must close) while it runs.
    pub async fn start_with_stdin(
        &self,
        command: &str,
    ) -> Result<(RemoteProcess, Stdin), CommError> {
        let (p, stdin) = self.start_inner(command, true).await?;
        let stdin = stdin.ok_or_else(|| CommError::Status("no stdin stream".into()))?;
        Ok((p, stdin))
    }

    async fn start_inner(
        &self,
        command: &str,
        with_stdin: bool,
    ) -> Result<(RemoteProcess, Option<Stdin>), CommError> {
        let (out, err, resp) = (self.issue(), self.issue(), self.issue());
        let stdin = with_stdin.then(|| {
            let inc = self.issue();
            let id = inc.id();
            let task = tokio::spawn(async move {
                inc.accept(CONNECT_TIMEOUT)
                    .await
                    .map_err(|source| CommError::Broker {
                        op: "Communicator.Start",
                        source,
                    })
            });
            (id, Stdin { stream: task })
        });
        let args = StartArgs {
            command,
            stdin_stream_id: stdin.as_ref().map_or(0, |(id, _)| *id),
            stdout_stream_id: out.id(),
            stderr_stream_id: err.id(),
            response_stream_id: resp.id(),
        };
        let (tx, rx) = mpsc::channel(64);
        let readers = vec![
            spawn_output(out, tx.clone(), Output::Stdout),
            spawn_output(err, tx, Output::Stderr),
        ];
        let status = tokio::spawn(async move {
            let mut s = resp
                .accept(CONNECT_TIMEOUT)
                .await
                .map_err(|source| CommError::Broker {
                    op: "Communicator.Start",
                    source,
                })?;
            let mut buf = Vec::new();
            // the status is a few dozen bytes; anything longer is not Packer's
            (&mut s)
                .take(64 * 1024)
                .read_to_end(&mut buf)
                .await
                .map_err(|e| CommError::Status(e.to_string()))?;
            decode_command_finished(&buf).map_err(|e| CommError::Status(e.to_string()))
        });
        let proc = RemoteProcess {
            output: rx,
            status: Some(status),
            exit: None,
            deadline: None,
            readers,
        };
        self.rpc
            .call("Communicator.Start", &args)
            .await
            .map_err(|source| CommError::Rpc {
                op: "Communicator.Start",
                source,
            })?;
        Ok((proc, stdin.map(|(_, s)| s)))
    }

    /// Runs `command`, showing stdout lines as UI messages and stderr lines as UI errors while
    /// it runs; returns the exit status.
    pub async fn run_in_ui(&self, command: &str, ui: &Ui) -> Result<i64, CommError> {
        let mut p = self.start(command).await?;
        let mut lines = LineSplitter::default();
        while let Some(chunk) = p.next_output().await {
            for (is_err, line) in lines.push(chunk) {
                let r = if is_err {
                    ui.error(&line).await
                } else {
                    ui.message(&line).await
                };
                r.map_err(|source| CommError::Rpc { op: "Ui", source })?;
            }
        }
        for (is_err, line) in lines.finish() {
            let r = if is_err {
                ui.error(&line).await
            } else {
                ui.message(&line).await
            };
            r.map_err(|source| CommError::Rpc { op: "Ui", source })?;
        }
        p.wait().await
    }

    /// Runs `command` and collects its output: `(exit status, stdout, stderr)`.
    pub async fn run_capture(&self, command: &str) -> Result<(i64, Vec<u8>, Vec<u8>), CommError> {
        let mut p = self.start(command).await?;
        let (mut out, mut err) = (Vec::new(), Vec::new());
        while let Some(chunk) = p.next_output().await {
            match chunk {
                Output::Stdout(b) => out.extend_from_slice(&b),
                Output::Stderr(b) => err.extend_from_slice(&b),
            }
        }
        Ok((p.wait().await?, out, err))
    }

    /// Uploads everything `src` yields to remote path `dst`; returns the bytes sent.
    pub async fn upload<R>(
        &self,
        dst: &str,
        mut src: R,
        info: Option<FileInfo>,
    ) -> Result<u64, CommError>
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        const OP: &str = "Communicator.Upload";
        let inc = self.issue();
        let args = UploadArgs {
            path: dst,
            reader_stream_id: inc.id(),
            file_info: info,
        };
        self.transfer(OP, inc, &args, |mut s| async move {
            let n = tokio::io::copy(&mut src, &mut s).await?;
            s.shutdown().await?;
            Ok(n)
        })
        .await
    }

    /// Uploads local file `local` to `dst`, keeping its permission bits.
    pub async fn upload_file(&self, dst: &str, local: &Path) -> Result<u64, CommError> {
        let io = |e: std::io::Error| CommError::Io {
            op: "Communicator.Upload",
            msg: format!("{}: {e}", local.display()),
        };
        let f = tokio::fs::File::open(local).await.map_err(io)?;
        let meta = f.metadata().await.map_err(io)?;
        use std::os::unix::fs::PermissionsExt;
        let info = FileInfo {
            name: local
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
            mode: meta.permissions().mode() & 0o7777,
        };
        self.upload(dst, f, Some(info)).await
    }

    /// Uploads `data` as file `dst` with permission bits `mode`.
    pub async fn upload_bytes(
        &self,
        dst: &str,
        data: Vec<u8>,
        mode: u32,
    ) -> Result<u64, CommError> {
        let info = FileInfo {
            name: dst.rsplit('/').next().unwrap_or(dst).to_string(),
            size: data.len() as i64,
            mode,
        };
        self.upload(dst, std::io::Cursor::new(data), Some(info))
            .await
    }

    /// Downloads remote file `src` into `dst`; returns the bytes received.
    pub async fn download<W>(&self, src: &str, mut dst: W) -> Result<u64, CommError>
    where
        W: AsyncWrite + Unpin + Send + 'static,
    {
        const OP: &str = "Communicator.Download";
        let inc = self.issue();
        let args = DownloadArgs {
            path: src,
            writer_stream_id: inc.id(),
        };
        self.transfer(OP, inc, &args, |mut s| async move {
            let n = tokio::io::copy(&mut s, &mut dst).await?;
            dst.flush().await?;
            Ok(n)
        })
        .await
    }

    /// Calls `op` with `args` (which name broker stream `inc`) while `move_data` runs on that
    /// stream once Packer connects it; a failed call aborts the data task. Returns the bytes moved.
    async fn transfer<A, F, Fut>(
        &self,
        op: &'static str,
        inc: Incoming,
        args: &A,
        move_data: F,
    ) -> Result<u64, CommError>
    where
        A: Serialize,
        F: FnOnce(MuxStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = std::io::Result<u64>> + Send,
    {
        let task = tokio::spawn(async move {
            let s = inc
                .accept(CONNECT_TIMEOUT)
                .await
                .map_err(|source| CommError::Broker { op, source })?;
            move_data(s).await.map_err(|e| CommError::Io {
                op,
                msg: e.to_string(),
            })
        });
        if let Err(source) = self.rpc.call(op, args).await {
            task.abort();
            return Err(CommError::Rpc { op, source });
        }
        task.await.unwrap_or_else(|e| {
            Err(CommError::Io {
                op,
                msg: e.to_string(),
            })
        })
    }

    /// Downloads remote file `src` into memory.
    pub async fn download_bytes(&self, src: &str) -> Result<Vec<u8>, CommError> {
        let (w, mut r) = tokio::io::duplex(256 * 1024);
        let collect = tokio::spawn(async move {
            let mut v = Vec::new();
            r.read_to_end(&mut v).await.map(|_| v)
        });
        self.download(src, w).await?;
        collect
            .await
            .map_err(|e| CommError::Io {
                op: "Communicator.Download",
                msg: e.to_string(),
            })?
            .map_err(|e| CommError::Io {
                op: "Communicator.Download",
                msg: e.to_string(),
            })
    }

    /// Uploads local directory `src` (a path on the Packer host) to remote `dst`; Packer does
    /// the copying. As with Packer's `file` provisioner, a trailing `/` on `src` uploads its
    /// contents rather than the directory itself.
    pub async fn upload_dir(
        &self,
        dst: &str,
        src: &str,
        exclude: &[String],
    ) -> Result<(), CommError> {
        self.dir_call("Communicator.UploadDir", dst, src, exclude)
            .await
    }

    /// Downloads remote directory `src` into local `dst` (on the Packer host); it lands as
    /// `dst/<name of src>`.
    pub async fn download_dir(
        &self,
        src: &str,
        dst: &str,
        exclude: &[String],
    ) -> Result<(), CommError> {
        self.dir_call("Communicator.DownloadDir", dst, src, exclude)
            .await
    }

    async fn dir_call(
        &self,
        op: &'static str,
        dst: &str,
        src: &str,
        exclude: &[String],
    ) -> Result<(), CommError> {
        let args = DirArgs {
            dst,
            src,
            exclude: exclude.to_vec(),
        };
        self.rpc
            .call(op, &args)
            .await
            .map(drop)
            .map_err(|source| CommError::Rpc { op, source })
    }
}

fn spawn_output(
    inc: Incoming,
    tx: mpsc::Sender<Output>,
    wrap: fn(Bytes) -> Output,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(mut s) = inc.accept(CONNECT_TIMEOUT).await else {
            return;
        };
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx
                        .send(wrap(Bytes::copy_from_slice(&buf[..n])))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    })
}

/// Splits interleaved output chunks into lines per stream (`(is_stderr, line)`).
#[derive(Default)]
pub struct LineSplitter {
    out: Vec<u8>,
    err: Vec<u8>,
}

impl LineSplitter {
    /// Adds a chunk; returns the lines it completed.
    pub fn push(&mut self, chunk: Output) -> Vec<(bool, String)> {
        let (is_err, buf, data) = match chunk {
            Output::Stdout(b) => (false, &mut self.out, b),
            Output::Stderr(b) => (true, &mut self.err, b),
        };
        buf.extend_from_slice(&data);
        let mut lines = Vec::new();
        while let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]);
            lines.push((is_err, text.trim_end_matches('\r').to_string()));
        }
        lines
    }

    /// Whatever is left without a final newline.
    pub fn finish(&mut self) -> Vec<(bool, String)> {
        let mut lines = Vec::new();
        for (is_err, buf) in [(false, &mut self.out), (true, &mut self.err)] {
            if !buf.is_empty() {
                lines.push((is_err, String::from_utf8_lossy(buf).into_owned()));
                buf.clear();
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks() {
        let mut s = LineSplitter::default();
        assert!(
            s.push(Output::Stdout(Bytes::from_static(b"hel")))
                .is_empty()
        );
        assert_eq!(
            s.push(Output::Stdout(Bytes::from_static(b"lo\r\nwor"))),
            vec![(false, "hello".to_string())]
        );
        assert_eq!(
            s.push(Output::Stderr(Bytes::from_static(b"oops\n"))),
            vec![(true, "oops".to_string())]
        );
        assert_eq!(s.finish(), vec![(false, "wor".to_string())]);
    }
}
