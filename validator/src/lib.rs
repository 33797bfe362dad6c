//! `amiforge-validator`: proves AMIs work before anyone deploys them. For every AMI (from a
//! replicate manifest, or `region:ami` pairs) it checks what AWS says about the image, launches
//! test instances (IMDSv2 required, tagged with the run), waits for both status checks, checks
//! inside the guest (the build's hardening evidence and a re-run audit, user commands; over SSH
//! or SSM), always cleans up, and gives a verdict as JUnit, JSON and an exit code.
//!
//! | module | owns |
//! |---|---|
//! | [`request`] | what a run is asked to do (targets + expectations, policy, launch settings), bad input named by field |
//! | [`attributes`] | the cheap gate: AMI facts from AWS against expectations, no launch |
//! | [`launch`] | one test instance: network, launch, running, IMDSv2, status checks, in-guest checks, terminate |
//! | [`guest`] | in-guest checks: transports (SSH, SSM), evidence, hardening audit, user checks; `check` on a host |
//! | [`ledger`] | what a run created, and the cleanup that always removes it |
//! | [`sweep`] | removing what killed runs left behind, by tag |
//! | [`run`] | one run: gate → launches → cleanup → verdict |
//! | [`report`], [`junit`] | results, verdict and exit codes; JSON and JUnit XML |
//! | [`events`] | progress for the CLI, the gRPC stream and Packer's UI |
//! | [`api`] | the gRPC API (`serve`): streamed `Validate`, `Sweep`, `Health`; one instance limit shared by all callers; the client |
//! | [`cli`] | the command line (`run`, `check`, `sweep`, `serve`) |

pub mod api;
pub mod attributes;
pub mod cli;
pub mod events;
pub mod guest;
pub mod junit;
pub mod launch;
pub mod ledger;
pub mod report;
pub mod request;
pub mod run;
pub mod sweep;
