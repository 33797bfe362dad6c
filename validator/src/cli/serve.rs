//! `serve`: the gRPC API on a TCP address or a unix socket, printing `listening on ADDR` once it
//! accepts connections (the gate waits for that line), until a signal or a closed stdin. The
//! flags become one [`ServeConfig`], checked whole before anything listens. `token` makes a
//! bearer token for `--token-file`.

use amiforge_aws::client::Clients;
use amiforge_validator::api::admit::Admission;
use amiforge_validator::api::auth::{Authenticator, new_token, read_token_file};
use amiforge_validator::api::config::{ServeConfig, ssh_keys};
use amiforge_validator::api::listen::{Listen, is_loopback_host};
use amiforge_validator::api::server;
use amiforge_validator::api::tls::TlsFiles;
use amiforge_validator_api::{FieldErrors, Path, Verdict};
use tokio_util::sync::CancellationToken;

use super::args::{ServeArgs, TokenArgs};
use super::{output, signals};

/// The gid of `--socket-group` (a name or a number).
fn group(g: &str) -> Result<u32, String> {
    if let Ok(n) = g.parse::<u32>() {
        return Ok(n);
    }
    match nix::unistd::Group::from_name(g) {
        Ok(Some(gr)) => Ok(gr.gid.as_raw()),
        Ok(None) => Err(format!("--socket-group: no group named {g:?}")),
        Err(e) => Err(format!("--socket-group {g:?}: {e}")),
    }
}

/// The configuration the flags describe, or the first thing wrong with them.
pub fn config(a: &ServeArgs) -> Result<ServeConfig, String> {
    let listen = Listen::parse(&a.listen).map_err(|e| format!("--listen: {e}"))?;
    let tokens = match &a.token_file {
        Some(p) => read_token_file(p)?,
        None => Vec::new(),
    };
    let tls = TlsFiles {
        cert: a.tls_cert.clone(),
        key: a.tls_key.clone(),
        client_ca: a.tls_client_ca.clone(),
    };
    // with a way to prove who one is, TCP callers must use it (loopback included)
    let required = !tokens.is_empty() || tls.mutual();
    if a.token_file.is_some() && tokens.is_empty() {
        return Err(
            "--token-file: no token in it (`amiforge-validator token NAME` makes one)".into(),
        );
    }
    if let Listen::Tcp(addr) = &listen
        && !required
        && !a.insecure
        && !addr
            .rsplit_once(':')
            .is_some_and(|(host, _)| is_loopback_host(host))
        && !tls.enabled()
    {
        // said again (with the bound address) when it listens; failing early is kinder
        return Err(format!(
            "--listen {addr}: an address other hosts can reach needs TLS (--tls-cert, --tls-key) \
             and authentication (--tls-client-ca or --token-file); or listen on 127.0.0.1 or a \
             unix socket; --insecure runs without them at your own risk"
        ));
    }
    let admission = Admission::new(
        &a.allow_paths,
        ssh_keys(&a.ssh_keys)?,
        a.max_targets as usize,
    )?;
    Ok(ServeConfig {
        listen,
        max_instances: a.max_instances as usize,
        max_runs: a.max_runs as usize,
        max_runs_per_caller: a.max_runs_per_caller as usize,
        tls,
        auth: Authenticator::new(tokens, a.admins.clone(), required),
        insecure: a.insecure,
        socket_group: a.socket_group.as_deref().map(group).transpose()?,
        admission,
    })
}

pub async fn command(home: &str, a: ServeArgs) -> i32 {
    let config = match config(&a) {
        Ok(c) => c,
        Err(e) => return output::bad_input(&FieldErrors::one(Path::default(), e)),
    };
    let clients = Clients::load(home).await;
    let stop = CancellationToken::new();
    signals::watch(stop.clone());
    if a.stop_on_stdin_close {
        signals::stop_on_stdin_close(stop.clone());
    }
    let ready = |addr: &str| output::line(&format!("listening on {addr}"));
    match server::serve(clients, config, stop, ready).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("amiforge-validator: serve: {e}");
            Verdict::InfrastructureError.exit_code()
        }
    }
}

/// `token NAME`: the token on stdout, the token-file line on stderr.
pub fn token(a: &TokenArgs) -> i32 {
    match new_token(&a.name) {
        Ok((token, line)) => {
            output::line(&token);
            eprintln!("amiforge-validator: add this line to the --token-file of the validator:");
            eprintln!("{line}");
            0
        }
        Err(e) => output::bad_input(&FieldErrors::one(Path::fields(&["NAME"]), e)),
    }
}
