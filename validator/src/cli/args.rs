//! The command line's arguments, parsed once into one model: `run` flattens the validator's
//! settings structs (the same structs the gate's HCL and the gRPC API use, so every flag has the
//! setting's own name); `check`, `sweep` and `serve` have their own few flags.

use std::path::PathBuf;
use std::time::Duration;

use amiforge_model::Strategy;
use amiforge_validator::api::limits;
use amiforge_validator_api::{Guest, Launch, Policy, UserCheck};
use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "amiforge-validator",
    version,
    about = "Launch-test AMIs in every region and gate CI on the result"
)]
pub struct Cli {
    /// Home region for the AWS configuration (default: AWS_REGION, else us-east-1).
    #[arg(long, global = true, env = "AWS_REGION")]
    pub region: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate AMIs: attribute gate, test launches, cleanup, verdict.
    Run(Box<RunArgs>),
    /// Remove instances, key pairs and security groups that validator runs left behind.
    Sweep(SweepArgs),
    /// Run the in-guest checks (hardening evidence, audit, user checks) on a running host over
    /// SSH; no AWS. Exit 0 pass, 1 failed, 2 bad input, 3 unreachable/infrastructure error.
    Check(Box<CheckArgs>),
    /// Scan an image's packages for known vulnerabilities and judge them by policy: exit 0
    /// clean, 1 policy violated (or an allowlist entry expired), 2 bad input or an unreadable
    /// database.
    Scan(Box<ScanArgs>),
    /// Serve the gRPC API (amiforge.validator.v1) to many pipelines at once.
    Serve(Box<ServeArgs>),
    /// Make a bearer token for `serve --token-file`: prints the token (give it to the caller)
    /// and the line for the token file (which keeps only its sha256).
    Token(TokenArgs),
    /// Ask a running server whether it serves (for systemd, load balancers, scripts): prints
    /// its version and load; exit 0 serving, 3 not reachable or not serving (after --wait).
    Health(HealthArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Write the man pages (amiforge-validator.1 and one per command) into a directory.
    Man(ManArgs),
}

/// Where the reports go and how much is printed.
#[derive(Args, Debug, Default)]
pub struct OutputArgs {
    /// Write a JUnit XML report.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the JSON report.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Print only the verdict.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A replicate manifest (amiforge-replicate's manifest_path): every region's AMI and what it
    /// should be.
    #[arg(long, conflicts_with = "ami")]
    pub manifest: Option<PathBuf>,
    /// AMIs as region:ami-id pairs, comma-separated (Packer's artifact id form).
    #[arg(long)]
    pub ami: Option<String>,
    /// Expected KMS key per region: REGION=KEY (alias, id or ARN; repeatable; manifests carry it).
    #[arg(long = "kms-key", value_parser = parse_pair)]
    pub kms_keys: Vec<(String, String)>,
    /// Image strategy (full, hybrid, os-only) for the shelf-life check; manifests carry it.
    #[arg(long)]
    pub strategy: Option<Strategy>,
    /// Name this run (tags, client tokens); default: generated.
    #[arg(long)]
    pub run_id: Option<String>,
    /// User checks from a file: TOML `[[check]]` tables or a JSON list, each with name, command,
    /// expect_exit (default 0), expect_output (regex, optional).
    #[arg(long, alias = "checks")]
    pub checks_file: Option<PathBuf>,
    #[command(flatten)]
    pub policy: Policy,
    #[command(flatten)]
    pub launch: Launch,
    #[command(flatten)]
    pub guest: Guest,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The host: USER@HOST[:PORT] (root, or a user with passwordless sudo).
    #[arg(long)]
    pub ssh: String,
    /// Private key file that logs in as USER.
    #[arg(long)]
    pub key: PathBuf,
    /// The replicate manifest of the image the host runs (expected report and profile sha256).
    #[arg(long, conflicts_with_all = ["report_sha256", "profile_sha256"])]
    pub manifest: Option<PathBuf>,
    /// Expected sha256 of the hardening evidence on the host (the build's report).
    #[arg(long)]
    pub report_sha256: Option<String>,
    /// Expected sha256 of the hardening profile.
    #[arg(long)]
    pub profile_sha256: Option<String>,
    /// Only the user checks: no hardening evidence or audit.
    #[arg(long, conflicts_with_all = ["manifest", "report_sha256", "profile_sha256"])]
    pub no_hardening: bool,
    /// Audit with this profile file instead of the built-in the image's report names.
    #[arg(long)]
    pub profile_file: Option<PathBuf>,
    /// A user check: NAME=COMMAND[,exit=N][,output=REGEX] (repeatable).
    #[arg(long = "check", value_name = "NAME=COMMAND[,exit=N][,output=REGEX]")]
    pub check: Vec<UserCheck>,
    /// User checks from a file (TOML `[[check]]` tables or a JSON list).
    #[arg(long, alias = "checks")]
    pub checks_file: Option<PathBuf>,
    /// Keep retrying the connection this long (sshd starting).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub wait: Duration,
    /// Per connection attempt.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    #[command(flatten)]
    pub out: OutputArgs,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Regions to sweep, comma-separated.
    #[arg(long, value_delimiter = ',', required_unless_present = "manifest")]
    pub regions: Vec<String>,
    /// Sweep the regions of this manifest.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Only this run's resources.
    #[arg(long, conflicts_with = "all")]
    pub run_id: Option<String>,
    /// Every validator resource, also ones without a readable lease (of runs that are over).
    #[arg(long)]
    pub all: bool,
    /// Also take resources of runs that are still going (their lease is live): their instances
    /// are terminated under them.
    #[arg(long)]
    pub force: bool,
    /// List, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen: HOST:PORT (e.g. 127.0.0.1:7070; port 0 picks one) or unix:/path/to.sock.
    /// An address other hosts reach needs TLS and authentication.
    #[arg(long)]
    pub listen: String,
    /// Test instances alive at once across every concurrent Validate call.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_INSTANCES as u32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_instances: u32,
    /// Validations in progress at once, in total.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_RUNS as u32,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_runs: u32,
    /// Validations in progress at once per caller.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_RUNS_PER_CALLER as u32,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_runs_per_caller: u32,
    /// AMIs one request may name.
    #[arg(long, default_value_t = limits::DEFAULT_MAX_TARGETS as u32,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_targets: u32,
    /// The server's certificate (PEM) for TLS on TCP; with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS: clients must present a certificate this CA (PEM) signed; its common name
    /// names the caller (`cert:NAME`).
    #[arg(long, requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// Bearer tokens callers may present: one `NAME sha256:HEX` per line (`amiforge-validator
    /// token NAME` makes one); the caller is `token:NAME`.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// A caller who may sweep every run and other callers' runs (`token:NAME`, `cert:NAME`,
    /// `uid:N`, or a bare NAME; repeatable).
    #[arg(long = "admin")]
    pub admins: Vec<String>,
    /// Listen beyond loopback without TLS or authentication (warned about at every start).
    #[arg(long)]
    pub insecure: bool,
    /// A group (name or gid) whose members may use the unix socket too (mode 0660; default 0600).
    #[arg(long)]
    pub socket_group: Option<String>,
    /// A directory whose files requests may name (guest.profile_file, guest.ssh_private_key_file;
    /// repeatable). By default a request names no file on this host.
    #[arg(long = "allow-path")]
    pub allow_paths: Vec<PathBuf>,
    /// A private key requests may use by name (guest.ssh_private_key_name): NAME=FILE
    /// (repeatable).
    #[arg(long = "ssh-key", value_parser = parse_key)]
    pub ssh_keys: Vec<(String, PathBuf)>,
    /// Shut down (cancel runs, clean up, exit) when stdin closes: a parent that starts this
    /// server keeps a pipe open, so a killed parent never leaves the server running.
    #[arg(long)]
    pub stop_on_stdin_close: bool,
}

#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The caller the token names (letters, digits, '.', '_', '-', '@').
    pub name: String,
}

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The server: HOST:PORT, http://HOST:PORT, https://HOST:PORT or unix:/path.sock.
    pub address: String,
    /// For https://: the CA (PEM) the server's certificate must chain to.
    #[arg(long)]
    pub tls_ca_file: Option<PathBuf>,
    /// For a server that asks for client certificates: this client's certificate (PEM).
    #[arg(long, requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// The key (PEM) of --tls-cert-file.
    #[arg(long, requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
    /// The name the server's certificate carries, when not the address's host.
    #[arg(long)]
    pub tls_server_name: Option<String>,
    /// Keep asking until the server answers or this much time has passed (e.g. 30s).
    #[arg(long, value_parser = parse_duration, default_value = "0s")]
    pub wait: Duration,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// The directory the pages go into (created if missing).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
}

fn parse_key(s: &str) -> Result<(String, PathBuf), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.into())),
        _ => Err(format!("{s:?}: write NAME=FILE")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    amiforge_model::duration::parse(s).map_err(|e| e.to_string())
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?}: write REGION=VALUE")),
    }
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("scan_target").required(true).args(["sbom", "ssh"])))]
pub struct ScanArgs {
    /// A CycloneDX JSON SBOM whose OS packages carry purls (amiforge-harden's
    /// report.sbom.cdx.json, or one from syft/trivy with `distro=` qualifiers).
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// Scan what is really installed on a running host instead: `USER@HOST[:PORT]` (root, or a
    /// user with passwordless sudo), its package inventory listed over SSH (nothing changes).
    #[arg(long, value_name = "USER@HOST[:PORT]", requires = "key")]
    pub ssh: Option<String>,
    /// Private key file for `--ssh`.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// An OSV database: a directory of OSV records or osv.dev's per-ecosystem all.zip
    /// (offline; its index is built once and cached by the database's digest).
    #[arg(long, value_name = "PATH")]
    pub osv: PathBuf,
    /// Accepted findings: a TOML file of `[[allow]]` entries (id, package, reason, expires =
    /// "YYYY-MM-DD"); an expired entry fails the scan.
    #[arg(long, value_name = "FILE")]
    pub allowlist: Option<PathBuf>,
    /// Fail on findings of this severity or worse (low, medium, high, critical); a finding
    /// without a rating counts as low.
    #[arg(long, default_value = "high", value_parser = parse_severity)]
    pub severity: amiforge_scan::Severity,
    /// Fail only on findings a fixed version exists for.
    #[arg(long)]
    pub fixed_only: bool,
    /// Write the scan report (JSON, amiforge.scan-report/v1).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write SARIF 2.1.0 (GitHub code scanning).
    #[arg(long, value_name = "FILE")]
    pub sarif: Option<PathBuf>,
    /// Write JUnit XML: one test case per finding.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Where database indexes are cached (default: $AMIFORGE_CACHE/osv-index, else
    /// ~/.cache/amiforge/osv-index).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Print only the verdict line.
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_severity(s: &str) -> Result<amiforge_scan::Severity, String> {
    s.parse()
}
