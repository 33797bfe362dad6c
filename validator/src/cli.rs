//! The command line: `run` (validate AMIs; JUnit/JSON; exit 0 pass, 1 gate failed, 2 bad input,
//! 3 infrastructure error), `check` (the in-guest checks against a running host over SSH, no
//! AWS; same exit codes), `sweep` (remove what killed runs left) and `serve` (the gRPC API, see
//! [`crate::api`]; prints `listening on ADDR` when ready). AWS is reached through the
//! standard credential chain and region; `AWS_ENDPOINT_URL` points it elsewhere (emulators).
//! SIGINT/SIGTERM stop the run and clean up; a second one abandons cleanup (then `sweep`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_model::manifest::Manifest;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::events::{Event, Sink};
use crate::report::Verdict;
use crate::request::{BadInput, Request};
use crate::sweep::{self, Scope};

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
    /// Serve the gRPC API (amiforge.validator.v1) to many pipelines at once.
    Serve(ServeArgs),
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen: HOST:PORT (e.g. 127.0.0.1:7070; port 0 picks one) or unix:/path/to.sock.
    #[arg(long)]
    pub listen: String,
    /// Test instances alive at once across every concurrent Validate call.
    #[arg(long, default_value_t = crate::api::limit::DEFAULT_MAX_INSTANCES as u32,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub max_instances: u32,
    /// Shut down (cancel runs, clean up, exit) when stdin closes: a parent that starts this
    /// server keeps a pipe open, so a killed parent never leaves the server running.
    #[arg(long)]
    pub stop_on_stdin_close: bool,
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
    /// Instance types to launch each AMI on (repeatable).
    #[arg(long = "instance-type", default_value = "t3.micro")]
    pub instance_types: Vec<String>,
    /// Test instances at once, across regions and types.
    #[arg(long, default_value_t = 8)]
    pub max_parallel: usize,
    /// Per instance: from launch to both status checks passed.
    #[arg(long, default_value = "15m", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Poll interval while waiting.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub poll: Duration,
    /// Attribute checks only; launch nothing.
    #[arg(long)]
    pub no_launch: bool,
    /// A tag every AMI must carry: KEY or KEY=VALUE (repeatable).
    #[arg(long = "require-tag", value_parser = parse_tag)]
    pub require_tags: Vec<(String, Option<String>)>,
    /// Expected KMS key per region: REGION=KEY (alias, id or ARN; repeatable; manifests carry it).
    #[arg(long = "kms-key", value_parser = parse_pair)]
    pub kms_keys: Vec<(String, String)>,
    /// Required boot mode: uefi, legacy-bios or uefi-preferred.
    #[arg(long)]
    pub boot_mode: Option<String>,
    /// Image strategy (full, hybrid, os-only) for the shelf-life check; manifests carry it.
    #[arg(long)]
    pub strategy: Option<amiforge_model::Strategy>,
    /// Do not require a deprecation time.
    #[arg(long)]
    pub allow_no_deprecation: bool,
    /// Do not require encrypted snapshots.
    #[arg(long)]
    pub allow_unencrypted: bool,
    /// Do not require ENA support.
    #[arg(long)]
    pub allow_no_ena: bool,
    /// Do not require the AMI to demand IMDSv2 (test instances always require it).
    #[arg(long)]
    pub allow_imds_v1: bool,
    /// User data for every test launch (a file).
    #[arg(long)]
    pub user_data: Option<PathBuf>,
    /// Subnet per region: REGION=subnet-… (default: the default VPC).
    #[arg(long = "subnet", value_parser = parse_pair)]
    pub subnets: Vec<(String, String)>,
    /// Security group per region: REGION=sg-… (repeatable; default: a temporary group, no ingress).
    #[arg(long = "security-group", value_parser = parse_pair)]
    pub security_groups: Vec<(String, String)>,
    /// Name this run (tags, client tokens); default: generated.
    #[arg(long)]
    pub run_id: Option<String>,
    /// Write a JUnit XML report.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the JSON report.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Print only the verdict.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub guest: GuestArgs,
}

/// In-guest checks of `run`: once both status checks passed, each test instance's hardening
/// evidence (/etc/amiforge/hardening.json, sha256 from the manifest) and a re-run of the build's
/// profile in audit mode, plus user checks; over SSM (default) or SSH.
#[derive(Args, Debug, Default)]
pub struct GuestArgs {
    /// How in-guest checks reach test instances: ssm (agent + instance profile or Default Host
    /// Management), ssh (a key pair made for the run unless --ssh-key-pair) or none.
    #[arg(long, value_parser = parse_transport)]
    pub transport: Option<crate::request::Transport>,
    /// SSH login user (root, or one with passwordless sudo).
    #[arg(long, default_value = "ec2-user")]
    pub ssh_user: String,
    /// Connect here instead of the instance's address: HOST[:PORT] (a bastion-forwarded port).
    #[arg(long)]
    pub ssh_host: Option<String>,
    /// Private key of --ssh-key-pair (present in every region).
    #[arg(long, requires = "ssh_key_pair")]
    pub ssh_key_file: Option<PathBuf>,
    /// An existing key pair to launch with (default: one made for the run, deleted after).
    #[arg(long, requires = "ssh_key_file")]
    pub ssh_key_pair: Option<String>,
    /// CIDR the temporary security group admits SSH from, e.g. 203.0.113.7/32.
    #[arg(long)]
    pub ssh_cidr: Option<String>,
    /// Instance profile (name or ARN) for test instances (lets the SSM agent register).
    #[arg(long)]
    pub instance_profile: Option<String>,
    #[command(flatten)]
    pub checks: ChecksArgs,
}

/// What to check in a guest beyond the hardening evidence.
#[derive(Args, Debug, Default)]
pub struct ChecksArgs {
    /// Audit with this profile file instead of the built-in the image's report names.
    #[arg(long)]
    pub profile_file: Option<PathBuf>,
    /// A user check: NAME=COMMAND[,exit=N][,output=REGEX] (repeatable). COMMAND runs with sh as
    /// root; it passes on exit N (default 0) with stdout matching REGEX (when given; it runs to
    /// the end of the value, so it may hold commas).
    #[arg(long = "check", value_name = "NAME=COMMAND[,exit=N][,output=REGEX]")]
    pub check: Vec<crate::request::UserCheck>,
    /// User checks from a file: TOML `[[check]]` tables or a JSON list, each with name, command,
    /// expect_exit (default 0), expect_output (regex, optional).
    #[arg(long)]
    pub checks: Option<PathBuf>,
}

impl ChecksArgs {
    fn user_checks(&self) -> Result<Vec<crate::request::UserCheck>, BadInput> {
        let mut all = self.check.clone();
        if let Some(p) = &self.checks {
            all.extend(
                crate::request::user_checks_from_file(p)
                    .map_err(|e| BadInput(vec![format!("--checks: {e}")]))?,
            );
        }
        Ok(all)
    }
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
    /// Expected sha256 of /etc/amiforge/hardening.json (the build's report).
    #[arg(long)]
    pub report_sha256: Option<String>,
    /// Expected sha256 of the hardening profile.
    #[arg(long)]
    pub profile_sha256: Option<String>,
    /// Only the user checks: no hardening evidence or audit.
    #[arg(long, conflicts_with_all = ["manifest", "report_sha256", "profile_sha256"])]
    pub no_hardening: bool,
    #[command(flatten)]
    pub checks: ChecksArgs,
    /// Keep retrying the connection this long (sshd starting).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub wait: Duration,
    /// Per connection attempt.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
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
    /// Every validator resource, also of runs that may still be going.
    #[arg(long)]
    pub all: bool,
    /// List, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    amiforge_model::duration::parse(s).map_err(|e| e.to_string())
}

fn parse_transport(s: &str) -> Result<crate::request::Transport, String> {
    use crate::request::Transport;
    match s {
        "ssm" => Ok(Transport::Ssm),
        "ssh" => Ok(Transport::Ssh),
        "none" => Ok(Transport::None),
        _ => Err(format!("{s:?}: use ssm, ssh or none")),
    }
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The host check the `check` arguments describe.
pub fn host_check(a: &CheckArgs) -> Result<crate::guest::host::HostCheck, BadInput> {
    use crate::guest::{Hardening, Plan};
    let mut errs = Vec::new();
    let dest = crate::guest::ssh::parse_destination(&a.ssh).map_err(|e| format!("--ssh: {e}"));
    if let Err(e) = std::fs::File::open(&a.key) {
        errs.push(format!("--key: cannot read {}: {e}", a.key.display()));
    }
    for (flag, v) in [
        ("--report-sha256", &a.report_sha256),
        ("--profile-sha256", &a.profile_sha256),
    ] {
        if let Some(v) = v
            && !is_sha256(v)
        {
            errs.push(format!("{flag}: {v:?} is not a sha256 (64 hex digits)"));
        }
    }
    let mut hardening = (!a.no_hardening).then(|| Hardening {
        report_sha256: a.report_sha256.clone(),
        profile_sha256: a.profile_sha256.clone(),
    });
    if let Some(p) = &a.manifest {
        let m = read_manifest(p)?;
        let Some(h) = &m.hardening else {
            return Err(BadInput(vec![format!(
                "--manifest: {} records no hardening (no amiforge-harden report in the build);                  use --no-hardening to run only user checks",
                p.display()
            )]));
        };
        hardening = Some(Hardening {
            report_sha256: Some(h.report_sha256.clone()),
            profile_sha256: Some(h.profile_sha256.clone()),
        });
    }
    let checks = a.checks.user_checks()?;
    errs.extend(crate::request::user_check_problems(&checks, "--check"));
    if let Some(p) = &a.checks.profile_file {
        match std::fs::read_to_string(p) {
            Err(e) => errs.push(format!("--profile-file: cannot read {}: {e}", p.display())),
            Ok(text) => {
                let src = amiforge_profile::Source::File(p.clone());
                if let Err(e) = amiforge_profile::load::parse(src, text) {
                    errs.push(format!("--profile-file: {e}"));
                }
            }
        }
    }
    if hardening.is_none() && checks.is_empty() {
        errs.push("--no-hardening: nothing left to check; give --check or --checks".into());
    }
    let (user, address) = match dest {
        Ok(d) => d,
        Err(e) => {
            errs.push(e);
            return Err(BadInput(errs));
        }
    };
    if !errs.is_empty() {
        return Err(BadInput(errs));
    }
    Ok(crate::guest::host::HostCheck {
        user,
        address,
        key: a.key.clone(),
        plan: Plan {
            hardening,
            no_hardening: None,
            profile_file: a.checks.profile_file.clone(),
            checks,
            ..Plan::default()
        },
        wait: a.wait,
        connect_timeout: a.connect_timeout,
    })
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?}: write REGION=VALUE")),
    }
}

fn parse_tag(s: &str) -> Result<(String, Option<String>), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), Some(v.to_string()))),
        None if !s.is_empty() => Ok((s.to_string(), None)),
        _ => Err(format!("{s:?}: write KEY or KEY=VALUE")),
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, BadInput> {
    let bytes = std::fs::read(path).map_err(|e| {
        BadInput(vec![format!(
            "--manifest: cannot read {}: {e}",
            path.display()
        )])
    })?;
    use crate::request::ManifestProblem as P;
    let p = path.display();
    crate::request::manifest_from_json(&bytes).map_err(|e| {
        BadInput(vec![match e {
            P::NotAManifest(e) => format!("--manifest: {p} is not a replicate manifest: {e}"),
            P::Edited => format!(
                "--manifest: {p}: its sha256 does not match its content (edited or truncated?)"
            ),
            P::DryRun => {
                format!("--manifest: {p} records a dry run: there are no AMIs to validate")
            }
        }])
    })
}

/// The request the `run` arguments describe.
pub fn request(a: &RunArgs) -> Result<Request, BadInput> {
    let mut targets = match (&a.manifest, &a.ami) {
        (Some(p), _) => Request::targets_from_manifest(&read_manifest(p)?),
        (None, Some(ids)) => Request::targets_from_ids(ids)?,
        (None, None) => {
            return Err(BadInput(vec![
                "give --manifest FILE or --ami region:ami-id,...".into(),
            ]));
        }
    };
    let kms: BTreeMap<_, _> = a.kms_keys.iter().cloned().collect();
    for t in &mut targets {
        if let Some(k) = kms.get(&t.region) {
            t.expect.kms_key = Some(k.clone());
        }
        if let Some(s) = &a.strategy {
            t.expect.strategy = Some(*s);
        }
    }
    let mut errs = Vec::new();
    for r in kms.keys() {
        if !targets.iter().any(|t| &t.region == r) {
            errs.push(format!("--kms-key {r}=…: no AMI to validate in {r}"));
        }
    }
    let user_data = match &a.user_data {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(s) => Some(s),
            Err(e) => {
                errs.push(format!("--user-data: cannot read {}: {e}", p.display()));
                None
            }
        },
        None => None,
    };
    if !errs.is_empty() {
        return Err(BadInput(errs));
    }
    let mut security_groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (r, g) in &a.security_groups {
        security_groups
            .entry(r.clone())
            .or_default()
            .push(g.clone());
    }
    let req = Request {
        targets,
        policy: crate::request::Policy {
            require_encrypted: !a.allow_unencrypted,
            require_ena: !a.allow_no_ena,
            require_imds_v2: !a.allow_imds_v1,
            require_deprecation: !a.allow_no_deprecation,
            boot_mode: a.boot_mode.clone(),
            required_tags: a.require_tags.iter().cloned().collect(),
        },
        launch: crate::request::Launch {
            enabled: !a.no_launch,
            instance_types: a.instance_types.clone(),
            subnets: a.subnets.iter().cloned().collect(),
            security_groups,
            user_data,
            timeout: a.timeout,
            max_parallel: a.max_parallel,
            poll: a.poll,
        },
        guest: crate::request::Guest {
            transport: a.guest.transport.unwrap_or_default(),
            ssh_user: Some(a.guest.ssh_user.clone()),
            ssh_host: a.guest.ssh_host.clone(),
            ssh_private_key_file: a.guest.ssh_key_file.clone(),
            ssh_key_pair_name: a.guest.ssh_key_pair.clone(),
            profile_file: a.guest.checks.profile_file.clone(),
            checks: a.guest.checks.user_checks()?,
            ssh_cidr: a.guest.ssh_cidr.clone(),
            instance_profile: a.guest.instance_profile.clone(),
        },
        run_id: a.run_id.clone().unwrap_or_default(),
    };
    req.check()?;
    Ok(req)
}

/// Runs the command line; returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AMIFORGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("amiforge-validator: cannot start: {e}");
            return Verdict::InfrastructureError.exit_code();
        }
    };
    rt.block_on(async move {
        let home = cli.region.clone().unwrap_or_else(|| "us-east-1".into());
        match cli.command {
            Command::Run(a) => run_command(&home, *a).await,
            Command::Sweep(a) => sweep_command(&home, a).await,
            Command::Serve(a) => serve_command(&home, a).await,
            Command::Check(a) => check_command(*a).await,
        }
    })
}

/// First signal: cancel (the run cleans up). Second: exit now.
fn watch_signals(cancel: CancellationToken) {
    tokio::spawn(async move {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
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

async fn run_command(home: &str, a: RunArgs) -> i32 {
    let req = match request(&a) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("amiforge-validator: bad input:\n{e}");
            return Verdict::BadInput.exit_code();
        }
    };
    let clients = Clients::load(home).await;
    let cancel = CancellationToken::new();
    watch_signals(cancel.clone());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let quiet = a.quiet;
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if !quiet || matches!(e, Event::Verdict { .. } | Event::Started { .. }) {
                println!("{}", e.line());
            }
        }
    });
    let report = match crate::run::run(&clients, req, Sink::new(tx), cancel).await {
        Ok(r) => r,
        Err(e) => crate::run::refused(&e),
    };
    let _ = printer.await;
    let mut code = report.verdict.exit_code();
    if let Some(p) = &a.json
        && let Err(e) = std::fs::write(p, report.to_json())
    {
        eprintln!("amiforge-validator: --json {}: {e}", p.display());
        code = code.max(Verdict::InfrastructureError.exit_code());
    }
    if let Some(p) = &a.junit {
        let written = crate::junit::render(&report).and_then(|x| std::fs::write(p, x));
        if let Err(e) = written {
            eprintln!("amiforge-validator: --junit {}: {e}", p.display());
            code = code.max(Verdict::InfrastructureError.exit_code());
        }
    }
    code
}

/// Prints events (all, or only the verdict when quiet) until the sink closes.
fn printer(quiet: bool) -> (Sink, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let task = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            if !quiet || matches!(e, Event::Verdict { .. }) {
                println!("{}", e.line());
            }
        }
    });
    (Sink::new(tx), task)
}

/// Writes the JSON and JUnit reports asked for; the exit code, raised to 3 when one fails.
fn write_reports(report: &crate::report::Report, json: Option<&Path>, junit: Option<&Path>) -> i32 {
    let mut code = report.verdict.exit_code();
    if let Some(p) = json
        && let Err(e) = std::fs::write(p, report.to_json())
    {
        eprintln!("amiforge-validator: --json {}: {e}", p.display());
        code = code.max(Verdict::InfrastructureError.exit_code());
    }
    if let Some(p) = junit {
        let written = crate::junit::render(report).and_then(|x| std::fs::write(p, x));
        if let Err(e) = written {
            eprintln!("amiforge-validator: --junit {}: {e}", p.display());
            code = code.max(Verdict::InfrastructureError.exit_code());
        }
    }
    code
}

async fn check_command(a: CheckArgs) -> i32 {
    let h = match host_check(&a) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("amiforge-validator: bad input:\n{e}");
            return Verdict::BadInput.exit_code();
        }
    };
    let cancel = CancellationToken::new();
    watch_signals(cancel.clone());
    let (sink, task) = printer(a.quiet);
    let report = crate::guest::host::check_host(&h, &sink, &cancel).await;
    drop(sink);
    let _ = task.await;
    write_reports(&report, a.json.as_deref(), a.junit.as_deref())
}

async fn sweep_command(home: &str, a: SweepArgs) -> i32 {
    let mut regions = a.regions.clone();
    if let Some(p) = &a.manifest {
        match read_manifest(p) {
            Ok(m) => regions.extend(m.regions.keys().cloned()),
            Err(e) => {
                eprintln!("amiforge-validator: bad input:\n{e}");
                return Verdict::BadInput.exit_code();
            }
        }
    }
    regions.sort();
    regions.dedup();
    if let Some(bad) = regions
        .iter()
        .find(|r| !amiforge_model::artifact::is_region(r))
    {
        eprintln!(
            "amiforge-validator: bad input:\n--regions: {bad:?} is not a region name (like eu-west-1)"
        );
        return Verdict::BadInput.exit_code();
    }
    let scope = match (&a.run_id, a.all) {
        (Some(id), _) => Scope::Run(id.clone()),
        (None, true) => Scope::All,
        (None, false) => Scope::Expired,
    };
    let clients = Clients::load(home).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let printer = tokio::spawn(async move {
        while let Some(e) = rx.recv().await {
            println!("{}", e.line());
        }
    });
    let res = sweep::sweep(
        &clients,
        &regions,
        &scope,
        a.dry_run,
        Duration::from_secs(2),
        &Sink::new(tx),
    )
    .await;
    let _ = printer.await;
    match res {
        Ok(s) => {
            for (r, c) in &s.found {
                let verb = if a.dry_run { "would remove" } else { "found" };
                println!(
                    "{r}: {verb} {} instance(s), {} key pair(s), {} security group(s)",
                    c.instances.len(),
                    c.key_pairs.len(),
                    c.security_groups.len()
                );
                for i in c
                    .instances
                    .iter()
                    .chain(&c.key_pairs)
                    .chain(&c.security_groups)
                {
                    println!("  {i}");
                }
            }
            if s.found.is_empty() {
                println!("nothing to sweep in {}", regions.join(", "));
            }
            for e in &s.cleanup.errors {
                eprintln!("amiforge-validator: could not remove: {e}");
            }
            if s.cleanup.errors.is_empty() {
                0
            } else {
                Verdict::InfrastructureError.exit_code()
            }
        }
        Err(e) => {
            eprintln!("amiforge-validator: sweep: {e}");
            Verdict::InfrastructureError.exit_code()
        }
    }
}

async fn serve_command(home: &str, a: ServeArgs) -> i32 {
    let listen = match crate::api::server::Listen::parse(&a.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("amiforge-validator: bad input:\n--listen: {e}");
            return Verdict::BadInput.exit_code();
        }
    };
    let clients = Clients::load(home).await;
    let stop = CancellationToken::new();
    watch_signals(stop.clone());
    if a.stop_on_stdin_close {
        let stop = stop.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            // EOF (or an error) means the parent is gone
            while let Ok(n) = stdin.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            eprintln!("amiforge-validator: stdin closed (the parent went away); shutting down");
            stop.cancel();
        });
    }
    let ready = |addr: &str| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
    };
    match crate::api::server::serve(clients, &listen, a.max_instances as usize, stop, ready).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("amiforge-validator: serve: {e}");
            Verdict::InfrastructureError.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> RunArgs {
        let mut v = vec!["amiforge-validator", "run"];
        v.extend_from_slice(extra);
        match Cli::try_parse_from(v).unwrap().command {
            Command::Run(a) => *a,
            _ => unreachable!(),
        }
    }

    fn check_args(extra: &[&str]) -> Result<CheckArgs, clap::Error> {
        let mut v = vec!["amiforge-validator", "check"];
        v.extend_from_slice(extra);
        match Cli::try_parse_from(v)?.command {
            Command::Check(a) => Ok(*a),
            other => panic!("not check: {other:?}"),
        }
    }

    #[test]
    fn guest_flags_become_the_guest_settings() {
        let dir = tempfile::tempdir().unwrap();
        let checks = dir.path().join("c.toml");
        std::fs::write(
            &checks,
            "[[check]]\nname = \"kernel\"\ncommand = \"uname -r\"\nexpect_output = \"^6\\\\.\"\n",
        )
        .unwrap();
        let key = dir.path().join("k");
        std::fs::write(&key, "x").unwrap();
        let r = request(&args(&[
            "--ami",
            "eu-west-1:ami-0123456789abcdef0",
            "--transport",
            "ssh",
            "--ssh-user",
            "admin",
            "--ssh-host",
            "127.0.0.1:2222",
            "--ssh-key-pair",
            "ci",
            "--ssh-key-file",
            key.to_str().unwrap(),
            "--ssh-cidr",
            "127.0.0.1/32",
            "--check",
            "nginx=systemctl is-active nginx,exit=0,output=^active$",
            "--checks",
            checks.to_str().unwrap(),
        ]))
        .unwrap();
        let g = &r.guest;
        assert_eq!(g.transport, crate::request::Transport::Ssh);
        assert_eq!(g.ssh_user.as_deref(), Some("admin"));
        assert_eq!(g.ssh_key_pair_name.as_deref(), Some("ci"));
        assert_eq!(g.checks.len(), 2);
        assert_eq!(g.checks[0].command, "systemctl is-active nginx");
        assert_eq!(g.checks[0].expect_output.as_deref(), Some("^active$"));
        assert_eq!(g.checks[1].name, "kernel");
        assert_eq!(g.checks[1].expect_output.as_deref(), Some("^6\\."));
        // the default transport stays SSM
        let r = request(&args(&["--ami", "eu-west-1:ami-0123456789abcdef0"])).unwrap();
        assert_eq!(r.guest.transport, crate::request::Transport::Ssm);
    }

    #[test]
    fn bad_guest_flags_are_named() {
        let e = request(&args(&[
            "--ami",
            "eu-west-1:ami-0123456789abcdef0",
            "--transport",
            "ssh",
            "--check",
            "a b=true",
            "--check",
            "re=true,output=(",
        ]))
        .unwrap_err();
        let text = e.to_string();
        for w in [
            "guest.checks[0].name",
            "guest.checks[1].expect_output: not a regex",
            "guest.ssh_cidr: SSH to test instances needs ingress",
        ] {
            assert!(text.contains(w), "{w} missing in {text}");
        }
        assert!(
            Cli::try_parse_from(["amiforge-validator", "run", "--transport", "telnet"]).is_err()
        );
        assert!(Cli::try_parse_from(["amiforge-validator", "run", "--check", "noequals"]).is_err());
        // a key pair name needs its key file
        assert!(
            Cli::try_parse_from(["amiforge-validator", "run", "--ssh-key-pair", "ci"]).is_err()
        );
    }

    #[test]
    fn check_flags_become_a_host_check() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("k");
        std::fs::write(&key, "x").unwrap();
        let sha = "ab".repeat(32);
        let h = host_check(
            &check_args(&[
                "--ssh",
                "admin@127.0.0.1:2222",
                "--key",
                key.to_str().unwrap(),
                "--report-sha256",
                &sha,
                "--check",
                "t=true",
            ])
            .unwrap(),
        )
        .unwrap();
        assert_eq!((h.user.as_str(), h.address.port), ("admin", 2222));
        assert_eq!(
            h.plan.hardening.unwrap().report_sha256.as_deref(),
            Some(sha.as_str())
        );
        assert_eq!(h.plan.checks.len(), 1);
        let e = host_check(
            &check_args(&[
                "--ssh",
                "127.0.0.1",
                "--key",
                "/nonexistent",
                "--report-sha256",
                "abc",
            ])
            .unwrap(),
        )
        .unwrap_err()
        .to_string();
        for w in [
            "--ssh: \"127.0.0.1\": write user@host",
            "--key: cannot read",
            "--report-sha256: \"abc\"",
        ] {
            assert!(e.contains(w), "{w} missing in {e}");
        }
        let e = host_check(
            &check_args(&[
                "--ssh",
                "a@h",
                "--key",
                key.to_str().unwrap(),
                "--no-hardening",
            ])
            .unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("nothing left to check"), "{e}");
        assert!(
            check_args(&[
                "--ssh",
                "a@h",
                "--key",
                "k",
                "--no-hardening",
                "--report-sha256",
                &sha
            ])
            .is_err()
        );
    }

    #[test]
    fn flags_become_a_request() {
        let r = request(&args(&[
            "--ami",
            "eu-west-1:ami-0123456789abcdef0",
            "--kms-key",
            "eu-west-1=alias/images",
            "--require-tag",
            "team=platform",
            "--require-tag",
            "owner",
            "--instance-type",
            "t3.micro",
            "--instance-type",
            "m7g.large",
            "--timeout",
            "5m",
            "--strategy",
            "hybrid",
        ]))
        .unwrap();
        assert_eq!(r.targets[0].expect.kms_key.as_deref(), Some("alias/images"));
        assert_eq!(
            r.targets[0].expect.strategy,
            Some(amiforge_model::Strategy::Hybrid)
        );
        assert_eq!(r.policy.required_tags["team"].as_deref(), Some("platform"));
        assert_eq!(r.policy.required_tags["owner"], None);
        assert_eq!(r.launch.instance_types, ["t3.micro", "m7g.large"]);
        assert_eq!(r.launch.timeout, Duration::from_secs(300));
    }

    #[test]
    fn bad_flags_are_named() {
        let e = request(&args(&[
            "--ami",
            "eu-west-1:ami-0123456789abcdef0",
            "--kms-key",
            "us-west-2=alias/x",
        ]))
        .unwrap_err();
        assert!(e.0[0].starts_with("--kms-key us-west-2"), "{e}");
        let e = request(&args(&[])).unwrap_err();
        assert!(e.0[0].contains("--manifest"), "{e}");
        assert!(Cli::try_parse_from(["amiforge-validator", "run", "--kms-key", "nokey"]).is_err());
        assert!(
            Cli::try_parse_from(["amiforge-validator", "run", "--strategy", "forever"]).is_err()
        );
    }

    #[test]
    fn serve_takes_an_address_and_a_positive_instance_limit() {
        let parse = |extra: &[&str]| {
            let mut v = vec!["amiforge-validator", "serve"];
            v.extend_from_slice(extra);
            Cli::try_parse_from(v).map(|c| c.command)
        };
        match parse(&["--listen", "unix:/run/v.sock"]).unwrap() {
            Command::Serve(a) => assert_eq!(
                (a.listen.as_str(), a.max_instances),
                ("unix:/run/v.sock", 8)
            ),
            c => panic!("{c:?}"),
        }
        assert!(parse(&[]).is_err(), "--listen is required");
        assert!(parse(&["--listen", "127.0.0.1:0", "--max-instances", "0"]).is_err());
    }

    #[test]
    fn a_tampered_manifest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.json");
        std::fs::write(&p, br#"{"not": "a manifest"}"#).unwrap();
        assert!(read_manifest(&p).unwrap_err().0[0].contains("is not a replicate manifest"));
        assert!(
            read_manifest(&dir.path().join("none.json")).unwrap_err().0[0].contains("cannot read")
        );
    }
}
