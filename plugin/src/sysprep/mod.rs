//! Provisioner `amiforge-sysprep`: the last provisioner of a Windows build. It generalises the
//! machine the way its EC2 launch agent expects, so Packer's builder can stop the instance and
//! create the AMI.
//!
//! Round trips through Packer's communicator: upload the probe, run it (agents, OS build,
//! readiness facts) → decide the agent and check readiness on the Packer host (pure functions) →
//! upload the answer file to the agent's path (if configured) → upload the sysprep script, run
//! it, streaming its output into the UI. A failure brings back the evidence the script prints
//! (Panther logs, the agent's logs, `ImageState`) into the UI and into a file on the Packer host;
//! the build fails with the agent's own message.

pub mod config;
pub mod detect;
pub mod readiness;
pub mod scripts;
pub mod scrub;
pub mod unattend;

use std::path::Path;

use anyhow::Context;
use packer_sdk::communicator::LineSplitter;
use packer_sdk::secrets::redact;
use packer_sdk::{ConfigErrors, PackerConfig, ProvisionContext, Provisioner, async_trait};

pub use config::{Settings, SysprepConfig};
use detect::{Agent, Decision, Probe, TAG, describe_build};
use readiness::Verdict;
use scripts::RunPlan;
use scrub::Scrub;
use unattend::AnswerSettings;

/// How long a no-shutdown run waits for `IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE`.
pub const WAIT_SECONDS: u32 = 900;

/// The provisioner.
pub struct Sysprep {
    s: Settings,
}

#[async_trait]
impl Provisioner for Sysprep {
    type Config = SysprepConfig;

    fn prepare(config: SysprepConfig, packer: &PackerConfig) -> Result<Self, ConfigErrors> {
        Ok(Sysprep {
            s: config::prepare(config, packer)?,
        })
    }

    async fn provision(&self, ctx: ProvisionContext) -> anyhow::Result<()> {
        tokio::select! {
            r = self.run(&ctx) => r,
            _ = ctx.cancel.cancelled() => anyhow::bail!("amiforge-sysprep: cancelled"),
        }
    }
}

/// The PowerShell command that runs a script file.
pub fn command(path: &str) -> String {
    format!("powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -File \"{path}\"")
}

/// Remote path of a generated script: the folder, its kind and a digest of its text.
pub fn script_path(folder: &str, kind: &str, text: &str) -> String {
    format!(
        "{folder}/amiforge-sysprep-{kind}-{}.ps1",
        &amiforge_model::sha256_hex(text.as_bytes())[..16]
    )
}

/// What the sysprep script reported.
#[derive(Debug, Default)]
struct Outcome {
    removed: Vec<String>,
    scrubbed: bool,
    failed: Option<String>,
    evidence: Vec<(String, String)>,
    shutting_down: bool,
    done: Option<String>,
}

impl Sysprep {
    async fn run(&self, ctx: &ProvisionContext) -> anyhow::Result<()> {
        let s = &self.s;
        let probe = self.probe(ctx).await?;
        let (decision, verdict) = self.decide(ctx, &probe).await?;
        let agent = decision.agent;
        if let Some(answer) = &s.answer {
            self.upload_answer_file(ctx, answer, agent, &probe).await?;
        }
        let plan = RunPlan {
            agent,
            shutdown: s.shuts_down(agent),
            clean_logs: s.clean_logs,
            scrub: s
                .admin_password
                .as_ref()
                .map(|p| Scrub::new(p, &scrub::random_salt())),
            remove_appx: verdict.remove_appx,
            wait_seconds: WAIT_SECONDS,
        };
        let text = scripts::run_script(&plan);
        let path = script_path(&s.remote_folder, "run", &text);
        ctx.comm
            .upload_bytes(&path, text.into_bytes(), 0o600)
            .await
            .context("uploading the sysprep script")?;
        ctx.ui
            .say(format!(
                "amiforge-sysprep: {} ({})",
                scripts::agent_commands(&plan).join(", then "),
                if plan.shutdown {
                    "the agent shuts the instance down; the source needs disable_stop_instance = true"
                } else {
                    "no shutdown: Packer's builder stops the instance"
                }
            ))
            .await?;
        let (outcome, exit) = self.stream(ctx, &command(&path)).await?;
        self.report_removed(ctx, &outcome).await?;
        if plan.shutdown && outcome.shutting_down && outcome.failed.is_none() {
            // the connection may drop or the command end without a status while Windows goes down
            ctx.ui
                .say("amiforge-sysprep: sysprep started; the instance shuts itself down")
                .await?;
            return Ok(());
        }
        let code = match exit {
            Ok(c) => c,
            Err(e) if outcome.failed.is_none() => {
                return Err(anyhow::anyhow!(e)).context("amiforge-sysprep: the sysprep command");
            }
            Err(_) => 1,
        };
        if code != 0 || outcome.failed.is_some() || outcome.done.is_none() {
            return Err(self.failure(ctx, agent, code, &outcome).await);
        }
        ctx.ui
            .say(format!(
                "amiforge-sysprep: generalised ({}); Packer's builder can stop the instance and create the AMI",
                outcome.done.as_deref().unwrap_or("")
            ))
            .await?;
        Ok(())
    }

    /// Uploads and runs the probe; what it saw.
    async fn probe(&self, ctx: &ProvisionContext) -> anyhow::Result<Probe> {
        let s = &self.s;
        ctx.ui
            .say("amiforge-sysprep: probing the machine (launch agents, Windows build, readiness)")
            .await?;
        let probe_text = scripts::probe_script(s.answer.is_some());
        let probe_path = script_path(&s.remote_folder, "probe", &probe_text);
        ctx.comm
            .upload_bytes(&probe_path, probe_text.into_bytes(), 0o600)
            .await
            .context("uploading the probe")?;
        let (code, out, err) = ctx
            .comm
            .run_capture(&command(&probe_path))
            .await
            .context("running the probe")?;
        let out = String::from_utf8_lossy(&out);
        match Probe::parse(out.lines()) {
            Ok(p) if code == 0 => Ok(p),
            r => {
                let why = r.err().unwrap_or_else(|| format!("exit status {code}"));
                let err = String::from_utf8_lossy(&err);
                anyhow::bail!(
                    "amiforge-sysprep: the probe failed ({why}){}",
                    if err.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", redact(err.trim()))
                    }
                );
            }
        }
    }

    /// The agent and the readiness verdict, shown in the UI; refuses when the machine is not
    /// ready.
    async fn decide(
        &self,
        ctx: &ProvisionContext,
        probe: &Probe,
    ) -> anyhow::Result<(Decision, Verdict)> {
        let s = &self.s;
        let decision = detect::decide(s.agent, s.release, probe)
            .map_err(|e| anyhow::anyhow!("amiforge-sysprep: {e}"))?;
        tracing::info!(
            agent = decision.agent.name(),
            build = decision.build,
            "sysprep agent chosen"
        );
        let version = probe
            .agent(decision.agent)
            .map(|f| f.get("version").to_string())
            .unwrap_or_default();
        ctx.ui
            .say(format!(
                "amiforge-sysprep: {} {} on {}{}",
                decision.agent.name(),
                version,
                describe_build(decision.build),
                match s.agent {
                    config::AgentChoice::Auto => " (detected)",
                    config::AgentChoice::Fixed(_) => " (agent set)",
                }
            ))
            .await?;
        for n in &decision.notes {
            ctx.ui.message(format!("  note: {n}")).await?;
        }
        let verdict = readiness::check(
            probe,
            &decision,
            &s.readiness,
            s.answer.as_ref().map(|a| a.arch),
        );
        for w in &verdict.warnings {
            ctx.ui.message(format!("  warning: {w}")).await?;
        }
        if !verdict.refusals.is_empty() {
            for r in &verdict.refusals {
                ctx.ui.error(format!("  not ready: {r}")).await?;
            }
            anyhow::bail!(
                "amiforge-sysprep: refusing to sysprep: {}",
                verdict.refusals.join("; ")
            );
        }
        Ok((decision, verdict))
    }

    /// Writes the answer file where `agent` reads it, merged into the agent's own.
    async fn upload_answer_file(
        &self,
        ctx: &ProvisionContext,
        answer: &AnswerSettings,
        agent: Agent,
        probe: &Probe,
    ) -> anyhow::Result<()> {
        let existing = probe.answer_files.get(&agent).map(Vec::as_slice);
        let (xml, origin) = unattend::render_for_agent(answer, existing)
            .map_err(|e| anyhow::anyhow!("amiforge-sysprep: answer file: {e}"))?;
        let path = agent.answer_file_path();
        ctx.comm
            .upload_bytes(&path, xml, 0o644)
            .await
            .context("uploading the answer file")?;
        let how = match origin {
            unattend::Origin::New => "written (the agent had none)".to_string(),
            unattend::Origin::Merged => "merged into the agent's own".to_string(),
            unattend::Origin::Replaced(why) => {
                format!("written; the agent's could not be read ({why}) and is replaced")
            }
        };
        ctx.ui
            .message(format!("  answer file {how}: {path}"))
            .await?;
        Ok(())
    }

    /// A failed sysprep: the evidence into a host file and its tail into the UI; the error that
    /// fails the build with the agent's message.
    async fn failure(
        &self,
        ctx: &ProvisionContext,
        agent: Agent,
        code: i64,
        outcome: &Outcome,
    ) -> anyhow::Error {
        let s = &self.s;
        let message = outcome.failed.clone().unwrap_or_else(|| {
            format!("the sysprep script exited with status {code} without reporting")
        });
        let written = write_evidence(&s.evidence_path, agent, &message, &outcome.evidence);
        let tail: Vec<&(String, String)> = outcome
            .evidence
            .iter()
            .filter(|(f, _)| {
                f.ends_with("setuperr.log") || f == "ImageState" || f.ends_with("err.log")
            })
            .collect();
        for (f, l) in tail.iter().rev().take(20).rev() {
            if let Err(e) = ctx.ui.error(format!("  {}: {l}", file_name(f))).await {
                return e.into();
            }
        }
        let where_ = match written {
            Ok(()) => format!("evidence in {}", s.evidence_path.display()),
            Err(e) => format!("evidence could not be written: {e:#}"),
        };
        anyhow::anyhow!(
            "amiforge-sysprep: {} failed: {}; {where_}",
            agent.name(),
            redact(&message)
        )
    }

    /// Runs the sysprep script, showing its output and collecting its tagged lines.
    async fn stream(
        &self,
        ctx: &ProvisionContext,
        command: &str,
    ) -> anyhow::Result<(Outcome, Result<i64, packer_sdk::communicator::CommError>)> {
        let mut proc = ctx.comm.start(command).await?;
        let mut lines = LineSplitter::default();
        let mut o = Outcome::default();
        let mut evidence_shown = false;
        loop {
            let batch = match proc.next_output().await {
                Some(chunk) => lines.push(chunk),
                None => break,
            };
            for (is_err, line) in batch {
                self.line(ctx, &mut o, is_err, &line, &mut evidence_shown)
                    .await?;
            }
        }
        for (is_err, line) in lines.finish() {
            self.line(ctx, &mut o, is_err, &line, &mut evidence_shown)
                .await?;
        }
        Ok((o, proc.wait().await))
    }

    async fn line(
        &self,
        ctx: &ProvisionContext,
        o: &mut Outcome,
        is_err: bool,
        line: &str,
        evidence_shown: &mut bool,
    ) -> anyhow::Result<()> {
        if is_err {
            ctx.ui.message(format!("  ! {line}")).await?;
            return Ok(());
        }
        let Some(rest) = line.strip_prefix(TAG).and_then(|r| r.strip_prefix('\t')) else {
            ctx.ui.message(format!("  | {line}")).await?;
            return Ok(());
        };
        let f: Vec<&str> = rest.splitn(3, '\t').collect();
        match f.as_slice() {
            ["step", what] => ctx.ui.message(format!("  > {what}")).await?,
            ["removed", place, what] => o.removed.push(format!("{place} ({what})")),
            ["scrubbed", _] => o.scrubbed = true,
            ["failed", msg] => {
                o.failed = Some(msg.to_string());
                ctx.ui.error(format!("  sysprep failed: {msg}")).await?;
            }
            ["evidence", file, text] => {
                if !*evidence_shown {
                    ctx.ui
                        .message("  collecting evidence (Panther and agent logs)")
                        .await?;
                    *evidence_shown = true;
                }
                o.evidence.push((file.to_string(), text.to_string()));
            }
            ["evidence", file] => o.evidence.push((file.to_string(), String::new())),
            ["shutting-down"] => o.shutting_down = true,
            ["done", state] => o.done = Some(state.to_string()),
            _ => ctx.ui.message(format!("  | {line}")).await?,
        }
        Ok(())
    }

    async fn report_removed(&self, ctx: &ProvisionContext, o: &Outcome) -> anyhow::Result<()> {
        let asked = self.s.admin_password.is_some();
        if o.removed.is_empty() {
            if asked && o.scrubbed {
                ctx.ui
                    .message("  admin_password: no copy found on the machine")
                    .await?;
            }
            return Ok(());
        }
        ctx.ui
            .say(format!(
                "amiforge-sysprep: removed the admin password from {} place(s):",
                o.removed.len()
            ))
            .await?;
        for r in &o.removed {
            ctx.ui.message(format!("  removed: {r}")).await?;
        }
        Ok(())
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Writes the evidence file on the Packer host (secrets masked).
fn write_evidence(
    path: &Path,
    agent: Agent,
    message: &str,
    evidence: &[(String, String)],
) -> anyhow::Result<()> {
    let mut text = format!(
        "amiforge-sysprep evidence\nagent: {}\nfailure: {message}\n",
        agent.name()
    );
    let mut current = "";
    for (file, line) in evidence {
        if file != current {
            text.push_str(&format!("\n== {file}\n"));
            current = file;
        }
        text.push_str(line);
        text.push('\n');
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    }
    std::fs::write(path, redact(&text)).with_context(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_evidence_log_holds_no_form_of_the_password() {
        let pw = "Evid3nce-Pw!x";
        // preparing the configuration registers every form of the password
        let c: config::SysprepConfig = serde_json::from_value(serde_json::json!({
            "admin_password": pw
        }))
        .unwrap();
        config::prepare(c, &PackerConfig::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("evidence.log");
        let forms = scrub::every_form(pw);
        let lines: Vec<(String, String)> = forms
            .iter()
            .map(|f| ("unattend.xml".to_string(), format!("<Value>{f}</Value>")))
            .collect();
        write_evidence(&p, Agent::Ec2LaunchV2, "sysprep failed", &lines).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        for f in &forms {
            assert!(!text.contains(f.as_str()), "{f} in {text}");
        }
        assert!(text.contains("<Value><sensitive></Value>"), "{text}");
    }
}
