//! Post-processor `amiforge-validate`: the validation gate inside `packer build`. It sends the
//! release (the replicate manifest, or the input's `region:ami` pairs) to an amiforge-validator
//! over gRPC (a given `address`, or a local `amiforge-validator serve` on a private unix socket),
//! streams the validator's events into Packer's UI, writes the JSON and JUnit reports, and then:
//!
//! - passed: tags every AMI `amiforge:validation = passed` and moves the approved SSM pointer;
//! - anything else: fails the build, the pointer stays where it was, and the AMIs are deleted
//!   (default) or kept tagged `failed` and deprecated (`on_failure = "keep"`).
//!
//! The gate does this itself because Packer does not: a post-processor that fails after
//! `amiforge-replicate` neither keeps nor destroys the replicated AMIs (Packer 1.6.6 build.go).

mod artifact;
mod config;
pub mod outcome;
mod server;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use amiforge_aws::client::Clients;
use amiforge_model::manifest::Manifest;
use amiforge_validator_api::events::Event;
use amiforge_validator_api::report::{Report, Verdict};
use amiforge_validator_api::request::{self, Request, Target};
use amiforge_validator_api::{convert, pb, report::Status};
use anyhow::{Context, bail};
use packer_sdk::{
    ConfigErrors, PackerConfig, PostProcessContext, PostProcessOutput, PostProcessor, async_trait,
};

pub use artifact::{BUILDER_ID, ValidatedArtifact};
pub use config::{Settings, ValidateConfig, validate as settings};

pub struct Validate {
    s: Settings,
}

#[async_trait]
impl PostProcessor for Validate {
    type Config = ValidateConfig;

    fn configure(config: ValidateConfig, packer: &PackerConfig) -> Result<Self, ConfigErrors> {
        Ok(Validate {
            s: config::validate(config, packer)?,
        })
    }

    async fn post_process(&self, ctx: PostProcessContext) -> anyhow::Result<PostProcessOutput> {
        let input = crate::input::read(
            &ctx,
            "amiforge-validate",
            &[crate::replicate::BUILDER_ID, BUILDER_ID],
            "AMIs (amazon-ebs, amazon-ebssurrogate, amazon-chroot, amiforge-replicate)",
        )
        .await?;
        let home = input.build_region().context("input artifact has no AMI")?;
        let crate::input::Input {
            id,
            amis,
            generated,
            ..
        } = input;
        let manifest_json = ctx
            .input
            .state("amiforge.manifest")
            .await
            .unwrap_or(serde_json::Value::Null);
        let manifest: Option<Manifest> = serde_json::from_value(manifest_json.clone()).ok();
        let registered = artifact::registered(&ctx.input).await;
        let clients = Arc::new(Clients::load(&home).await);
        let request = self.request(manifest.as_ref(), &amis)?;

        let ui = ctx.ui.clone();
        let _ = ui
            .say(format!(
                "amiforge-validate: validating {} AMI(s) (one per region){}",
                amis.len(),
                if self.s.launch.launch {
                    format!(
                        " on {} ({} test instance(s))",
                        self.s.launch.instance_types.join(", "),
                        amis.len() * self.s.launch.instance_types.len()
                    )
                } else {
                    " (attributes only)".into()
                }
            ))
            .await;

        let outcome = self.run_gate(request, &ctx).await;
        let images = outcome::images(&clients, manifest.as_ref(), &amis).await;
        let (verdict, summary, report) = match outcome {
            Ok(o) if !ctx.cancel.is_cancelled() => o,
            // no verdict (cancelled, validator unreachable, stream broken): not approved either
            other => {
                let why = match other {
                    Err(e) => format!("{e:#}"),
                    Ok(_) => "cancelled".to_string(),
                };
                self.reject(&ui, &clients, &images, "none").await;
                bail!("amiforge-validate: no verdict: {why}; the approved pointer was not moved");
            }
        };
        self.write_reports(&report)?;
        if verdict == Verdict::Passed {
            let lines = outcome::promote(
                &clients,
                &images,
                &report.run_id,
                &self.s.validated_tags,
                self.s.approved_parameter.as_deref(),
            )
            .await
            .map_err(|e| {
                anyhow::anyhow!("amiforge-validate: the gate passed but promoting failed: {e}")
            })?;
            for l in lines {
                let _ = ui.say(format!("amiforge-validate: {l}")).await;
            }
            let description = format!(
                "AMIs validated (run {}):\n{}",
                report.run_id,
                images
                    .iter()
                    .map(|i| format!("{}: {}", i.region, i.ami))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            let files = vec![
                self.s.report_path.display().to_string(),
                self.s.junit_path.display().to_string(),
            ];
            let registry = artifact::registry_images(&images, &registered, &generated, &report);
            return Ok(PostProcessOutput {
                artifact: Some(Arc::new(ValidatedArtifact {
                    id,
                    files,
                    description,
                    generated,
                    manifest: manifest_json,
                    report: serde_json::to_value(&report).unwrap_or_default(),
                    registry,
                    images,
                    clients,
                })),
                // the input is the same AMIs: keep it, never let Packer destroy it
                keep: true,
                force_override: true,
            });
        }
        // not passed: the pointer does not move; the AMIs go, or stay marked failed
        self.reject(&ui, &clients, &images, &report.run_id).await;
        let what = match verdict {
            Verdict::GateFailed => "the validation gate failed",
            Verdict::BadInput => "the validator refused the request",
            _ => "the validation could not finish",
        };
        bail!(
            "amiforge-validate: {what}: {summary} (reports: {}, {}); the approved pointer was not moved",
            self.s.report_path.display(),
            self.s.junit_path.display()
        )
    }
}

impl Validate {
    /// The gRPC request for this release: the manifest's targets (with what replicate recorded
    /// about each AMI) or the input's `region:ami` pairs, and this gate's settings.
    fn request(
        &self,
        manifest: Option<&Manifest>,
        amis: &BTreeMap<String, String>,
    ) -> anyhow::Result<pb::ValidateRequest> {
        let s = &self.s;
        let targets = match manifest {
            Some(m) => request::manifest::targets(m),
            None => amis
                .iter()
                .map(|(region, ami)| Target {
                    region: region.clone(),
                    ami: ami.clone(),
                    expect: Default::default(),
                })
                .collect(),
        };
        let mut req = request::files::read_files(Request {
            targets,
            policy: s.policy.clone(),
            launch: s.launch.clone(),
            guest: s.guest.clone(),
            run_id: String::new(),
        })
        .map_err(|e| anyhow::anyhow!("{}", config::as_attributes(&e)))?;
        // the validator started for this build holds the key; the request names it
        if req.guest.ssh_private_key_file.take().is_some() {
            req.guest.ssh_private_key_name = Some(server::GATE_KEY.into());
        }
        Ok(convert::to_proto(&req))
    }

    /// Runs the gate on the given validator, or on one started for this build (stopped again,
    /// after its cleanup, whatever happened).
    async fn run_gate(
        &self,
        request: pb::ValidateRequest,
        ctx: &PostProcessContext,
    ) -> anyhow::Result<(Verdict, String, Report)> {
        let ui = &ctx.ui;
        if let Some(address) = &self.s.address {
            let _ = ui
                .message(format!(
                    "amiforge-validate: validator at {address} (shared)"
                ))
                .await;
            return self.stream(address, request, ctx).await;
        }
        let bin = server::locate(self.s.validator_path.as_deref())?;
        let local = server::LocalValidator::start(
            &bin,
            self.s.launch.max_parallel as usize,
            self.s.guest.ssh_private_key_file.as_deref(),
            Duration::from_secs(30),
        )
        .await?;
        let _ = ui
            .message(format!(
                "amiforge-validate: validator at {} (started for this build)",
                local.address
            ))
            .await;
        let outcome = self.stream(&local.address, request, ctx).await;
        // the server finishes every cleanup before it exits
        let wait = self.s.launch.timeout + Duration::from_secs(300);
        if let Err(e) = local.stop(wait).await {
            let _ = ui.error(format!("amiforge-validate: {e:#}")).await;
        }
        outcome
    }

    /// Calls Validate and streams its events into the UI until the verdict (or a cancel, which
    /// drops the call: the validator then cancels the run and cleans up).
    async fn stream(
        &self,
        address: &str,
        request: pb::ValidateRequest,
        ctx: &PostProcessContext,
    ) -> anyhow::Result<(Verdict, String, Report)> {
        use pb::validate_event::Event as E;
        let ui = &ctx.ui;
        let mut client = amiforge_validator_api::client::connect_with(address, &self.s.credentials)
            .await
            .with_context(|| format!("connecting to the validator at {address}"))?;
        let mut stream = tokio::select! {
            r = client.validate(request) => r.map_err(|s| anyhow::anyhow!("the validator refused the request: {}", s.message()))?.into_inner(),
            _ = ctx.cancel.cancelled() => bail!("cancelled"),
        };
        loop {
            let msg = tokio::select! {
                m = stream.message() => m.map_err(|s| anyhow::anyhow!("the validator stream broke: {}", s.message()))?,
                _ = ctx.cancel.cancelled() => bail!("cancelled"),
            };
            let Some(ev) = msg.and_then(|m| m.event) else {
                bail!("the validator ended the stream without a verdict");
            };
            if let E::Verdict(v) = &ev {
                let report: Report = serde_json::from_slice(&v.report_json)
                    .context("the validator's report does not parse")?;
                let _ = ui
                    .say(format!("amiforge-validate: verdict: {}", v.summary))
                    .await;
                return Ok((report.verdict, v.summary.clone(), report));
            }
            let Some(e) = convert::event_from_proto(pb::ValidateEvent { event: Some(ev) }) else {
                continue;
            };
            let line = format!("amiforge-validate: {}", e.line());
            let _ = match &e {
                Event::Started { .. } => ui.say(line).await,
                Event::Check { check, .. }
                    if !matches!(check.status, Status::Passed | Status::Skipped) =>
                {
                    ui.error(line).await
                }
                _ => ui.message(line).await,
            };
        }
    }

    /// Applies `on_failure` to the release and says what it did.
    async fn reject(
        &self,
        ui: &packer_sdk::Ui,
        clients: &Clients,
        images: &[outcome::Image],
        run_id: &str,
    ) {
        match outcome::reject(clients, images, run_id, self.s.keep_failed).await {
            Ok(lines) => {
                for l in lines {
                    let _ = ui.error(format!("amiforge-validate: {l}")).await;
                }
            }
            Err(e) => {
                let _ = ui
                    .error(format!(
                        "amiforge-validate: could not apply on_failure to every AMI: {e}"
                    ))
                    .await;
            }
        }
    }

    fn write_reports(&self, report: &Report) -> anyhow::Result<()> {
        for p in [&self.s.report_path, &self.s.junit_path] {
            if let Some(d) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            }
        }
        std::fs::write(&self.s.report_path, report.to_json())
            .with_context(|| format!("report_path: writing {}", self.s.report_path.display()))?;
        let junit = amiforge_validator_api::junit::render(report).context("rendering JUnit")?;
        std::fs::write(&self.s.junit_path, junit)
            .with_context(|| format!("junit_path: writing {}", self.s.junit_path.display()))?;
        Ok(())
    }
}
