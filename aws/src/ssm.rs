//! SSM parameters that point at AMIs (`data_type = aws:ec2:image`): the per-region pointer a
//! deployment reads. amiforge only moves one when asked (replicate's `ssm_parameter`, or the
//! validate gate's "approved" parameter).

use aws_sdk_ssm::types::ParameterType;

use crate::client::Clients;
use crate::error::{Error, Result};

/// Points parameter `name` in `region` at `ami` (creating or overwriting it).
pub async fn put_image_parameter(
    clients: &Clients,
    region: &str,
    name: &str,
    ami: &str,
) -> Result<i64> {
    let out = clients
        .ssm(region)
        .put_parameter()
        .name(name)
        .value(ami)
        .r#type(ParameterType::String)
        .data_type("aws:ec2:image")
        .overwrite(true)
        .description("AMI published by amiforge")
        .send()
        .await
        .map_err(|e| Error::sdk(&format!("PutParameter {name} in {region}"), &e))?;
    Ok(out.version())
}

/// The AMI parameter `name` points at in `region`, if it exists.
pub async fn get_parameter(clients: &Clients, region: &str, name: &str) -> Result<Option<String>> {
    match clients.ssm(region).get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_string)),
        Err(e) => match Error::sdk(&format!("GetParameter {name} in {region}"), &e) {
            e if e.is_not_found() => Ok(None),
            e => Err(e),
        },
    }
}
