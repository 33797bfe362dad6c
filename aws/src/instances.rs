//! Test instances and what they need: temporary key pairs and security groups, launching with
//! IMDSv2 required, run tags on every resource (so a sweeper finds them) and a client token (so a
//! retried launch never starts a second instance), instance state and both status checks,
//! terminating, and finding what a run (or a killed run) left behind by tag. Every id a create
//! here returns is recorded in [`crate::consistency`], and calls naming such an id ride out
//! EC2's eventual consistency (NotFound retried within the window, deletes confirmed).

use std::collections::BTreeMap;

use aws_sdk_ec2::types::{
    Filter, HttpTokensState, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest,
    InstanceType, IpPermission, IpRange, KeyType, ResourceType, ShutdownBehavior, Tag,
    TagSpecification,
};

use secrecy::SecretString;

use crate::client::Clients;
use crate::consistency;
use crate::error::{Error, Result};

/// CreateTags on instances, security groups or key pairs (by their ids) works as on images.
pub use crate::images::tag;

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

/// A key pair AWS made: its resource id (what CreateTags names) and its private key.
#[derive(Debug)]
pub struct NewKeyPair {
    pub id: String,
    /// Never printed, never logged.
    pub material: SecretString,
}

/// Creates an ed25519 key pair named `name`, tagged.
pub async fn create_key_pair(
    clients: &Clients,
    region: &str,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<NewKeyPair> {
    let out = clients
        .ec2(region)
        .create_key_pair()
        .key_name(name)
        .key_type(KeyType::Ed25519)
        .tag_specifications(tag_spec(ResourceType::KeyPair, tags))
        .send()
        .await
        .map_err(|e| Error::sdk("CreateKeyPair", &e))?;
    clients.consistency().born(region, name);
    let id = out
        .key_pair_id()
        .ok_or_else(|| Error::bad_answer("CreateKeyPair", "key pair id"))?;
    clients.consistency().born(region, id);
    let material = out
        .key_material()
        .map(|k| SecretString::from(k.to_string()))
        .ok_or_else(|| Error::bad_answer("CreateKeyPair", "key material"))?;
    Ok(NewKeyPair {
        id: id.to_string(),
        material,
    })
}

/// Deletes a key pair (by name); one that is really gone counts as deleted.
pub async fn delete_key_pair(clients: &Clients, region: &str, name: &str) -> Result<()> {
    let ec2 = &clients.ec2(region);
    consistency::delete(clients.consistency(), region, name, || async move {
        ec2.delete_key_pair()
            .key_name(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::sdk("DeleteKeyPair", &e))
    })
    .await
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
    clients.consistency().born(region, &id);
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
        let (ec2, rule, gid) = (&ec2, &rule, id.as_str());
        let authorized = consistency::retry(clients.consistency(), region, &[gid], || async move {
            ec2.authorize_security_group_ingress()
                .group_id(gid)
                .ip_permissions(rule.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| Error::sdk("AuthorizeSecurityGroupIngress", &e))
        })
        .await;
        if let Err(e) = authorized {
            // do not leave a half-made group behind
            if let Err(d) = delete_security_group(clients, region, &id).await {
                tracing::warn!(region, group = %id, error = %d, "removing a half-made group");
            }
            return Err(e);
        }
    }
    Ok(id)
}

/// Deletes a security group. AWS refuses while an instance still uses it
/// (`DependencyViolation`): the caller terminates instances and waits first. Really gone counts
/// as deleted.
pub async fn delete_security_group(clients: &Clients, region: &str, id: &str) -> Result<()> {
    let ec2 = &clients.ec2(region);
    consistency::delete(clients.consistency(), region, id, || async move {
        ec2.delete_security_group()
            .group_id(id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| Error::sdk("DeleteSecurityGroup", &e))
    })
    .await
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
/// and its volumes. Returns the instance id. A security group, key pair or AMI this process just
/// made that EC2 does not show yet is waited for ([`consistency::retry`]).
pub async fn launch(clients: &Clients, region: &str, r: &LaunchRequest) -> Result<String> {
    let mut named: Vec<&str> = r.security_groups.iter().map(String::as_str).collect();
    named.extend(r.key_name.as_deref());
    named.push(&r.ami);
    let out = consistency::retry(clients.consistency(), region, &named, || {
        run_instances(clients, region, r)
    })
    .await?;
    let id = out
        .instances()
        .first()
        .and_then(|i| i.instance_id())
        .map(str::to_string)
        .ok_or_else(|| Error::bad_answer("RunInstances", "instance"))?;
    clients.consistency().born(region, &id);
    Ok(id)
}

async fn run_instances(
    clients: &Clients,
    region: &str,
    r: &LaunchRequest,
) -> Result<aws_sdk_ec2::operation::run_instances::RunInstancesOutput> {
    clients
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
        .map_err(|e| Error::sdk("RunInstances", &e))
}

/// An instance as the validator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InstanceInfo {
    pub id: String,
    /// `pending`, `running`, `shutting-down`, `terminated`, `stopping`, `stopped`.
    pub state: String,
    /// Why it changed state (e.g. `Server.InternalError: …`), when AWS says.
    pub state_reason: Option<String>,
    /// The code of that reason (`Client.UserInitiatedShutdown`: someone terminated or stopped it
    /// through the API; `Client.InstanceInitiatedShutdown`: the guest shut itself down).
    pub state_reason_code: Option<String>,
    /// The client token it was launched with (empty when none).
    pub client_token: String,
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
        state_reason_code: i.state_reason().and_then(|r| r.code()).map(str::to_string),
        client_token: i.client_token().unwrap_or_default().to_string(),
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

/// Describes one instance; `None` when AWS does not know it (one this process just launched is
/// waited for within the consistency window first).
pub async fn describe(clients: &Clients, region: &str, id: &str) -> Result<Option<InstanceInfo>> {
    let ec2 = &clients.ec2(region);
    match consistency::retry(clients.consistency(), region, &[id], || async move {
        ec2.describe_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| Error::sdk("DescribeInstances", &e))
    })
    .await
    {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .map(instance_info)
            .next()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// The two EC2 status checks of a running instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusChecks {
    /// `ok`, `impaired`, `initializing`, `insufficient-data`, `not-applicable` (or "" when AWS does
    /// not list the instance yet).
    pub instance: String,
    pub system: String,
    /// The instance's state (`running`, `terminated`, …; "" when not listed).
    pub state: String,
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
    let ec2 = &clients.ec2(region);
    let out = consistency::retry(clients.consistency(), region, &[id], || async move {
        ec2.describe_instance_status()
            .instance_ids(id)
            .include_all_instances(true)
            .send()
            .await
            .map_err(|e| Error::sdk("DescribeInstanceStatus", &e))
    })
    .await?;
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
            state: s
                .instance_state()
                .and_then(|x| x.name())
                .map(|x| x.as_str().to_string())
                .unwrap_or_default(),
        })
        .unwrap_or_default())
}

async fn terminate_call(ec2: &aws_sdk_ec2::Client, ids: &[String]) -> Result<()> {
    ec2.terminate_instances()
        .set_instance_ids(Some(ids.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| Error::sdk("TerminateInstances", &e))
}

/// Terminates instances; ones really gone count as terminated (one this process just launched
/// is waited for within the consistency window, never skipped on a NotFound).
pub async fn terminate(clients: &Clients, region: &str, ids: &[String]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let ec2 = clients.ec2(region);
    match terminate_call(&ec2, ids).await {
        Err(e) if e.is_not_found() => {}
        done => return done,
    }
    // one unknown (or not yet visible) id fails the whole call: one by one
    for id in ids {
        let one = std::slice::from_ref(id);
        match consistency::retry(clients.consistency(), region, &[id], || {
            terminate_call(&ec2, one)
        })
        .await
        {
            Err(e) if !e.is_not_found() => return Err(e),
            _ => {}
        }
    }
    Ok(())
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
            state: "running".into(),
        };
        assert!(s("ok", "ok").passed());
        assert!(!s("ok", "initializing").passed());
        assert!(s("impaired", "ok").failed());
        assert!(!s("initializing", "initializing").failed());
    }
}
