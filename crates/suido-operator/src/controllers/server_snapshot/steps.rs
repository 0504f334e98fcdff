//! The ServerSnapshot's pure steps: where its server is, whether the image may be taken now
//! (the gate of both stop policies), what to do once it is taken (start the server again when
//! Suido stopped it), and its status.
//!
//! A server Suido stops is recorded in the [`STOPPED_SERVER`] annotation *before* the stop is
//! asked for, and the annotation is removed only once the server runs again (or is gone, or its
//! VirtualServer now asks for it stopped). So whatever step a crash interrupts, the next
//! reconcile finds the annotation and starts the server; and a server the tenant stopped
//! themselves is never started.

use std::sync::Arc;

use kube::ResourceExt;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{
    OperationPhase, Phase, PowerState, ServerSnapshot, ServerSnapshotStatus, SnapshotStopPolicy,
    VirtualServer,
};
use suido_provider::{ResourceState, Server, ServerState, Snapshot, SnapshotSpec};

use crate::conditions::Desired;
use crate::managed::references;
use crate::managed::{Error, Flow, Hold, Verdict};

/// Annotation naming the server that Suido stopped to take this snapshot and must start again.
pub const STOPPED_SERVER: &str = "infra.suido.dev/stopped-server";

/// The VirtualServer of a snapshot as found in the cache.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// Its platform id, once built.
    pub id: Option<String>,
    /// Whether its spec asks for it running.
    pub wants_running: bool,
}

/// Finds `spec.serverName` among the VirtualServers of the snapshot's namespace. A missing one
/// is a `ReferenceNotFound` error until the image is taken; after that it is `None` (the image
/// outlives its server).
pub fn locate(
    snap: &ServerSnapshot,
    servers: &[Arc<VirtualServer>],
) -> Result<Option<Located>, Error> {
    let namespace = snap.namespace().unwrap_or_default();
    match references::find(
        servers,
        "spec.serverName",
        &namespace,
        &snap.spec.server_name,
    ) {
        Ok(vs) => Ok(Some(Located {
            id: vs
                .status
                .as_ref()
                .and_then(|s| s.managed.external_id.clone()),
            wants_running: vs.spec.power_state == PowerState::Running,
        })),
        Err(_) if taken(snap) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether the object already records its image on the platform.
fn taken(snap: &ServerSnapshot) -> bool {
    snap.status
        .as_ref()
        .is_some_and(|s| s.managed.external_id.is_some())
}

/// A snapshot is taken once: when the image it recorded is gone from the platform, it is not
/// taken again (that could stop the server again, long after the tenant asked), and the object
/// fails with reason `Lost`.
pub fn lost(snap: &ServerSnapshot) -> Option<Error> {
    let id = snap.status.as_ref()?.managed.external_id.as_ref()?;
    Some(Error::AdoptedLost(format!(
        "the image {id} is gone from the platform; a ServerSnapshot is taken once: create a new one to take another"
    )))
}

/// The server a snapshot is of, as the platform has it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceServer {
    /// The VirtualServer is gone (only once the image is taken).
    Gone,
    /// The VirtualServer has no platform server (yet, or its server was replaced and it has
    /// not followed).
    NotBuilt,
    /// The platform's server.
    Built(Box<Server>),
}

/// A snapshot's references, resolved: its VirtualServer and that server's state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The VirtualServer's name.
    pub name: String,
    /// Its server.
    pub server: SourceServer,
    /// Whether the VirtualServer's spec asks for the server running.
    pub wants_running: bool,
}

/// What the platform should take: the image of the server, once built.
pub fn build(snap: &ServerSnapshot, source: &Source) -> Option<SnapshotSpec> {
    match &source.server {
        SourceServer::Built(server) => Some(SnapshotSpec {
            name: snap.name_any(),
            server_id: server.id.clone(),
        }),
        _ => None,
    }
}

/// Why the image is not taken yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The VirtualServer has no built server.
    ServerNotBuilt,
    /// The VirtualServer is gone (its image was lost, and there is nothing to take again).
    ServerGone,
    /// Another operation runs on the stopped server.
    ServerBusy,
    /// `WaitForStop`: the tenant has to stop the server.
    WaitingForStop,
    /// `StopServer`: Suido's stop runs.
    Stopping,
}

/// Whether the image may be taken now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The server is stopped: take it.
    Go,
    /// `StopServer` and the server runs: record it, stop it, then take the image.
    Stop,
    /// Not now.
    Hold(Wait),
}

/// The gate of both stop policies. The platform takes an image only of a stopped server that is
/// not busy.
pub fn gate(policy: SnapshotStopPolicy, source: &Source) -> Gate {
    let server = match &source.server {
        SourceServer::Gone => return Gate::Hold(Wait::ServerGone),
        SourceServer::NotBuilt => return Gate::Hold(Wait::ServerNotBuilt),
        SourceServer::Built(server) => server,
    };
    let busy = server.operation.is_some();
    match (server.state, policy) {
        (ServerState::Stopped, _) if busy => Gate::Hold(Wait::ServerBusy),
        (ServerState::Stopped, _) => Gate::Go,
        (ServerState::Running, SnapshotStopPolicy::WaitForStop) => Gate::Hold(Wait::WaitingForStop),
        (ServerState::Running, SnapshotStopPolicy::StopServer) if busy => {
            Gate::Hold(Wait::Stopping)
        }
        (ServerState::Running, SnapshotStopPolicy::StopServer) => Gate::Stop,
        (ServerState::Building | ServerState::Deleting | ServerState::Error, _) => {
            Gate::Hold(Wait::ServerNotBuilt)
        }
    }
}

/// The hold shown for `wait` (notes are added by the caller for the steps it took).
pub fn hold(wait: Wait, name: &str) -> Hold {
    let (reason, message, flow) = match wait {
        Wait::ServerNotBuilt => (
            reasons::REFERENCE_NOT_READY,
            format!("waiting for VirtualServer {name} in this namespace to be built"),
            Flow::Settled,
        ),
        Wait::ServerGone => (
            reasons::REFERENCE_NOT_FOUND,
            format!("VirtualServer {name} is gone; there is no server to take the image of"),
            Flow::Settled,
        ),
        Wait::ServerBusy => (
            reasons::IN_PROGRESS,
            format!(
                "VirtualServer {name} is busy with another operation; the image is taken after it"
            ),
            Flow::Poll,
        ),
        Wait::WaitingForStop => (
            reasons::WAITING_FOR_STOP,
            format!(
                "VirtualServer {name} is running: stop it (spec.powerState: Stopped) to take the snapshot, or use spec.stopPolicy StopServer in a new ServerSnapshot"
            ),
            Flow::Settled,
        ),
        Wait::Stopping => (
            reasons::IN_PROGRESS,
            format!(
                "stopping VirtualServer {name} to take the snapshot; it is started again afterwards"
            ),
            Flow::Poll,
        ),
    };
    Hold {
        reason,
        message,
        flow,
        notes: vec![],
    }
}

/// What to do about a server Suido stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    /// Start it.
    Start,
    /// It is busy (the image is being taken): look again soon.
    Wait,
    /// Nothing more: it runs again, is gone, or its VirtualServer asks for it stopped. The
    /// annotation can go.
    Release,
}

/// What to do about the server `stopped` (the annotation) names, given the source now.
pub fn restart(stopped: &str, source: Option<&Source>) -> Restart {
    let Some(source) = source.filter(|s| s.wants_running) else {
        return Restart::Release;
    };
    match &source.server {
        SourceServer::Built(server) if server.id == stopped => {
            match (server.state, server.operation.is_some()) {
                (ServerState::Stopped, false) => Restart::Start,
                (ServerState::Stopped, true) => Restart::Wait,
                _ => Restart::Release,
            }
        }
        _ => Restart::Release,
    }
}

/// The next thing to do once the snapshot exists on the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The platform is taking the image (or the server is still held); look again soon.
    Wait,
    /// Start the server Suido stopped.
    Restart,
    /// The server runs again (or needs no start): remove the annotation.
    Release,
    /// Taken; nothing more to do.
    Done,
}

/// The step for a snapshot on the platform. `stopped` is the [`STOPPED_SERVER`] annotation.
pub fn plan(snapshot: &Snapshot, source: &Source, stopped: Option<&str>) -> Step {
    if snapshot.state == ResourceState::Creating {
        return Step::Wait;
    }
    match stopped.map(|id| restart(id, Some(source))) {
        None => Step::Done,
        Some(Restart::Start) => Step::Restart,
        Some(Restart::Wait) => Step::Wait,
        Some(Restart::Release) => Step::Release,
    }
}

/// The snapshot's progress for `kubectl get`.
pub fn operation_phase(
    policy: SnapshotStopPolicy,
    snapshot: Option<&Snapshot>,
    step: Option<&Step>,
    source: Option<&Source>,
) -> OperationPhase {
    match snapshot {
        None => match source.map(|s| gate(policy, s)) {
            Some(Gate::Go) => OperationPhase::InProgress,
            Some(Gate::Stop | Gate::Hold(Wait::Stopping)) => OperationPhase::Stopping,
            Some(Gate::Hold(Wait::WaitingForStop)) => OperationPhase::WaitingForStop,
            Some(Gate::Hold(_)) | None => OperationPhase::Pending,
        },
        Some(s) => match (s.state, step) {
            (ResourceState::Error, _) => OperationPhase::Failed,
            (_, Some(Step::Done | Step::Release)) => OperationPhase::Completed,
            _ => OperationPhase::InProgress,
        },
    }
}

/// Fills the snapshot's own status fields. It has no extra conditions.
pub fn observe(
    snap: &ServerSnapshot,
    status: &mut ServerSnapshotStatus,
    snapshot: Option<&Snapshot>,
    step: Option<&Step>,
    source: Option<&Source>,
) -> Vec<Desired> {
    status.operation_phase = Some(operation_phase(
        snap.spec.stop_policy,
        snapshot,
        step,
        source,
    ));
    if let Some(s) = snapshot {
        status.taken_at = s.taken_at.map(|t| t.to_string());
        status.size_gb = s.taken_at.is_some().then_some(s.size_gb);
    }
    vec![]
}

/// Phase and `Ready` of a snapshot on the platform after `step`.
pub fn verdict(snap: &ServerSnapshot, step: &Step) -> Verdict {
    let name = &snap.spec.server_name;
    let v = |phase, ok, reason, message: String| Verdict {
        phase,
        ready: Desired::new(cond::READY, ok, reason, message),
    };
    match step {
        Step::Done | Step::Release => v(
            Phase::Available,
            true,
            reasons::SUCCEEDED,
            format!("the image of VirtualServer {name} is taken"),
        ),
        Step::Restart => v(
            Phase::Updating,
            false,
            reasons::IN_PROGRESS,
            format!("the image is taken; starting VirtualServer {name} again"),
        ),
        Step::Wait => v(
            Phase::Updating,
            false,
            reasons::IN_PROGRESS,
            format!("the platform is taking the image of VirtualServer {name}"),
        ),
    }
}
