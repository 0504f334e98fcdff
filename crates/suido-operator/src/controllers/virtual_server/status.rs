//! The VirtualServer's status: its own fields (power, size, disks, volumes, pending changes),
//! its `RestartRequired` and `Attached` conditions, and its phase and `Ready` verdict. Pure.

use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{DiskStatus, Phase, PowerState, VirtualServerStatus};
use suido_provider::{Server, ServerState};

use super::Refs;
use super::plan::{Change, HoldReason, Step};
use crate::conditions::Desired;
use crate::convert;
use crate::managed::Verdict;

/// The BlockVolumes of the server's namespace attached to `server`, by name.
pub fn attached_volumes(refs: Option<&Refs>, server: Option<&Server>) -> Vec<String> {
    let (Some(refs), Some(server)) = (refs, server) else {
        return vec![];
    };
    let mut names: Vec<String> = refs
        .volumes
        .iter()
        .filter(|(_, id)| server.volumes.contains(id))
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names
}

/// Fills the server's own status fields and returns its extra conditions.
pub fn observe(
    status: &mut VirtualServerStatus,
    server: Option<&Server>,
    step: Option<&Step>,
    refs: Option<&Refs>,
) -> Vec<Desired> {
    let volumes = attached_volumes(refs, server);
    if let Some(server) = server {
        let built = server.state != ServerState::Building;
        status.power_state = match server.state {
            ServerState::Running => Some(PowerState::Running),
            ServerState::Stopped => Some(PowerState::Stopped),
            _ => None,
        };
        status.size = built.then(|| convert::api_size(server.size)).flatten();
        status.os_disk_gb = built.then_some(server.os_disk_gb);
        status.address = built.then(|| server.address.clone()).flatten();
        status.disks = server
            .disks
            .iter()
            .map(|d| DiskStatus {
                name: d.name.clone(),
                size_gb: d.size_gb,
                external_id: Some(d.id.clone()),
            })
            .collect();
        let pending = |changes: &[Change]| changes.iter().map(|c| c.describe(server)).collect();
        status.pending_changes = match step {
            Some(Step::Hold { changes, .. }) | Some(Step::Stop { changes }) => pending(changes),
            Some(Step::Apply(c)) => vec![c.describe(server)],
            _ => vec![],
        };
    }
    status.volumes = volumes.clone();
    let restart = match (step, server) {
        (Some(Step::Hold { reason, changes }), Some(server)) => {
            let list: Vec<String> = changes.iter().map(|c| c.describe(server)).collect();
            let (why, text) = match reason {
                HoldReason::WaitingForStop => (
                    reasons::WAITING_FOR_STOP,
                    "stop the server (spec.powerState: Stopped) to apply",
                ),
                HoldReason::WaitingForMaintenance => (
                    reasons::WAITING_FOR_MAINTENANCE,
                    "the next MaintenanceWindow that stops servers will apply",
                ),
            };
            Desired::new(
                cond::RESTART_REQUIRED,
                true,
                why,
                format!("{text}: {}", list.join(", ")),
            )
        }
        _ => Desired::new(
            cond::RESTART_REQUIRED,
            false,
            reasons::AVAILABLE,
            "no change waits for a stop",
        ),
    };
    let attached = if volumes.is_empty() {
        Desired::new(
            cond::ATTACHED,
            false,
            reasons::DETACHED,
            "no BlockVolume is attached",
        )
    } else {
        Desired::new(
            cond::ATTACHED,
            true,
            reasons::ATTACHED,
            format!("attached: {}", volumes.join(", ")),
        )
    };
    vec![restart, attached]
}

/// Phase and `Ready` of a built server after `step`.
pub fn verdict(server: &Server, step: &Step) -> Verdict {
    let v = |phase, ok, reason, message: &str| Verdict {
        phase,
        ready: Desired::new(cond::READY, ok, reason, message),
    };
    match step {
        Step::Done if server.state == ServerState::Stopped => v(
            Phase::Stopped,
            true,
            reasons::STOPPED,
            "the server is built and stopped as asked",
        ),
        Step::Done => v(
            Phase::Available,
            true,
            reasons::AVAILABLE,
            "the server is built and running",
        ),
        Step::Hold { .. } => v(
            Phase::Waiting,
            true,
            reasons::AVAILABLE,
            "the server runs; changes wait (see RestartRequired)",
        ),
        _ => v(
            Phase::Updating,
            false,
            reasons::PROVISIONING,
            "applying changes on the platform",
        ),
    }
}
