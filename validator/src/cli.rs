//! The command line: `run` (validate AMIs; JUnit/JSON; exit 0 pass, 1 gate failed, 2 bad input,
//! 3 infrastructure error), `sweep` (remove what killed runs left) and `serve` (the gRPC API,
//! see [`crate::api`]; prints `listening on ADDR` when ready). AWS is reached through the
//! standard credential chain and region; `AWS_ENDPOINT_URL` points it elsewhere (emulators).
//! SIGINT/SIGTERM stop the run and clean up; a second one abandons cleanup (then `sweep`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_aws::manifest::Manifest;
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
    pub strategy: Option<String>,
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
    amiforge_aws::duration::parse(s)
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
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
        BadInput(vec![format!(
            "--manifest: {} is not a replicate manifest: {e}",
            path.display()
        )])
    })?;
    if !m.verify() {
        return Err(BadInput(vec![format!(
            "--manifest: {}: its sha256 does not match its content (edited or truncated?)",
            path.display()
        )]));
    }
    if m.dry_run {
        return Err(BadInput(vec![format!(
            "--manifest: {} records a dry run: there are no AMIs to validate",
            path.display()
        )]));
    }
    Ok(m)
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
            t.expect.strategy = Some(s.clone());
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
        guest: crate::request::Guest::default(),
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
        .find(|r| !amiforge_aws::artifact::is_region(r))
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
        assert_eq!(r.targets[0].expect.strategy.as_deref(), Some("hybrid"));
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
        let e = request(&args(&[
            "--ami",
            "eu-west-1:ami-0123456789abcdef0",
            "--strategy",
            "forever",
        ]))
        .unwrap_err();
        assert!(e.0[0].starts_with("targets[0].expect.strategy"), "{e}");
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
