//! `amiforge-validator`: proves AMIs work before anyone deploys them. For every AMI (from a
//! replicate manifest, or `region:ami` pairs) it checks what AWS says about the image, launches
//! test instances (IMDSv2 required, tagged with the run), waits for both status checks, checks
//! inside the guest (the build's hardening evidence and a re-run audit, user commands; over SSH
//! or SSM), always cleans up, and gives a verdict as JUnit, JSON and an exit code. The request,
//! report and event model, the proto messages and the client are `amiforge-validator-api`'s; the
//! command line is the binary's own (`src/main.rs`, `src/cli/`).
//!
//! | module | owns |
//! |---|---|
//! | [`attributes`] | the cheap gate: AMI facts from AWS against expectations, no launch |
//! | [`launch`] | one test instance: network, launch, running, IMDSv2, status checks, in-guest checks, terminate |
//! | [`guest`] | in-guest checks: transports (SSH, SSM), evidence, hardening audit, user checks; `check` on a host |
//! | [`ledger`] | what a run created (and meant to create), and the cleanup that always removes it |
//! | [`intents`] | creates whose outcome is unknown (cancelled, failed midway), looked up by the run's tag |
//! | [`lease`] | the run's lease on its resources (`amiforge:lease-until`), renewed while it is alive |
//! | [`sweep`] | removing what killed runs left behind, by tag, once their lease lapsed (or forced) |
//! | [`run`] | one run: gate → launches → cleanup → verdict |
//! | [`events`] | the [`events::Sink`] a run reports its events to |
//! | [`api`] | the gRPC server (`serve`): streamed `Validate`, `Sweep`, `Health`; one instance limit shared by all callers |

pub mod api;
pub mod attributes;
pub mod events;
pub mod guest;
pub mod intents;
pub mod launch;
pub mod lease;
pub mod ledger;
pub mod run;
pub mod sweep;
