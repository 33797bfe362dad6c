//! KMS keys per region: a reference (key id, `alias/…`, or ARN) resolved to the key ARN in that
//! region, refusing keys that are missing, disabled or pending deletion — before any copy starts.

use crate::client::Clients;
use crate::error::{Error, ErrorKind, Result};

const OP: &str = "DescribeKey";

/// Resolves `key` in `region` to its key ARN.
pub async fn resolve(clients: &Clients, region: &str, key: &str) -> Result<String> {
    if let Some(r) = amiforge_model::sharing::kms_arn_region(key)
        && r != region
    {
        return Err(Error::new(
            OP,
            ErrorKind::InvalidInput,
            format!("the key is in {r}, not {region} (KMS keys are regional)"),
        ));
    }
    let out = clients
        .kms(region)
        .describe_key()
        .key_id(key)
        .send()
        .await
        .map_err(|e| Error::sdk(OP, &e))?;
    let meta = out
        .key_metadata()
        .ok_or_else(|| Error::bad_answer(OP, "key metadata"))?;
    let unusable = |why: String| Error::new(OP, ErrorKind::Unusable, why);
    if !meta.enabled() {
        return Err(unusable(format!("key {} is disabled", meta.key_id())));
    }
    if let Some(state) = meta.key_state()
        && state.as_str() != "Enabled"
    {
        return Err(unusable(format!(
            "key {} is {}",
            meta.key_id(),
            state.as_str()
        )));
    }
    meta.arn()
        .map(str::to_string)
        .ok_or_else(|| Error::bad_answer(OP, "key ARN"))
}
