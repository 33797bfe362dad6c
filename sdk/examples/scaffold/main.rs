//! `packer-plugin-scaffold`: the SDK's living example, and what the end-to-end tests run
//! against real Packer.
//!
//! * provisioner `scaffold-run`: uploads `upload_source` to `upload_destination`, runs the
//!   `inline` shell commands in order with their output streamed to Packer's UI (a non-zero exit
//!   fails the step and names the code), then downloads `download_source` to
//!   `download_destination`.
//! * post-processor `scaffold-wrap`: returns a new artifact with the input's id whose
//!   description carries `note`.

use std::path::PathBuf;
use std::sync::Arc;

use packer_sdk::{
    ConfigErrors, HclSpec, PackerConfig, Plugin, PostProcessContext, PostProcessOutput,
    PostProcessor, ProvisionContext, Provisioner, StaticArtifact, async_trait,
};
use serde::Deserialize;

/// Configuration of `scaffold-run`.
#[derive(Debug, Deserialize, HclSpec)]
struct RunConfig {
    /// Shell commands run one after the other on the machine; output is streamed.
    #[serde(default)]
    inline: Vec<String>,
    /// A local file or directory to upload before the commands run. A directory is created
    /// remotely as `upload_destination`; with a trailing `/` its contents go there.
    upload_source: Option<PathBuf>,
    /// Where the upload goes on the machine.
    upload_destination: Option<String>,
    /// A remote file to download after the commands ran. With a trailing `/` it names a
    /// directory, which lands as `<download_destination>/<its name>` (Packer's SCP semantics).
    download_source: Option<String>,
    /// Where the download goes on the Packer host.
    download_destination: Option<PathBuf>,
    /// Environment variables for the commands, one `env { name = "…" value = "…" }` block each.
    #[hcl(block)]
    #[serde(default)]
    env: Vec<EnvVar>,
}

/// One `env` block of `scaffold-run`.
#[derive(Debug, Deserialize, HclSpec)]
struct EnvVar {
    /// Variable name (a shell identifier).
    name: String,
    /// Its value (passed single-quoted, so no expansion happens).
    value: String,
}

struct Run {
    config: RunConfig,
}

fn pair_error(errs: &mut ConfigErrors, a: (&str, bool), b: (&str, bool)) {
    if a.1 && !b.1 {
        errs.push(b.0, format!("missing; set it together with {}", a.0));
    }
    if b.1 && !a.1 {
        errs.push(a.0, format!("missing; set it together with {}", b.0));
    }
}

#[async_trait]
impl Provisioner for Run {
    type Config = RunConfig;

    fn prepare(config: RunConfig, _packer: &PackerConfig) -> Result<Self, ConfigErrors> {
        let mut errs = ConfigErrors::new();
        let c = &config;
        pair_error(
            &mut errs,
            ("upload_source", c.upload_source.is_some()),
            ("upload_destination", c.upload_destination.is_some()),
        );
        pair_error(
            &mut errs,
            ("download_source", c.download_source.is_some()),
            ("download_destination", c.download_destination.is_some()),
        );
        if let Some(src) = &c.upload_source
            && !src.exists()
        {
            errs.push(
                "upload_source",
                format!("{} does not exist on the Packer host", src.display()),
            );
        }
        if c.inline.is_empty() && c.upload_source.is_none() && c.download_source.is_none() {
            errs.push(
                "inline",
                "nothing to do; give at least one command, an upload or a download",
            );
        }
        for (i, cmd) in c.inline.iter().enumerate() {
            if cmd.trim().is_empty() {
                errs.push(&format!("inline[{i}]"), "empty command");
            }
        }
        for (i, v) in c.env.iter().enumerate() {
            let ok = v
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && v.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                errs.push(
                    &format!("env[{i}].name"),
                    format!(
                        "{:?} is not a shell variable name (letters, digits, _)",
                        v.name
                    ),
                );
            }
        }
        errs.into_result()?;
        Ok(Run { config })
    }

    async fn provision(&self, ctx: ProvisionContext) -> anyhow::Result<()> {
        let c = &self.config;
        let host = ctx
            .generated
            .get("Host")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        ctx.ui.say(format!("scaffold-run on {host}")).await?;
        tokio::select! {
            r = self.steps(&ctx) => r,
            _ = ctx.cancel.cancelled() => {
                let _ = ctx.ui.error("scaffold-run: cancelled").await;
                anyhow::bail!("cancelled")
            }
        }?;
        if c.inline.is_empty() {
            ctx.ui.message("no commands to run").await?;
        }
        Ok(())
    }
}

impl Run {
    async fn steps(&self, ctx: &ProvisionContext) -> anyhow::Result<()> {
        let c = &self.config;
        if let (Some(src), Some(dst)) = (&c.upload_source, &c.upload_destination) {
            let started = std::time::Instant::now();
            if src.is_dir() {
                ctx.ui
                    .say(format!("uploading directory {} to {dst}", src.display()))
                    .await?;
                // Packer's SCP directory upload needs the destination to exist
                let mkdir = format!("mkdir -p {}", shell_quote(dst));
                let code = ctx.comm.run_in_ui(&mkdir, &ctx.ui).await?;
                if code != 0 {
                    anyhow::bail!(
                        "upload_destination: cannot create directory {dst} (mkdir exited with status {code})"
                    );
                }
                ctx.comm
                    .upload_dir(dst, &src.to_string_lossy(), &[])
                    .await?;
            } else {
                ctx.ui
                    .say(format!("uploading {} to {dst}", src.display()))
                    .await?;
                let n = ctx.comm.upload_file(dst, src).await?;
                let secs = started.elapsed().as_secs_f64();
                ctx.ui
                    .message(format!(
                        "uploaded {n} bytes in {secs:.3} s ({:.1} MiB/s)",
                        n as f64 / 1048576.0 / secs.max(1e-9)
                    ))
                    .await?;
            }
        }
        let total = c.inline.len();
        let env: String = c
            .env
            .iter()
            .map(|v| format!("export {}={}; ", v.name, shell_quote(&v.value)))
            .collect();
        for (i, cmd) in c.inline.iter().enumerate() {
            ctx.ui
                .say(format!("running command {} of {total}: {cmd}", i + 1))
                .await?;
            let code = ctx.comm.run_in_ui(&format!("{env}{cmd}"), &ctx.ui).await?;
            if code != 0 {
                anyhow::bail!(
                    "command {} of {total} ({cmd:?}) exited with status {code}",
                    i + 1
                );
            }
        }
        if let (Some(src), Some(dst)) = (&c.download_source, &c.download_destination) {
            ctx.ui
                .say(format!("downloading {src} to {}", dst.display()))
                .await?;
            if src.ends_with('/') {
                ctx.comm
                    .download_dir(src, &dst.to_string_lossy(), &[])
                    .await?;
            } else {
                let f = tokio::fs::File::create(dst)
                    .await
                    .map_err(|e| anyhow::anyhow!("download_destination {}: {e}", dst.display()))?;
                let n = ctx.comm.download(src, f).await?;
                ctx.ui.message(format!("downloaded {n} bytes")).await?;
            }
        }
        Ok(())
    }
}

/// `s` as one single-quoted POSIX shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Configuration of `scaffold-wrap`.
#[derive(Debug, Deserialize, HclSpec)]
struct WrapConfig {
    /// Text added to the artifact's description.
    note: String,
}

struct Wrap {
    note: String,
}

#[async_trait]
impl PostProcessor for Wrap {
    type Config = WrapConfig;

    fn configure(config: WrapConfig, _packer: &PackerConfig) -> Result<Self, ConfigErrors> {
        if config.note.trim().is_empty() {
            return Err(ConfigErrors::single(
                "note",
                "must not be empty; say what this artifact is",
            ));
        }
        Ok(Wrap { note: config.note })
    }

    async fn post_process(&self, ctx: PostProcessContext) -> anyhow::Result<PostProcessOutput> {
        let id = ctx.input.id().await?;
        let builder = ctx.input.builder_id().await?;
        let files = ctx.input.files().await?;
        let generated = ctx.input.state("generated_data").await?;
        ctx.ui
            .say(format!("scaffold-wrap: wrapping {builder} artifact {id:?}"))
            .await?;
        let mut state = serde_json::Map::new();
        if generated.is_object() {
            state.insert("generated_data".into(), generated);
        }
        let artifact = StaticArtifact {
            builder_id: "amiforge.scaffold.wrap".into(),
            id: id.clone(),
            files,
            string: format!("wrapped artifact {id} (note: {})", self.note),
            state,
        };
        Ok(PostProcessOutput {
            artifact: Some(Arc::new(artifact)),
            keep: true,
            force_override: false,
        })
    }
}

fn main() {
    Plugin::new(
        "scaffold",
        env!("CARGO_PKG_VERSION"),
        "github.com/amiforge/scaffold",
    )
    .provisioner::<Run>("run")
    .post_processor::<Wrap>("wrap")
    .main()
}
