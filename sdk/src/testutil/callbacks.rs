//! [`Callbacks`]: what the fake Packer serves on the broker stream it names in
//! `Provisioner.Provision` (`Ui` + `Communicator`) or `PostProcessor.PostProcess` (`Artifact` +
//! `Ui`), one connection for all of them, as Packer does.

use std::sync::Arc;

use super::communicator::RecordingCommunicator;
use super::ui::RecordingUi;
use crate::artifact::{Artifact, ArtifactService};
use crate::rpc::server::{Handler, Reply};

/// Packer's side of a running component: a recording Ui, plus a Communicator (provisioners)
/// or the input artifact (post-processors).
pub struct Callbacks {
    ui: RecordingUi,
    comm: Option<RecordingCommunicator>,
    artifact: Option<ArtifactService>,
}

impl Callbacks {
    /// Only a Ui.
    pub fn ui(ui: RecordingUi) -> Self {
        Callbacks {
            ui,
            comm: None,
            artifact: None,
        }
    }

    /// A Ui and a Communicator: what a provisioner gets.
    pub fn provisioner(ui: RecordingUi, comm: RecordingCommunicator) -> Self {
        Callbacks {
            comm: Some(comm),
            ..Self::ui(ui)
        }
    }

    /// A Ui and the input artifact: what a post-processor gets.
    pub fn post_processor(ui: RecordingUi, input: Arc<dyn Artifact>) -> Self {
        Callbacks {
            artifact: Some(ArtifactService(input)),
            ..Self::ui(ui)
        }
    }

    /// The recorded Ui.
    pub fn recorded_ui(&self) -> &RecordingUi {
        &self.ui
    }

    /// The recording Communicator, when there is one.
    pub fn communicator(&self) -> Option<&RecordingCommunicator> {
        self.comm.as_ref()
    }
}

#[async_trait::async_trait]
impl Handler for Callbacks {
    fn services(&self) -> &'static [&'static str] {
        match (self.comm.is_some(), self.artifact.is_some()) {
            (false, false) => &["Ui"],
            (true, false) => &["Ui", "Communicator"],
            (false, true) => &["Artifact", "Ui"],
            (true, true) => &["Artifact", "Ui", "Communicator"],
        }
    }

    async fn call(&self, service: &str, method: &str, body: rmpv::Value) -> Reply {
        match (service, &self.comm, &self.artifact) {
            ("Communicator", Some(c), _) => c.handle(method, &body).await,
            ("Artifact", _, Some(a)) => a.call(service, method, body).await,
            _ => self.ui.handle(method, &body).await,
        }
    }
}
