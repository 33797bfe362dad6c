//! A plugin binary: its components, `describe`, and the serving loop.
//!
//! [`Plugin::main`] is the whole `main()` of a plugin: it answers `describe`, or checks Packer's
//! magic cookie, listens on a unix socket, prints the handshake line, accepts Packer's single
//! connection and serves the requested component on broker stream 0 until Packer goes away.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UnixListener;
use tokio_util::compat::TokioAsyncReadCompatExt;

use crate::broker::Broker;
use crate::invocation::{self, Invocation, Kind};
use crate::mux::Session;
use crate::post_processor::{PostProcessor, PostProcessorService};
use crate::provisioner::{Provisioner, ProvisionerService};
use crate::rpc::server::Handler;
use crate::spec::{FieldDoc, HclSpec, ObjectSpec};
use crate::webdocs::Integration;
use crate::wire_spec::SpecFormat;

/// The cookie Packer sets in every plugin's environment.
pub const MAGIC_COOKIE_KEY: &str = "PACKER_PLUGIN_MAGIC_COOKIE";
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// Plugin API version in `describe` and installed file names.
pub const API_VERSION: &str = "x5.0";
/// How long we wait for Packer to connect after the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// Builds a component's stream-0 service.
pub type Factory = fn(Arc<Broker>, SpecFormat) -> Arc<dyn Handler>;

/// One registered component.
#[derive(Clone)]
pub struct Component {
    pub kind: Kind,
    pub name: &'static str,
    pub spec: fn() -> ObjectSpec,
    pub docs: fn() -> Vec<FieldDoc>,
    pub factory: Factory,
}

/// A plugin: a name (`amiforge` → components `amiforge-NAME` in templates), a version, and its
/// components.
#[derive(Clone)]
pub struct Plugin {
    pub name: &'static str,
    pub version: &'static str,
    /// Where `packer plugins install` should say it comes from, e.g. `github.com/amiforge/amiforge`.
    pub source: &'static str,
    components: BTreeMap<(u8, &'static str), Component>,
    integration: Option<Integration>,
}

fn provisioner_factory<P: Provisioner>(b: Arc<Broker>, f: SpecFormat) -> Arc<dyn Handler> {
    Arc::new(ProvisionerService::<P>::new(b, f))
}

fn post_processor_factory<P: PostProcessor>(b: Arc<Broker>, f: SpecFormat) -> Arc<dyn Handler> {
    Arc::new(PostProcessorService::<P>::new(b, f))
}

fn kind_key(k: Kind) -> u8 {
    match k {
        Kind::Provisioner => 0,
        Kind::PostProcessor => 1,
    }
}

impl Plugin {
    pub fn new(name: &'static str, version: &'static str, source: &'static str) -> Self {
        Plugin {
            name,
            version,
            source,
            components: BTreeMap::new(),
            integration: None,
        }
    }

    /// What the Packer integrations registry shows about the plugin (`docs --web-docs DIR`).
    pub fn integration(mut self, integration: Integration) -> Self {
        self.integration = Some(integration);
        self
    }

    /// The integration metadata given to [`Plugin::integration`], if any.
    pub fn integration_metadata(&self) -> Option<&Integration> {
        self.integration.as_ref()
    }

    /// Registers provisioner `P` as `name` (templates use `<plugin>-<name>`).
    pub fn provisioner<P: Provisioner>(self, name: &'static str) -> Self {
        self.register::<P::Config>(Kind::Provisioner, name, provisioner_factory::<P>)
    }

    /// Registers post-processor `P` as `name`.
    pub fn post_processor<P: PostProcessor>(self, name: &'static str) -> Self {
        self.register::<P::Config>(Kind::PostProcessor, name, post_processor_factory::<P>)
    }

    fn register<C: HclSpec>(mut self, kind: Kind, name: &'static str, factory: Factory) -> Self {
        let component = Component {
            kind,
            name,
            spec: C::object_spec,
            docs: C::field_docs,
            factory,
        };
        self.components.insert((kind_key(kind), name), component);
        self
    }

    pub fn components(&self) -> impl Iterator<Item = &Component> {
        self.components.values()
    }

    fn names(&self, kind: Kind) -> Vec<&'static str> {
        self.components()
            .filter(|c| c.kind == kind)
            .map(|c| c.name)
            .collect()
    }

    /// The `describe` JSON (packer-plugin-sdk `plugin/set.go` SetDescription).
    pub fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "version": self.version,
            "sdk_version": env!("CARGO_PKG_VERSION"),
            "api_version": API_VERSION,
            "builders": [],
            "post_processors": self.names(Kind::PostProcessor),
            "provisioners": self.names(Kind::Provisioner),
            "datasources": [],
            "protocol_version": "v2",
        })
    }

    /// Finds the component Packer asked for. Links may be named with or without the plugin
    /// prefix (`packer-provisioner-amiforge-harden` or `packer-provisioner-harden`).
    pub fn find(&self, kind: Kind, name: &str, legacy_link: bool) -> Option<&Component> {
        let lookup = |n: &str| self.components().find(|c| c.kind == kind && c.name == n);
        let direct = lookup(name);
        if direct.is_some() || !legacy_link {
            return direct;
        }
        lookup(name.strip_prefix(self.name)?.strip_prefix('-')?)
    }

    /// What to tell a person who runs the binary by hand.
    pub fn usage(&self) -> String {
        let list = |k: Kind| {
            let n = self.names(k);
            if n.is_empty() {
                "none yet".to_string()
            } else {
                n.iter()
                    .map(|c| format!("{}-{c}", self.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let p = self.name;
        format!(
            "This is packer-plugin-{p} {v}, a Packer plugin. Packer starts it; it does nothing on its own.\n\
             \n\
             Components: provisioners: {prov}; post-processors: {pp}.\n\
             \n\
             Install for Packer >= 1.7:\n  packer plugins install --path ./packer-plugin-{p} {src}\n\
             and declare it in the template:\n  packer {{ required_plugins {{ {p} = {{ source = \"{src}\", version = \">= {v}\" }} }} }}\n\
             \n\
             Install for Packer 1.6: put packer-plugin-{p} (or a copy/link) in ~/.packer.d/plugins/,\n\
             next to your template, or in a directory listed in PACKER_PLUGIN_PATH. Single-component\n\
             links also work: packer-provisioner-{p}-NAME / packer-post-processor-{p}-NAME -> packer-plugin-{p}.\n\
             \n\
             `packer-plugin-{p} describe` prints what the plugin serves as JSON;\n\
             `packer-plugin-{p} --version` prints its version;\n\
             `packer-plugin-{p} docs` prints every component's attributes as Markdown;\n\
             `packer-plugin-{p} docs --web-docs DIR` writes the Packer integrations registry's pages\n\
             (the `.web-docs` layout) into DIR.\n",
            v = self.version,
            src = self.source,
            prov = list(Kind::Provisioner),
            pp = list(Kind::PostProcessor),
        )
    }

    /// `packer-plugin-NAME VERSION (plugin API x5.0, protocol v2, sdk VERSION)`: what `--version`
    /// prints; the version is the one `describe` reports.
    pub fn version_line(&self) -> String {
        format!(
            "packer-plugin-{} {} (plugin API {API_VERSION}, protocol v2, packer-sdk {})",
            self.name,
            self.version,
            env!("CARGO_PKG_VERSION")
        )
    }

    /// Runs the plugin process and exits.
    pub fn main(self) -> ! {
        let mut args = std::env::args();
        let argv0 = args.next().unwrap_or_default();
        let args: Vec<String> = args.collect();
        let exe = std::path::Path::new(&argv0)
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let env = std::env::var("PACKER_SDK_HANDSHAKE").ok();
        let code = match invocation::parse(&args, &exe, env.as_deref()) {
            Invocation::Describe => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", self.describe());
                let _ = out.flush();
                0
            }
            Invocation::Docs => {
                print!("{}", crate::docs::reference(&self));
                0
            }
            Invocation::Version => {
                println!("{}", self.version_line());
                0
            }
            Invocation::WebDocs(dir) => match crate::webdocs::write(&self, &dir) {
                Ok(files) => {
                    eprintln!("wrote {} files under {}", files.len(), dir.display());
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    1
                }
            },
            Invocation::Usage(why) => {
                if !why.is_empty() {
                    eprintln!("error: {why}\n");
                }
                eprint!("{}", self.usage());
                1
            }
            Invocation::Start {
                kind,
                name,
                protobuf,
                handshake,
                legacy_link,
            } => {
                if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
                    eprint!("{}", self.usage());
                    std::process::exit(1);
                }
                match self.find(kind, &name, legacy_link) {
                    None => {
                        eprintln!(
                            "packer-plugin-{}: no {} named {name:?}; this plugin serves: {}",
                            self.name,
                            kind.as_str(),
                            self.names(kind).join(", ")
                        );
                        1
                    }
                    Some(c) => {
                        let format = if protobuf {
                            SpecFormat::Protobuf
                        } else {
                            SpecFormat::Gob
                        };
                        match serve_process(c.factory, format, handshake) {
                            Ok(()) => 0,
                            Err(e) => {
                                tracing::error!(error = %e, "plugin failed");
                                1
                            }
                        }
                    }
                }
            }
        };
        std::process::exit(code)
    }
}

/// Packer copies a plugin's stderr into its log. yamux logs a misbehaving peer's frames at ERROR
/// (older releases once per refused stream), which a peer can use to flood that log; its own log
/// is off by default and what matters surfaces as our connection's error.
/// `PACKER_PLUGIN_LOG=yamux=debug` turns it on.
const DEFAULT_LOG: &str = "info,yamux=off";

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PACKER_PLUGIN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

fn serve_process(
    factory: Factory,
    format: SpecFormat,
    handshake: invocation::Handshake,
) -> Result<(), String> {
    init_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        // Packer starts plugins in its own process group: Ctrl-C reaches us too. Cancellation
        // comes through RPC, so ignore the signals like the Go SDK does.
        for kind in [
            tokio::signal::unix::SignalKind::interrupt(),
            tokio::signal::unix::SignalKind::terminate(),
        ] {
            if let Ok(mut sig) = tokio::signal::unix::signal(kind) {
                tokio::spawn(async move {
                    let mut n = 0;
                    while sig.recv().await.is_some() {
                        n += 1;
                        tracing::info!(
                            count = n,
                            "received a signal; ignoring (Packer cancels through RPC)"
                        );
                    }
                });
            }
        }
        let dir = socket_dir()?;
        let path = dir.path().join("plugin.sock");
        let listener = UnixListener::bind(&path)
            .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", handshake.line(&path.to_string_lossy()))
                .map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
        }
        let (sock, _) = tokio::time::timeout(CONNECT_TIMEOUT, listener.accept())
            .await
            .map_err(|_| "Packer did not connect".to_string())?
            .map_err(|e| format!("accept: {e}"))?;
        // Packer dials exactly once: stop listening and remove the socket.
        drop(listener);
        drop(dir);
        serve_connection(sock.compat(), factory, format).await
    })
}

/// Serves one component over an established connection from Packer until Packer goes away.
pub async fn serve_connection<T>(io: T, factory: Factory, format: SpecFormat) -> Result<(), String>
where
    T: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static,
{
    let (session, inbound) = Session::start(io);
    let broker = Broker::start(session.clone(), inbound);
    let handler = factory(broker.clone(), format);
    let stream0 = broker
        .expect(0)
        .accept(Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = crate::rpc::serve(stream0, handler) => session.closed().await,
        _ = session.closed() => {}
    }
    tracing::debug!("Packer closed the connection; exiting");
    Ok(())
}

fn socket_dir() -> Result<tempfile::TempDir, String> {
    // unix socket paths are limited to ~107 bytes; fall back to /tmp for long TMPDIRs
    let tmp = std::env::temp_dir();
    let base = if tmp.as_os_str().len() > 60 {
        std::path::PathBuf::from("/tmp")
    } else {
        tmp
    };
    tempfile::Builder::new()
        .prefix("packer-plugin")
        .tempdir_in(base)
        .map_err(|e| format!("cannot create the plugin socket directory: {e}"))
}
