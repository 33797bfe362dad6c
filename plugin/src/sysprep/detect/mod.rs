//! Detection: which launch agents the machine has and which Windows build it runs. The agents
//! and releases themselves, with where each agent keeps its files, are in `agent`; the probe's
//! detection PowerShell ([`PROBE_PS`]) prints tagged lines that [`Probe::parse`] reads (together
//! with the readiness facts and the agents' answer files), in `probe`; [`decide`] — a pure
//! function, in `decide` — picks the agent or says why none fits.

mod agent;
mod decide;
mod probe;

pub use agent::{Agent, KnownFolder, Location, Release, describe_build};
pub use decide::{Decision, decide};
pub use probe::{AgentFacts, PROBE_PS, Probe};

/// Prefix of every line the provisioner's scripts print for it (fields are tab-separated).
pub const TAG: &str = "AMIFORGE-SYSPREP";
