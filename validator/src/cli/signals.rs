//! Interrupts: the first SIGINT/SIGTERM cancels (the run or server cleans up and exits), a
//! second one abandons the cleanup at once (exit 3; `sweep` finds what is left). With
//! `--stop-on-stdin-close`, a closed stdin counts as the first (the parent went away).

use amiforge_validator_api::Verdict;
use tokio_util::sync::CancellationToken;

/// First signal: cancel (the run cleans up). Second: exit now.
pub fn watch(cancel: CancellationToken) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM");
                return;
            }
        };
        let mut first = true;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            if first {
                eprintln!(
                    "amiforge-validator: interrupted; cleaning up (signal again to abandon, then run `sweep`)"
                );
                cancel.cancel();
                first = false;
            } else {
                eprintln!(
                    "amiforge-validator: cleanup abandoned; run `amiforge-validator sweep` to remove what is left"
                );
                std::process::exit(Verdict::InfrastructureError.exit_code());
            }
        }
    });
}

/// Cancels `stop` when stdin reaches its end (or fails): the parent holding the pipe is gone.
pub fn stop_on_stdin_close(stop: CancellationToken) {
    tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 64];
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
        eprintln!("amiforge-validator: stdin closed (the parent went away); shutting down");
        stop.cancel();
    });
}
