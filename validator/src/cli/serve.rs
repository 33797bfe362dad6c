//! `serve`: the gRPC API on a TCP address or a unix socket, printing `listening on ADDR` once it
//! accepts connections (the gate waits for that line), until a signal or a closed stdin.

use amiforge_aws::client::Clients;
use amiforge_validator::api::server::{self, Listen};
use amiforge_validator_api::{FieldErrors, Path, Verdict};
use tokio_util::sync::CancellationToken;

use super::args::ServeArgs;
use super::{output, signals};

pub async fn command(home: &str, a: ServeArgs) -> i32 {
    let listen = match Listen::parse(&a.listen) {
        Ok(l) => l,
        Err(e) => return output::bad_input(&FieldErrors::one(Path::fields(&["--listen"]), e)),
    };
    let clients = Clients::load(home).await;
    let stop = CancellationToken::new();
    signals::watch(stop.clone());
    if a.stop_on_stdin_close {
        signals::stop_on_stdin_close(stop.clone());
    }
    let ready = |addr: &str| output::line(&format!("listening on {addr}"));
    match server::serve(clients, &listen, a.max_instances as usize, stop, ready).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("amiforge-validator: serve: {e}");
            Verdict::InfrastructureError.exit_code()
        }
    }
}
