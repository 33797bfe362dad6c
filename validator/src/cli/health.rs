//! `health ADDRESS`: one authenticated `Health` call to a running server (through TLS and the
//! bearer token from `AMIFORGE_VALIDATOR_TOKEN` when given), retried until `--wait` has passed.
//! Prints the server's version and load; exit 0 serving, 2 bad input, 3 not reachable, refused
//! or not serving. A systemd unit uses it as its start and watchdog check (docs/systemd/).

use std::time::{Duration, Instant};

use amiforge_validator_api::Verdict;
use amiforge_validator_api::client::{self, ConnectError, Credentials};
use amiforge_validator_api::pb;
use secrecy::SecretString;

use super::args::HealthArgs;

/// Pause between attempts while waiting.
const RETRY: Duration = Duration::from_millis(500);

/// Runs `health`; returns the exit code.
pub async fn command(a: &HealthArgs) -> i32 {
    if let Err(e) = client::parse(&a.address) {
        eprintln!("amiforge-validator health: {e}");
        return Verdict::BadInput.exit_code();
    }
    let creds = Credentials {
        ca: a.tls_ca_file.clone(),
        cert: a.tls_cert_file.clone(),
        key: a.tls_key_file.clone(),
        server_name: a.tls_server_name.clone(),
        token: client::token_from_env().map(SecretString::from),
    };
    let deadline = Instant::now() + a.wait;
    loop {
        match ask(&a.address, &creds).await {
            Ok(h) => {
                println!(
                    "serving: amiforge-validator {} at {}; {} runs in progress, {} of {} instances in use",
                    h.version, a.address, h.runs_in_progress, h.instances_in_use, h.max_instances
                );
                return 0;
            }
            Err(Failure::Credentials(e)) => {
                eprintln!("amiforge-validator health: {e}");
                return Verdict::BadInput.exit_code();
            }
            Err(Failure::Refused(e)) => {
                eprintln!("amiforge-validator health: refused: {e}");
                return Verdict::InfrastructureError.exit_code();
            }
            Err(Failure::Down(e)) if Instant::now() >= deadline => {
                eprintln!("amiforge-validator health: not serving: {e}");
                return Verdict::InfrastructureError.exit_code();
            }
            Err(Failure::Down(_)) => tokio::time::sleep(RETRY).await,
        }
    }
}

enum Failure {
    /// Our own TLS files or token are unusable: waiting will not help.
    Credentials(String),
    /// The server does not accept who we are: waiting will not help either.
    Refused(String),
    /// Not reachable or not serving (yet).
    Down(String),
}

async fn ask(addr: &str, creds: &Credentials) -> Result<pb::HealthResponse, Failure> {
    let mut c = match client::connect_with(addr, creds).await {
        Ok(c) => c,
        Err(e @ ConnectError::Credentials(_)) => return Err(Failure::Credentials(e.to_string())),
        Err(e) => return Err(Failure::Down(e.to_string())),
    };
    let call = tokio::time::timeout(client::CONNECT_TIMEOUT, c.health(pb::HealthRequest {}));
    match call.await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(s))
            if matches!(
                s.code(),
                tonic::Code::Unauthenticated | tonic::Code::PermissionDenied
            ) =>
        {
            Err(Failure::Refused(s.message().to_string()))
        }
        Ok(Err(s)) => Err(Failure::Down(format!("{:?}: {}", s.code(), s.message()))),
        Err(_) => Err(Failure::Down(format!(
            "no answer within {}s",
            client::CONNECT_TIMEOUT.as_secs()
        ))),
    }
}
