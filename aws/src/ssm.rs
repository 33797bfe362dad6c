//! SSM parameters that point at AMIs (`data_type = aws:ec2:image`): the per-region pointer a
//! deployment reads. amiforge only moves one when asked (replicate's `ssm_parameter`, or the
//! validate gate's "approved" parameter).

use aws_sdk_ssm::types::ParameterType;

use crate::client::Clients;

/// Points parameter `name` in `region` at `ami` (creating or overwriting it).
pub async fn put_image_parameter(
    clients: &Clients,
    region: &str,
    name: &str,
    ami: &str,
) -> Result<i64, String> {
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
        .map_err(|e| {
            use aws_sdk_ssm::error::ProvideErrorMetadata;
            format!(
                "PutParameter {name} in {region}: {}",
                e.message()
                    .map(str::to_string)
                    .unwrap_or_else(|| aws_sdk_ssm::error::DisplayErrorContext(&e).to_string())
            )
        })?;
    Ok(out.version())
}

/// The AMI parameter `name` points at in `region`, if it exists.
pub async fn get_parameter(
    clients: &Clients,
    region: &str,
    name: &str,
) -> Result<Option<String>, String> {
    match clients.ssm(region).get_parameter().name(name).send().await {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).map(str::to_string)),
        Err(e) => {
            use aws_sdk_ssm::error::ProvideErrorMetadata;
            if e.code() == Some("ParameterNotFound") {
                Ok(None)
            } else {
                Err(format!(
                    "GetParameter {name} in {region}: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                ))
            }
        }
    }
}
