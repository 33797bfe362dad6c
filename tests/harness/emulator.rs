//! The AWS emulator (tests/emulator/emulator.py: moto as a library, plus pending copies, KMS on
//! copies, client-token idempotency, deprecation and fault injection) as a test fixture: a free
//! 127.0.0.1 port, started per test, killed on drop. Plus what every test does with it through
//! the AWS SDK: [`clients`] for it and [`create_kms_key`].
//!
//! Every emulator runs in eventual-consistency mode (EXT 12: new ids answer NotFound and are
//! missing from filtered describes for a randomized [`consistency`] window), so the whole suite
//! proves amiforge rides it out. `AMIFORGE_EMULATOR_CONSISTENCY=off` (or `MIN:MAX` seconds)
//! changes that when debugging. A test's own look at the emulator's state waits until it is
//! consistent again first ([`Emulator::settle`], [`settle_time`]).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use amiforge_aws::client::{Clients, load_for_endpoint};

use crate::{free_port, workspace};

/// The Python with moto: `AMIFORGE_PYTHON`, else the venv tests/setup.sh makes, else `python3`.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("AMIFORGE_PYTHON") {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("AMIFORGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/amiforge")
        });
    let venv = cache.join("venv/bin/python3");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

/// The region the tests' clients and builds call home (where [`BASE_AMI`] is built from).
pub const HOME_REGION: &str = "us-east-1";

/// How long amiforge (in the tests and the processes they start) waits for a new id to show up
/// before it trusts a NotFound: far above the emulator's window, far below AWS's default.
pub const CLIENT_WINDOW: Duration = Duration::from_secs(20);

/// The emulator's eventual-consistency window (seconds a new id stays hidden, drawn from
/// `min..max`): `AMIFORGE_EMULATOR_CONSISTENCY` = `off` | `MIN:MAX`, default 0.2 to 1 s.
pub fn consistency() -> Option<(f64, f64)> {
    match std::env::var("AMIFORGE_EMULATOR_CONSISTENCY") {
        Ok(v) if v == "off" || v == "0" => None,
        Ok(v) => {
            let (lo, hi) = v.split_once(':').unwrap_or((&v, &v));
            let n = |x: &str| {
                x.trim().parse::<f64>().unwrap_or_else(|_| {
                    panic!("AMIFORGE_EMULATOR_CONSISTENCY={v}: MIN:MAX seconds")
                })
            };
            Some((n(lo), n(hi)))
        }
        Err(_) => Some((0.2, 1.0)),
    }
}

/// How long after its last create the emulator is surely consistent again (for checks that have
/// no [`Emulator`] at hand, like "nothing left" by filtered describes).
pub fn settle_time() -> Duration {
    Duration::from_secs_f64(consistency().map_or(0.0, |(_, hi)| hi) + 0.1)
}

/// amiforge-aws clients talking to `emu` (home region [`HOME_REGION`], test credentials), with
/// the tests' [`CLIENT_WINDOW`].
pub async fn clients(emu: &Emulator) -> Clients {
    Clients::new(load_for_endpoint(HOME_REGION, &emu.endpoint()).await)
        .with_consistency_window(CLIENT_WINDOW)
}

/// A customer managed KMS key in `region`, with `alias` (`alias/…`) pointing at it when given;
/// returns the key's ARN.
pub async fn create_kms_key(c: &Clients, region: &str, alias: Option<&str>) -> String {
    let k = c
        .kms(region)
        .create_key()
        .description("amiforge test")
        .send()
        .await
        .expect("CreateKey");
    let meta = k
        .key_metadata()
        .expect("CreateKey returns the key's metadata");
    if let Some(alias) = alias {
        c.kms(region)
            .create_alias()
            .alias_name(alias)
            .target_key_id(meta.key_id())
            .send()
            .await
            .expect("CreateAlias");
    }
    meta.arn().expect("a key ARN").to_string()
}

/// The base image every emulator starts with.
pub const BASE_AMI: &str = "ami-0e1a1a1a1a1a1a1a1";

pub struct Emulator {
    pub port: u16,
    child: Child,
}

impl Emulator {
    /// Starts an emulator whose copies take `copy_seconds` to become available. It holds one
    /// public base AMI, [`BASE_AMI`], in every region (what `source_ami` in templates points at).
    pub fn start(copy_seconds: f64) -> Emulator {
        let port = free_port();
        let seed =
            std::env::temp_dir().join(format!("amiforge-seed-{}-{port}.json", std::process::id()));
        std::fs::write(
            &seed,
            format!(
                r#"[{{"ami_id": "{BASE_AMI}", "name": "debian-12-base", "owner_id": "136693071363", "public": true,
                     "architecture": "x86_64", "root_device_type": "ebs", "creation_date": "2026-01-01T00:00:00.000Z",
                     "ena_support": true, "imds_support": "v2.0", "boot_mode": "uefi"}}]"#
            ),
        )
        .expect("write the seed file");
        let mut cmd = Command::new(python());
        cmd.arg(workspace().join("tests/emulator/emulator.py"))
            .args([
                "--port",
                &port.to_string(),
                "--copy-seconds",
                &copy_seconds.to_string(),
            ])
            .arg("--seed-amis")
            .arg(&seed);
        if let Some((lo, hi)) = consistency() {
            cmd.arg("--consistency").arg(format!("{lo}:{hi}"));
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator (tests/setup.sh installs moto)");
        let out = child.stdout.take().expect("stdout");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = BufReader::new(out).lines();
        loop {
            match lines.next() {
                Some(Ok(l)) if l.starts_with("EMULATOR READY") => break,
                Some(Ok(_)) => {}
                _ => {
                    let _ = child.kill();
                    let _ = std::fs::remove_file(&seed);
                    panic!("the emulator did not start (is moto installed? run tests/setup.sh)");
                }
            }
            assert!(Instant::now() < deadline, "emulator start timed out");
        }
        // read at start-up only
        let _ = std::fs::remove_file(&seed);
        Emulator { port, child }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An HCL2 `amazon-ebs` source named `web` that builds from [`BASE_AMI`] in us-east-1 on this
    /// emulator (Packer's custom-endpoint options, test credentials, 1 s polling), with `settings`
    /// (communicator, encryption, …) added inside the block.
    pub fn amazon_ebs_source(&self, settings: &str) -> String {
        format!(
            r#"source "amazon-ebs" "web" {{
  region                      = "us-east-1"
  custom_endpoint_ec2         = "{endpoint}"
  skip_credential_validation  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  access_key                  = "testing"
  secret_key                  = "testing"
  source_ami                  = "{BASE_AMI}"
  instance_type               = "t3.micro"
  ami_name                    = "web-{{{{timestamp}}}}"
  aws_polling {{
    delay_seconds = 1
    max_attempts  = 60
  }}
{settings}
}}
"#,
            endpoint = self.endpoint(),
        )
    }

    /// Environment for processes (plugins, Packer) that should talk to this emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
            (
                "AMIFORGE_CONSISTENCY_WINDOW".into(),
                format!("{}s", CLIENT_WINDOW.as_secs()),
            ),
        ]
    }

    /// Waits until every id the emulator hides (eventual-consistency mode) is visible: what a
    /// test does before it looks at the emulator's state itself.
    pub fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let st: serde_json::Value =
                serde_json::from_str(self.http("GET", "/__emulator/consistency", None).trim())
                    .unwrap_or_default();
            let left = st["visible_in"].as_f64().unwrap_or(0.0);
            if st["hidden"].as_u64().unwrap_or(0) == 0 || left <= 0.0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the emulator never settled: {st}"
            );
            std::thread::sleep(Duration::from_secs_f64(left.min(1.0) + 0.02));
        }
    }

    fn http(&self, method: &str, path: &str, body: Option<&str>) -> String {
        use std::io::{Read, Write};
        let mut s =
            std::net::TcpStream::connect(("127.0.0.1", self.port)).expect("connect emulator");
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .expect("write");
        let mut resp = String::new();
        s.read_to_string(&mut resp).expect("read");
        let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
        assert!(
            head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
            "{method} {path}: {head}"
        );
        body.to_string()
    }

    /// Sets copy duration and faults (see tests/emulator/README.md).
    pub fn configure(&self, config: &serde_json::Value) {
        self.http("POST", "/__emulator/config", Some(&config.to_string()));
    }

    /// POST to a control endpoint (`/__emulator/PATH`), e.g. `image` to change an AMI's
    /// attributes; returns the answer.
    pub fn post(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let out = self.http(
            "POST",
            &format!("/__emulator/{path}"),
            Some(&body.to_string()),
        );
        serde_json::from_str(out.trim()).unwrap_or_default()
    }

    /// Every API call the emulator saw.
    pub fn log(&self) -> Vec<serde_json::Value> {
        let body = self.http("GET", "/__emulator/log", None);
        serde_json::from_str(body.trim()).unwrap_or_default()
    }

    /// How many calls of `action` the emulator saw (optionally only with `outcome`).
    pub fn count(&self, action: &str, outcome: Option<&str>) -> usize {
        self.log()
            .iter()
            .filter(|e| e["action"] == action && outcome.is_none_or(|o| e["outcome"] == o))
            .count()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
