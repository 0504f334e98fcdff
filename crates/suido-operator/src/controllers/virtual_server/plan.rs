//! The VirtualServer's pure steps: what the platform should build from the spec, and the next
//! step for a built server (size and disk changes by the disruption policy, monitoring, power).

use kube::ResourceExt;
use suido_api::v1alpha1::{
    Antivirus, DisruptionPolicy, PowerState, VirtualServer, VirtualServerSpec,
};
use suido_provider::{DiskSpec, MonitoringSettings, Server, ServerSpec, ServerState};

use crate::convert;

/// The vendor-only features a server asks for, in words.
pub fn vendor_only_features(spec: &VirtualServerSpec) -> Vec<&'static str> {
    let mut out = vec![];
    if spec.antivirus == Antivirus::DeepSecurity {
        out.push("spec.antivirus DeepSecurity");
    }
    if spec.console {
        out.push("spec.console (the management screen)");
    }
    out
}

/// What the platform should build, from the spec: the server and its monitoring settings.
pub fn build(vs: &VirtualServer) -> (ServerSpec, Option<MonitoringSettings>) {
    let spec = &vs.spec;
    let server = ServerSpec {
        name: vs.name_any(),
        size: convert::size(spec.size),
        os: convert::os(spec.os),
        os_disk_gb: Some(
            spec.os_disk_gb
                .unwrap_or_else(|| spec.os.standard_os_disk_gb()),
        ),
        packages: spec
            .packages
            .iter()
            .copied()
            .map(convert::package)
            .collect(),
        antivirus: convert::antivirus(spec.antivirus),
        rds_licenses: spec.rds_licenses,
        disks: spec
            .disks
            .iter()
            .map(|d| DiskSpec {
                name: d.name.clone(),
                size_gb: d.size_gb,
            })
            .collect(),
    };
    (server, spec.monitoring.as_ref().map(convert::monitoring))
}

/// A change that needs the server stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// New size.
    Resize(suido_provider::ServerSize),
    /// A new additional disk.
    AttachDisk(DiskSpec),
    /// A bigger additional disk.
    GrowDisk {
        /// Disk name.
        name: String,
        /// New size in GB.
        size_gb: u32,
    },
    /// A disk no longer in the spec.
    DetachDisk(String),
}

impl Change {
    /// The change in words, for status and events.
    pub fn describe(&self, server: &Server) -> String {
        match self {
            Change::Resize(size) => format!("size {} -> {size}", server.size),
            Change::AttachDisk(d) => format!("add disk {} ({} GB)", d.name, d.size_gb),
            Change::GrowDisk { name, size_gb } => {
                let old = server
                    .disks
                    .iter()
                    .find(|d| &d.name == name)
                    .map_or(0, |d| d.size_gb);
                format!("grow disk {name} {old} -> {size_gb} GB")
            }
            Change::DetachDisk(name) => format!("remove disk {name}"),
        }
    }
}

/// The changes between the built server and the spec that need a stop, in the order applied.
pub fn disruptive_changes(desired: &ServerSpec, server: &Server) -> Vec<Change> {
    let mut out = vec![];
    if desired.size != server.size {
        out.push(Change::Resize(desired.size));
    }
    for d in &desired.disks {
        match server.disks.iter().find(|x| x.name == d.name) {
            None => out.push(Change::AttachDisk(d.clone())),
            Some(x) if d.size_gb > x.size_gb => out.push(Change::GrowDisk {
                name: d.name.clone(),
                size_gb: d.size_gb,
            }),
            Some(_) => {}
        }
    }
    for x in &server.disks {
        if !desired.disks.iter().any(|d| d.name == x.name) {
            out.push(Change::DetachDisk(x.name.clone()));
        }
    }
    out
}

/// Why disruptive changes wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldReason {
    /// `disruption: NextStop` and the server runs.
    WaitingForStop,
    /// `disruption: NextMaintenanceWindow` and no window is open.
    WaitingForMaintenance,
}

/// The next thing to do for a server that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// An operation runs on the platform; look again soon.
    Wait,
    /// Stop the server, to apply `changes` (empty when the spec asks for Stopped).
    Stop {
        /// The changes the stop is for.
        changes: Vec<Change>,
    },
    /// Apply one change to the stopped server.
    Apply(Change),
    /// Start the server.
    Start,
    /// Push new monitoring settings.
    Monitor(Option<MonitoringSettings>),
    /// Changes wait for a stop or a window.
    Hold {
        /// Why.
        reason: HoldReason,
        /// What waits.
        changes: Vec<Change>,
    },
    /// The server matches the spec.
    Done,
}

/// Decides the next step from the spec and the server as the platform has it. `window_open` is
/// whether a maintenance window that stops this tenant's servers is open now.
pub fn plan(
    spec: &VirtualServerSpec,
    desired: &ServerSpec,
    monitoring: Option<&MonitoringSettings>,
    server: &Server,
    window_open: bool,
) -> Step {
    if server.operation.is_some()
        || matches!(server.state, ServerState::Building | ServerState::Deleting)
    {
        return Step::Wait;
    }
    let stopped = server.state == ServerState::Stopped;
    let changes = disruptive_changes(desired, server);
    if !changes.is_empty() {
        let allowed = match spec.disruption {
            DisruptionPolicy::Immediate => true,
            DisruptionPolicy::NextMaintenanceWindow => window_open || stopped,
            DisruptionPolicy::NextStop => stopped || spec.power_state == PowerState::Stopped,
        };
        if !allowed {
            let reason = match spec.disruption {
                DisruptionPolicy::NextMaintenanceWindow => HoldReason::WaitingForMaintenance,
                _ => HoldReason::WaitingForStop,
            };
            return Step::Hold { reason, changes };
        }
        if !stopped {
            return Step::Stop { changes };
        }
        if let Some(first) = changes.into_iter().next() {
            return Step::Apply(first);
        }
    }
    if server.monitoring.as_ref() != monitoring {
        return Step::Monitor(monitoring.cloned());
    }
    match (spec.power_state, stopped) {
        (PowerState::Running, true) => Step::Start,
        (PowerState::Stopped, false) => Step::Stop { changes: vec![] },
        _ => Step::Done,
    }
}
