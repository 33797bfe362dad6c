//! Provisioner `amiforge-harden`: applies a declarative hardening profile in one script run
//! and brings back a sha256-carrying report, a CycloneDX SBOM and an on-image evidence copy.
//!
//! Round trips through Packer's communicator: 1 upload (the compiled script) and 1 command. In
//! enforce mode the command, after reporting every control and the package inventory, reads the
//! evidence archive (report + SBOM) from its stdin and installs it under `/etc/amiforge`, so no
//! further upload or `sudo mv` is needed. The script deletes itself.

mod config;
mod evidence;
mod summary;

use std::collections::BTreeMap;

use amiforge_profile::compile::{Language, compile};
use amiforge_profile::evidence as on_image;
use amiforge_profile::report::{self, Report};
use amiforge_profile::results::{Collected, ControlResult, Status};
use amiforge_profile::{Mode, Severity};
use anyhow::Context;
use packer_sdk::communicator::LineSplitter;
use packer_sdk::{ConfigErrors, PackerConfig, ProvisionContext, Provisioner, async_trait};

pub use config::{FailOn, HardenConfig, Prepared};

/// The provisioner.
pub struct Harden {
    p: Prepared,
    packer: PackerConfig,
}

#[async_trait]
impl Provisioner for Harden {
    type Config = HardenConfig;

    fn prepare(config: HardenConfig, packer: &PackerConfig) -> Result<Self, ConfigErrors> {
        Ok(Harden {
            p: config::prepare(config, packer)?,
            packer: packer.clone(),
        })
    }

    async fn provision(&self, ctx: ProvisionContext) -> anyhow::Result<()> {
        tokio::select! {
            r = self.run(&ctx) => r,
            _ = ctx.cancel.cancelled() => anyhow::bail!("amiforge-harden: cancelled"),
        }
    }
}

impl Harden {
    async fn run(&self, ctx: &ProvisionContext) -> anyhow::Result<()> {
        let r = &self.p.resolved;
        let script = compile(r);
        let active = r.controls.iter().filter(|c| c.skip.is_none()).count();
        let mode = r.mode.name();
        ctx.ui
            .say(format!(
                "amiforge-harden: profile {} {} ({mode}): {active} of {} controls active, script sha256 {}",
                r.name,
                r.version,
                r.controls.len(),
                &script.sha256[..12]
            ))
            .await?;
        let ext = match script.language {
            Language::Sh => "sh",
            Language::PowerShell => "ps1",
        };
        let remote = format!(
            "{}/amiforge-harden-{}.{ext}",
            self.p.remote_folder.trim_end_matches('/'),
            &script.sha256[..16]
        );
        ctx.comm
            .upload_bytes(&remote, script.text.clone().into_bytes(), 0o600)
            .await
            .context("uploading the hardening script")?;
        let command = self.command(ctx, &remote);
        // Linux receives the evidence on stdin; Windows names a path to upload it to.
        let (mut proc, stdin) = if r.mode == Mode::Enforce && script.language == Language::Sh {
            let (p, s) = ctx.comm.start_with_stdin(&command).await?;
            (p, Some(s))
        } else {
            (ctx.comm.start(&command).await?, None)
        };
        let mut stdin = stdin;
        let mut run = Collected::default();
        let mut lines = LineSplitter::default();
        let mut evidence: Option<(Report, Vec<u8>)> = None;
        let mut problems: Vec<String> = Vec::new();
        while let Some(chunk) = proc.next_output().await {
            for (is_err, line) in lines.push(chunk) {
                if is_err {
                    ctx.ui.message(format!("  | {line}")).await?;
                    continue;
                }
                if let Err(e) = run.push_line(&line) {
                    problems.push(e);
                    continue;
                }
                if let Some(res) = run.results.last()
                    && line.starts_with(amiforge_profile::results::RESULT)
                {
                    ctx.ui.message(self.progress_line(res)).await?;
                }
                if run.awaiting_evidence && evidence.is_none() && problems.is_empty() {
                    match self.build_report(ctx, &script.sha256, &run) {
                        Ok((report, sbom)) => {
                            self.deliver(ctx, &run, stdin.take(), &report, &sbom)
                                .await?;
                            evidence = Some((report, sbom));
                        }
                        Err(e) => problems.push(format!("{e:#}")),
                    }
                }
            }
        }
        if let Some(s) = stdin.take() {
            let _ = s.finish(&[]).await;
        }
        let code = proc.wait().await?;
        for (_, line) in lines.finish() {
            let _ = run.push_line(&line);
        }
        if !problems.is_empty() {
            anyhow::bail!(
                "amiforge-harden: the script's output is not usable: {}",
                problems.join("; ")
            );
        }
        let (report, sbom) = match evidence {
            Some(e) => e,
            None => self.build_report(ctx, &script.sha256, &run)?,
        };
        if code != 0 || !run.done {
            anyhow::bail!(
                "amiforge-harden: the script exited with status {code} after {} of {} controls{}",
                run.results.len(),
                r.controls.len(),
                if run.done { "" } else { " (it did not finish)" }
            );
        }
        let written = evidence::write_host_files(&self.p.report_path, &report, &sbom)?;
        for line in summary::table(&report) {
            ctx.ui.message(line).await?;
        }
        ctx.ui
            .say(format!(
                "amiforge-harden: report {} (sha256 {}), SBOM {} ({} packages){}",
                written.report.display(),
                &written.report_sha256[..12],
                written.sbom.display(),
                report.sbom.components,
                evidence_note(r.mode, script.language)
            ))
            .await?;
        self.verdict(&report)
    }

    /// Hands the evidence to the waiting script: on its stdin (Linux) or as an upload to the
    /// path it named (Windows, one upload while the script polls).
    async fn deliver(
        &self,
        ctx: &ProvisionContext,
        run: &Collected,
        stdin: Option<packer_sdk::communicator::Stdin>,
        report: &Report,
        sbom: &[u8],
    ) -> anyhow::Result<()> {
        match (stdin, &run.evidence_path) {
            (Some(stdin), _) => {
                let archive = evidence::archive(report, sbom)?;
                stdin.finish(&archive).await.context("sending the evidence")
            }
            (None, Some(path)) => {
                let doc = evidence::upload_document(report, sbom)?;
                ctx.comm
                    .upload_bytes(&path.replace('\\', "/"), doc, 0o600)
                    .await
                    .map(drop)
                    .context("uploading the evidence")
            }
            (None, None) => {
                anyhow::bail!("the script asked for evidence but has no way to receive it")
            }
        }
    }

    fn command(&self, ctx: &ProvisionContext, remote: &str) -> String {
        if self.p.resolved.os == amiforge_profile::Os::Windows {
            let quoted = format!("\"{remote}\"");
            return match &self.p.execute_command {
                Some(c) => c.replace("{{.Path}}", &quoted),
                None => format!(
                    "powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File {quoted}"
                ),
            };
        }
        let quoted = format!("'{remote}'");
        match &self.p.execute_command {
            Some(c) => c.replace("{{.Path}}", &quoted),
            None => {
                let user = ctx
                    .generated
                    .get("User")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                if user == "root" {
                    format!("sh {quoted}")
                } else {
                    format!("sudo -n sh {quoted}")
                }
            }
        }
    }

    fn progress_line(&self, res: &ControlResult) -> String {
        let title = self
            .p
            .resolved
            .get(&res.id)
            .map(|p| p.control.title.as_str())
            .unwrap_or("");
        let mut s = format!("  {:<15} {:<9} {title}", res.status.label(), res.id);
        if matches!(
            res.status,
            Status::Failed | Status::Fixed | Status::NotVerifiable
        ) && !res.detail.is_empty()
        {
            s.push_str(&format!(" ({})", res.detail));
        }
        s
    }

    fn build_report(
        &self,
        ctx: &ProvisionContext,
        script_sha256: &str,
        run: &Collected,
    ) -> anyhow::Result<(Report, Vec<u8>)> {
        let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
        let facts = run.facts.clone().unwrap_or_default();
        let serial = evidence::serial(&run.results_text, &now);
        let sbom = report::sbom(&facts, &run.packages, &now, &serial);
        let mut build = BTreeMap::new();
        build.insert("packer_build_name".into(), self.packer.build_name.clone());
        build.insert(
            "packer_builder_type".into(),
            self.packer.builder_type.clone(),
        );
        if let Some(id) = ctx.generated.get("PackerRunUUID").and_then(|v| v.as_str()) {
            build.insert("packer_run_uuid".into(), id.to_string());
        }
        if let Some(id) = ctx.generated.get("ID").and_then(|v| v.as_str()) {
            build.insert("instance_id".into(), id.to_string());
        }
        let source = self.p.loaded.source.report_source();
        let sbom_sha256 = amiforge_model::sha256_hex(&sbom);
        let info = report::RunInfo {
            source: &source,
            excluded: &self.p.exclude,
            script_sha256,
            sbom_sha256: &sbom_sha256,
            build,
            generated_at: now,
        };
        let report = report::build(&self.p.resolved, info, run)?;
        Ok((report, sbom))
    }

    fn verdict(&self, report: &Report) -> anyhow::Result<()> {
        let FailOn::AtLeast(min) = self.p.fail_on else {
            return Ok(());
        };
        let failed: Vec<String> = report
            .results
            .iter()
            .filter(|r| r.status == Status::Failed && r.severity >= min)
            .map(|r| format!("{} ({})", r.id, r.detail))
            .collect();
        if failed.is_empty() {
            return Ok(());
        }
        let scope = if min == Severity::Low {
            String::new()
        } else {
            format!(" at severity {min:?} or worse")
        };
        anyhow::bail!(
            "amiforge-harden: {} control(s) failed{scope}: {} (fail_on decides which failures fail the build)",
            failed.len(),
            failed.join("; ")
        )
    }
}

/// Where an enforce run left the evidence on the image, for the closing UI line.
fn evidence_note(mode: Mode, language: Language) -> String {
    let dir = match (mode, language) {
        (Mode::Audit, _) => return String::new(),
        (Mode::Enforce, Language::Sh) => on_image::LINUX_DIR.to_string(),
        (Mode::Enforce, Language::PowerShell) => on_image::windows_dir_display(),
    };
    format!("; evidence in {dir} on the image")
}
