//! The AMIs a post-processor receives: the input artifact's builder checked against the ones a
//! component takes, its `region:ami` id parsed, and its `generated_data` (build region, run id,
//! the AMI the build started from).

use std::collections::BTreeMap;

use packer_sdk::PostProcessContext;
use serde_json::Value as Json;

/// The HCP Packer registry's provider name for an AMI (what Packer's amazon plugin says).
pub const PROVIDER: &str = "aws";

/// The image the build started from (`SourceAMI` of the builder's `generated_data`): the
/// registry's parent link. `""` when the builder did not say.
pub fn base_ami(generated: &Json) -> String {
    generated
        .get("SourceAMI")
        .and_then(Json::as_str)
        .filter(|s| s.starts_with("ami-"))
        .unwrap_or_default()
        .to_string()
}

/// What the previous step handed over.
pub struct Input {
    pub builder: String,
    pub id: String,
    /// region → AMI
    pub amis: BTreeMap<String, String>,
    pub generated: Json,
}

impl Input {
    /// The build region: what the builder says, else the first region of the artifact.
    pub fn build_region(&self) -> Option<String> {
        self.generated
            .get("BuildRegion")
            .and_then(|v| v.as_str())
            .filter(|r| self.amis.contains_key(*r))
            .map(str::to_string)
            .or_else(|| self.amis.keys().next().cloned())
    }
}

/// Reads the input artifact; refuses one from a builder that is neither an AMI builder nor in
/// `also` (our own post-processors), naming `component` and what it takes.
pub async fn read(
    ctx: &PostProcessContext,
    component: &str,
    also: &[&str],
    takes: &str,
) -> anyhow::Result<Input> {
    let builder = ctx.input.builder_id().await?;
    if !amiforge_model::artifact::AMI_BUILDERS.contains(&builder.as_str())
        && !also.contains(&builder.as_str())
    {
        anyhow::bail!("{component} takes {takes}; got an artifact from {builder:?}");
    }
    let id = ctx.input.id().await?;
    let amis = amiforge_model::artifact::parse_id(&id)
        .map_err(|e| anyhow::anyhow!("input artifact id {id:?}: {e}"))?;
    let generated = ctx
        .input
        .state("generated_data")
        .await
        .unwrap_or(Json::Null);
    Ok(Input {
        builder,
        id,
        amis,
        generated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_ami_is_taken_as_the_parent() {
        assert_eq!(
            base_ami(&serde_json::json!({"SourceAMI": "ami-1"})),
            "ami-1"
        );
        assert_eq!(
            base_ami(&serde_json::json!({"SourceAMI": "ERR_NOT_FOUND"})),
            ""
        );
        assert_eq!(base_ami(&serde_json::json!({"SourceAMI": 3})), "");
        assert_eq!(base_ami(&Json::Null), "");
    }
}
