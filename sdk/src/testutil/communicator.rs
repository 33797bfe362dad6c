//! [`RecordingCommunicator`]: Packer's `Communicator` service as the fake Packer serves it,
//! backed by a [`Target`] that plays the machine. Every `Upload` and `Start` is recorded as a
//! [`Call`] in arrival order; a started command's output, stdin and exit status travel on the
//! broker streams the component issued, exactly as with Packer (stdout, stderr, then the gob
//! `CommandFinished` on the response stream, see [`command_finished`]).
//!
//! [`Scripted`] is a ready [`Target`] for machines whose answers depend only on the command;
//! tests that need to react to uploads or read stdin implement [`Target`] themselves.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::broker::Broker;
use crate::gob::encode::{StreamWriter, StructValue};
use crate::gob::ids;
use crate::mux::MuxStream;
use crate::rpc::NIL;
use crate::rpc::server::{Reply, no_method};
use crate::rpc::value::{as_str, as_u64, get};

/// The gob stream a Communicator's response stream carries when a command exits with `code`
/// (Packer's `CommandFinished{ExitStatus int}`).
pub fn command_finished(code: i64) -> Vec<u8> {
    let mut w = StreamWriter::new();
    w.def_struct(
        ids::FIRST_ASSIGNED,
        "CommandFinished",
        &[("ExitStatus", ids::INT)],
    );
    let body = StructValue::new().int(0, code).finish();
    w.value(ids::FIRST_ASSIGNED, false, &body)
}

/// One Communicator call the component made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `Upload` of `bytes` to `path` with permission bits `mode` (0 without a `FileInfo`).
    Upload {
        path: String,
        mode: u32,
        bytes: Vec<u8>,
    },
    /// `Start` of `command`; `with_stdin` when the component opened a stdin stream.
    Start { command: String, with_stdin: bool },
}

/// The streams of one running command.
pub struct CommandIo {
    /// The command's stdin, when the component asked for one.
    pub stdin: Option<MuxStream>,
    pub stdout: MuxStream,
    pub stderr: MuxStream,
}

impl CommandIo {
    /// Writes `text` to stdout and flushes it, so the component sees it at once.
    pub async fn print(&mut self, text: &str) -> std::io::Result<()> {
        self.stdout.write_all(text.as_bytes()).await?;
        self.stdout.flush().await
    }

    /// Reads stdin until the component closes it (empty without a stdin).
    pub async fn read_stdin(&mut self) -> std::io::Result<Vec<u8>> {
        let mut buf = Vec::new();
        if let Some(s) = self.stdin.as_mut() {
            s.read_to_end(&mut buf).await?;
        }
        Ok(buf)
    }
}

/// The machine behind the fake Communicator.
#[async_trait::async_trait]
pub trait Target: Send + Sync + 'static {
    /// Plays `command`: writes its output to `io` and returns its exit status; `None` ends the
    /// response stream without a status (the connection dropped, as when Windows shuts down).
    /// Runs in the background: `Communicator.Start` has already returned.
    async fn run(&self, command: &str, io: &mut CommandIo) -> Option<i64>;

    /// Sees an upload once all its bytes arrived (after it was recorded).
    async fn uploaded(&self, _path: &str, _bytes: &[u8]) {}
}

/// What a [`Scripted`] target answers to a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub stdout: Vec<u8>,
    /// `None`: no exit status (see [`Target::run`]).
    pub exit: Option<i64>,
}

impl Answer {
    /// `lines` on stdout, each ended by `eol` (`"\n"`, or `"\r\n"` for a Windows shell).
    pub fn lines(lines: &[String], eol: &str, exit: Option<i64>) -> Answer {
        let stdout = lines.iter().flat_map(|l| [l.as_str(), eol]).collect();
        Answer {
            stdout: String::into_bytes(stdout),
            exit,
        }
    }
}

/// A target answering by command: the first rule whose text the command contains; any other
/// command prints `unexpected command …` and exits 127.
#[derive(Debug, Clone, Default)]
pub struct Scripted {
    rules: Vec<(String, Answer)>,
}

impl Scripted {
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers commands that contain `needle` with `answer`.
    pub fn on(mut self, needle: impl Into<String>, answer: Answer) -> Self {
        self.rules.push((needle.into(), answer));
        self
    }
}

#[async_trait::async_trait]
impl Target for Scripted {
    async fn run(&self, command: &str, io: &mut CommandIo) -> Option<i64> {
        let answer = self
            .rules
            .iter()
            .find(|(needle, _)| command.contains(needle.as_str()))
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| Answer {
                stdout: format!("unexpected command {command}\n").into_bytes(),
                exit: Some(127),
            });
        io.stdout.write_all(&answer.stdout).await.ok()?;
        answer.exit
    }
}

/// Packer's `Communicator` in front of a [`Target`], recording every call.
pub struct RecordingCommunicator {
    broker: Arc<Broker>,
    target: Arc<dyn Target>,
    calls: Mutex<Vec<Call>>,
}

impl RecordingCommunicator {
    /// A Communicator that dials the component's streams through `broker` (the fake Packer's).
    pub fn new(broker: Arc<Broker>, target: Arc<dyn Target>) -> Self {
        RecordingCommunicator {
            broker,
            target,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Call>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn dial(&self, id: u32) -> Result<MuxStream, String> {
        self.broker.dial(id).await.map_err(|e| e.to_string())
    }

    /// The `Communicator` service: `Upload` and `Start`; other methods are unknown.
    pub async fn handle(&self, method: &str, body: &rmpv::Value) -> Reply {
        let id = |k: &str| get(body, k).and_then(as_u64).unwrap_or(0) as u32;
        match method {
            "Upload" => {
                let path = get(body, "Path").and_then(as_str).unwrap_or_default();
                let mode = get(body, "FileInfo")
                    .and_then(|f| get(f, "M"))
                    .and_then(as_u64)
                    .unwrap_or(0) as u32;
                let mut s = self.dial(id("ReaderStreamId")).await?;
                let mut bytes = Vec::new();
                s.read_to_end(&mut bytes).await.map_err(|e| e.to_string())?;
                self.lock().push(Call::Upload {
                    path: path.clone(),
                    mode,
                    bytes: bytes.clone(),
                });
                self.target.uploaded(&path, &bytes).await;
                Ok(NIL.to_vec())
            }
            "Start" => {
                let command = get(body, "Command").and_then(as_str).unwrap_or_default();
                let stdin_id = id("StdinStreamId");
                self.lock().push(Call::Start {
                    command: command.clone(),
                    with_stdin: stdin_id != 0,
                });
                // Packer dials stdin, stdout, stderr, then the response stream, before starting
                let stdin = match stdin_id {
                    0 => None,
                    n => Some(self.dial(n).await?),
                };
                let mut io = CommandIo {
                    stdin,
                    stdout: self.dial(id("StdoutStreamId")).await?,
                    stderr: self.dial(id("StderrStreamId")).await?,
                };
                let mut resp = self.dial(id("ResponseStreamId")).await?;
                let target = self.target.clone();
                tokio::spawn(async move {
                    let exit = target.run(&command, &mut io).await;
                    let _ = io.stdout.shutdown().await;
                    let _ = io.stderr.shutdown().await;
                    if let Some(code) = exit {
                        let _ = resp.write_all(&command_finished(code)).await;
                    }
                    let _ = resp.shutdown().await;
                });
                Ok(NIL.to_vec())
            }
            other => Err(no_method("Communicator", other)),
        }
    }
}
