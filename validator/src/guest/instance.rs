//! Reaching a launched test instance for its in-guest checks: over SSH (to `guest.ssh_host` when
//! set, else the instance's public, else private, address; with the region's key pair), or
//! through SSM Run Command. Connection attempts are bounded by the launch timeout.

use std::time::{Duration, Instant};

use amiforge_aws::client::Clients;
use amiforge_aws::instances;
use tokio_util::sync::CancellationToken;

use amiforge_validator_api::report::{Check, Status};
use amiforge_validator_api::{Request, Target};

use super::session::{RegionKey, Session};
use super::ssh::{Address, Ssh};
use super::ssm::Ssm;
use super::{Plan, run_checks, skipped};

/// How long one script may run in a guest (the audit takes seconds; package managers may be slow).
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// How long one SSH connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the checks of one instance need.
pub struct Instance<'a> {
    pub clients: &'a Clients,
    pub req: &'a Request,
    pub target: &'a Target,
    pub id: &'a str,
    /// The region's key pair (SSH runs).
    pub key: Option<&'a RegionKey>,
    pub session: &'a Session,
    pub cancel: &'a CancellationToken,
}

impl Instance<'_> {
    /// The in-guest checks of this instance (empty when its AMI has nothing to check).
    pub async fn checks(&self) -> Vec<Check> {
        let Some(plan) = Plan::for_target(self.req, self.target) else {
            return Vec::new();
        };
        let wait_until = Instant::now() + self.req.launch.timeout;
        match self.req.guest.transport {
            amiforge_validator_api::Transport::None => Vec::new(),
            amiforge_validator_api::Transport::Ssm => {
                let t = Ssm {
                    clients: self.clients,
                    region: self.target.region.clone(),
                    instance: self.id.to_string(),
                    wait_until,
                    poll: self.req.launch.poll_interval,
                    command_timeout: COMMAND_TIMEOUT,
                };
                run_checks(&t, &plan, self.cancel).await
            }
            amiforge_validator_api::Transport::Ssh => match self.ssh(&plan, wait_until).await {
                Ok(t) => run_checks(&t, &plan, self.cancel).await,
                Err(e) => {
                    let mut v = skipped(&plan, &format!("the guest was not reached: {e}"));
                    if let Some(first) = v.first_mut()
                        && plan.needs_guest()
                    {
                        *first = Check::new("guest.connect", Status::Error, "a root shell", "")
                            .with_message(e);
                    }
                    v
                }
            },
        }
    }

    async fn ssh(&self, plan: &Plan, wait_until: Instant) -> Result<Ssh, String> {
        let g = &self.req.guest;
        let address = match &g.ssh_host {
            Some(h) => Address::parse(h).map_err(|e| format!("guest.ssh_host: {e}"))?,
            None if plan.needs_guest() => {
                let i = instances::describe(self.clients, &self.target.region, self.id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("{} is not known to EC2 any more", self.id))?;
                let ip = i.public_ip.or(i.private_ip).ok_or_else(|| {
                    format!("{} has neither a public nor a private address", self.id)
                })?;
                Address { host: ip, port: 22 }
            }
            None => Address {
                host: "unused".into(),
                port: 22,
            },
        };
        let key = self
            .key
            .ok_or_else(|| format!("no key pair for {}", self.target.region))?;
        Ok(Ssh {
            user: g.ssh_username().to_string(),
            address,
            key: key.file.clone(),
            known_hosts: self.session.known_hosts(self.id),
            connect_timeout: CONNECT_TIMEOUT,
            wait_until,
            command_timeout: COMMAND_TIMEOUT,
        })
    }
}
