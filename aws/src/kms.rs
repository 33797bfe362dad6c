//! KMS keys per region: a reference (key id, `alias/…`, or ARN) resolved to the key ARN in that
//! region, refusing keys that are missing, disabled or pending deletion — before any copy starts.

use crate::client::Clients;

/// Resolves `key` in `region` to its key ARN.
pub async fn resolve(clients: &Clients, region: &str, key: &str) -> Result<String, String> {
    if let Some(r) = crate::sharing::kms_arn_region(key)
        && r != region
    {
        return Err(format!(
            "the key is in {r}, not {region} (KMS keys are regional)"
        ));
    }
    let out = clients
        .kms(region)
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_kms::error::ProvideErrorMetadata;
            match (e.code(), e.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => aws_sdk_kms::error::DisplayErrorContext(&e).to_string(),
            }
        })?;
    let meta = out
        .key_metadata()
        .ok_or("DescribeKey returned no key metadata")?;
    if !meta.enabled() {
        return Err(format!("key {} is disabled", meta.key_id()));
    }
    if let Some(state) = meta.key_state()
        && state.as_str() != "Enabled"
    {
        return Err(format!("key {} is {}", meta.key_id(), state.as_str()));
    }
    meta.arn()
        .map(str::to_string)
        .ok_or_else(|| "DescribeKey returned no ARN".to_string())
}
