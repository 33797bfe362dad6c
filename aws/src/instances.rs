//! Test instances and what they need: temporary key pairs and security groups, launching with
//! IMDSv2 required, run tags on every resource (so a sweeper finds them) and a client token (so a
//! retried launch never starts a second instance), instance state and both status checks,
//! terminating, and finding what a run (or a killed run) left behind by tag.

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, HttpTokensState, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest,
    InstanceType, IpPermission, IpRange, KeyType, ResourceType, ShutdownBehavior, Tag,
    TagSpecification,
};

use secrecy::SecretString;

use crate::client::Clients;
use crate::error::{Error, Result};

fn tag_spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(
            tags.iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .build()
}

fn tag_filter(key: &str, value: &str) -> Filter {
    Filter::builder()
        .name(format!("tag:{key}"))
        .values(value)
        .build()
}

/// Creates an ed25519 key pair named `name`, tagged.
pub async fn create_key_pair(
    clients: &Clients,
    region: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<SecretString> {
    // a private key AWS made for us: never printed, never logged (SecretString)
    let out = clients
        .ec2(region)
        .create_key_pair()
        .key_name(name)
        .key_type(KeyType::Ed25519)
        .tag_specifications(tag_spec(ResourceType::KeyPair, tags))
        .send()
        .await
        .map_err(|e| Error::sdk("CreateKeyPair", &e))?;
    out.key_material()
        .map(|k| SecretString::from(k.to_string()))
        .ok_or_else(|| Error::bad_answer("CreateKeyPair", "key material"))
}

/// Deletes a key pair; one that is already gone counts as deleted.
pub async fn delete_key_pair(clients: &Clients, region: &str, name: &str) -> Result<()> {
    match clients
        .ec2(region)
        .delete_key_pair()
        .key_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match Error::sdk("DeleteKeyPair", &e) {
            e if e.is_not_found() => Ok(()),
            e => Err(e),
        },
    }
}

/// Creates a security group (in `vpc`, or the default VPC), tagged; with `ssh_from`, SSH (tcp/22)
/// is allowed from that CIDR and nothing else.
pub async fn create_security_group(
    clients: &Clients,
    region: &str,
    name: &str,
    vpc: Option<&str>,
    ssh_from: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> Result<String> {
    let ec2 = clients.ec2(region);
    let out = ec2
        .create_security_group()
        .group_name(name)
        .description("amiforge-validator test instances (temporary)")
        .set_vpc_id(vpc.map(str::to_string))
        .tag_specifications(tag_spec(ResourceType::SecurityGroup, tags))
        .send()
        .await
        .map_err(|e| Error::sdk("CreateSecurityGroup", &e))?;
    let id = out
        .group_id()
        .ok_or_else(|| Error::bad_answer("CreateSecurityGroup", "group id"))?
        .to_string();
    if let Some(cidr) = ssh_from {
        let rule = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(22)
            .to_port(22)
            .ip_ranges(
                IpRange::builder()
                    .cidr_ip(cidr)
                    .description("amiforge-validator SSH")
                    .build(),
            )
            .build();
        if let Err(e) = ec2
            .authorize_security_group_ingress()
            .group_id(&id)
            .ip_permissions(rule)
            .send()
            .await
        {
            // do not leave a half-made group behind
            let _ = delete_security_group(clients, region, &id).await;
            return Err(Error::sdk("AuthorizeSecurityGroupIngress", &e));
        }
    }
    Ok(id)
}

/// Deletes a security group. AWS refuses while an instance still uses it
/// (`DependencyViolation`): the caller terminates instances and waits first. Gone counts as deleted.
pub async fn delete_security_group(clients: &Clients, region: &str, id: &str) -> Result<()> {
    match clients
        .ec2(region)
        .delete_security_group()
        .group_id(id)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match Error::sdk("DeleteSecurityGroup", &e) {
            e if e.is_not_found() => Ok(()),
            e => Err(e),
        },
    }
}

/// What a test launch asks for.
#[derive(Debug, Clone, Default)]
pub struct LaunchRequest {
    pub ami: String,
    pub instance_type: String,
    pub subnet: Option<String>,
    pub security_groups: Vec<String>,
    pub key_name: Option<String>,
    /// Instance profile (name or ARN), e.g. one that lets the SSM agent register.
    pub iam_instance_profile: Option<String>,
    /// Base64 of the user data.
    pub user_data: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Same token, same instance: AWS returns the first launch instead of starting another.
    pub client_token: String,
}

/// Launches one instance: IMDSv2 required, terminate on in-guest shutdown, tags on the instance
/// and its volumes. Returns the instance id.
pub async fn launch(clients: &Clients, region: &str, r: &LaunchRequest) -> Result<String> {
    let out = clients
        .ec2(region)
        .run_instances()
        .image_id(&r.ami)
        .instance_type(InstanceType::from(r.instance_type.as_str()))
        .min_count(1)
        .max_count(1)
        .metadata_options(
            InstanceMetadataOptionsRequest::builder()
                .http_tokens(HttpTokensState::Required)
                .http_endpoint(InstanceMetadataEndpointState::Enabled)
                .build(),
        )
        .instance_initiated_shutdown_behavior(ShutdownBehavior::Terminate)
        .tag_specifications(tag_spec(ResourceType::Instance, &r.tags))
        .tag_specifications(tag_spec(ResourceType::Volume, &r.tags))
        .client_token(&r.client_token)
        .set_subnet_id(r.subnet.clone())
        .set_security_group_ids((!r.security_groups.is_empty()).then(|| r.security_groups.clone()))
        .set_key_name(r.key_name.clone())
        .set_iam_instance_profile(r.iam_instance_profile.as_ref().map(|p| {
            let spec = aws_sdk_ec2::types::IamInstanceProfileSpecification::builder();
            if p.starts_with("arn:") {
                spec.arn(p).build()
            } else {
                spec.name(p).build()
            }
        }))
        .set_user_data(r.user_data.clone())
        .send()
        .await
        .map_err(|e| Error::sdk("RunInstances", &e))?;
    out.instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_string)
        .ok_or_else(|| Error::bad_answer("RunInstances", "instance"))
}

/// An instance as the validator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceInfo {
    pub id: String,
    /// `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`.
    pub state: String,
    /// Why it changed state (e.g. `Server.InternalError: …`), when AWS says.
    pub state_reason: Option<String>,
    /// `required` when IMDSv2 is enforced.
    pub http_tokens: Option<String>,
    pub public_ip: Option<String>,
    pub private_ip: Option<String>,
    pub image: String,
    pub tags: BTreeMap<String, String>,
}

fn instance_info(i: &aws_sdk_ec2::types::Instance) -> InstanceInfo {
    InstanceInfo {
        id: i.instance_id().unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        state_reason: i
            .state_reason()
            .and_then(|r| r.message().or(r.code()))
            .map(str::to_string),
        http_tokens: i
            .metadata_options()
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str().to_string()),
        public_ip: i.public_ip_address().map(str::to_string),
        private_ip: i.private_ip_address().map(str::to_string),
        image: i.image_id().unwrap_or_default().to_string(),
        tags: i
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
    }
}

/// Describes one instance; `None` when AWS does not know it.
pub async fn describe(clients: &Clients, region: &str, id: &str) -> Result<Option<InstanceInfo>> {
    match clients
        .ec2(region)
        .describe_instances()
        .instance_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(instance_info)
            .next()),
        Err(e) => match Error::sdk("DescribeInstances", &e) {
            e if e.is_not_found() => Ok(None),
            e => Err(e),
        },
    }
}

/// The two EC2 status checks of a running instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusChecks {
    /// `ok`, `impaired`, `initializing`, `insufficient-data`, `not-applicable` (or "" when AWS does
    /// not list the instance yet).
    pub instance: String,
    pub system: String,
}

impl StatusChecks {
    pub fn passed(&self) -> bool {
        self.instance == "ok" && self.system == "ok"
    }
    pub fn failed(&self) -> bool {
        self.instance == "impaired" || self.system == "impaired"
    }
}

/// Status checks of one instance.
pub async fn status_checks(clients: &Clients, region: &str, id: &str) -> Result<StatusChecks> {
    let out = clients
        .ec2(region)
        .describe_instance_status()
        .instance_ids(id)
        .include_all_instances(true)
        .send()
        .await
        .map_err(|e| Error::sdk("DescribeInstanceStatus", &e))?;
    Ok(out
        .instance_statuses()
        .first()
        .map(|s| StatusChecks {
            instance: s
                .instance_status()
                .and_then(|x| x.status())
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
            system: s
                .system_status()
                .and_then(|x| x.status())
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
        })
        .unwrap_or_default())
}

/// Terminates instances; ones already gone count as terminated.
pub async fn terminate(clients: &Clients, region: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    match clients
        .ec2(region)
        .terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let e = Error::sdk("TerminateInstances", &e);
            if !e.is_not_found() {
                return Err(e);
            }
            // one unknown id fails the whole call: retry the rest one by one
            for id in ids {
                if let Err(e) = clients
                    .ec2(region)
                    .terminate_instances()
                    .instance_ids(id)
                    .send()
                    .await
                {
                    let e = Error::sdk("TerminateInstances", &e);
                    if !e.is_not_found() {
                        return Err(e);
                    }
                }
            }
            Ok(())
        }
    }
}

/// What carries a tag in a region: instances not yet terminated, key pairs, security groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tagged {
    pub instances: Vec<InstanceInfo>,
    /// (key name, tags)
    pub key_pairs: Vec<(String, BTreeMap<String, String>)>,
    /// (group id, tags)
    pub security_groups: Vec<(String, BTreeMap<String, String>)>,
}

impl Tagged {
    pub fn is_empty(&self) -> bool {
        self.instances.is_empty() && self.key_pairs.is_empty() && self.security_groups.is_empty()
    }
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

/// Everything in `region` tagged `key` = `value` (instances only while not terminated).
pub async fn find_tagged(
    clients: &Clients,
    region: &str,
    key: &str,
    value: &str,
) -> Result<Tagged> {
    let ec2 = clients.ec2(region);
    let mut found = Tagged::default();
    let mut pages = ec2
        .describe_instances()
        .filters(tag_filter(key, value))
        .filters(
            Filter::builder()
                .name("instance-state-name")
                .set_values(Some(
                    ["pending", "running", "shutting-down", "stopping", "stopped"]
                        .map(String::from)
                        .to_vec(),
                ))
                .build(),
        )
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| Error::sdk("DescribeInstances", &e))?;
        found.instances.extend(
            page.reservations()
                .iter()
                .flat_map(|r| r.instances())
                .map(instance_info),
        );
    }
    let keys = ec2
        .describe_key_pairs()
        .filters(tag_filter(key, value))
        .send()
        .await
        .map_err(|e| Error::sdk("DescribeKeyPairs", &e))?;
    found.key_pairs = keys
        .key_pairs()
        .iter()
        .filter_map(|k| Some((k.key_name()?.to_string(), tag_map(k.tags()))))
        .collect();
    let groups = ec2
        .describe_security_groups()
        .filters(tag_filter(key, value))
        .send()
        .await
        .map_err(|e| Error::sdk("DescribeSecurityGroups", &e))?;
    found.security_groups = groups
        .security_groups()
        .iter()
        .filter_map(|g| Some((g.group_id()?.to_string(), tag_map(g.tags()))))
        .collect();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_never_print() {
        use secrecy::ExposeSecret;
        let k = SecretString::from("-----BEGIN OPENSSH PRIVATE KEY-----secret".to_string());
        assert!(!format!("{k:?}").contains("secret"), "{k:?}");
        assert!(k.expose_secret().contains("secret"));
    }

    #[test]
    fn status_checks_pass_only_when_both_are_ok() {
        let s = |i: &str, y: &str| StatusChecks {
            instance: i.into(),
            system: y.into(),
        };
        assert!(s("ok", "ok").passed());
        assert!(!s("ok", "initializing").passed());
        assert!(s("impaired", "ok").failed());
        assert!(!s("initializing", "initializing").failed());
    }
}
