//! The ServerRestore's pure steps: resolving its server and its source (a BackupPolicy's
//! recovery point, the newest when none is named, or a ServerSnapshot) into the platform's
//! restore spec, the status for what was seen, and the Event of the phase it ends in.

use std::sync::Arc;

use jiff::Timestamp;
use kube::ResourceExt;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{
    BackupPolicy, BackupScope, OperatingSystem, OperationPhase, RestorePhase, RestoreType,
    ServerRestore, ServerRestoreStatus, ServerSnapshot, VirtualServer,
};
use suido_provider::{Restore, RestoreKind, RestoreSourceSpec, RestoreSpec, RestoreState};

use crate::conditions::{self, Desired};
use crate::managed::{Error, references};

/// The objects of the restore's namespace it may refer to (the caches).
pub struct Objects<'a> {
    /// VirtualServers.
    pub servers: &'a [Arc<VirtualServer>],
    /// BackupPolicies.
    pub policies: &'a [Arc<BackupPolicy>],
    /// ServerSnapshots.
    pub snapshots: &'a [Arc<ServerSnapshot>],
}

/// A restore ready to be ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// What the platform is asked to do.
    pub spec: RestoreSpec,
    /// The recovery point or snapshot used (its platform id), for `status.restoredFrom`.
    pub from: String,
    /// The source in words, for messages.
    pub label: String,
}

/// Why a restore is not ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// It waits for a change elsewhere (a reference missing or not ready, a Tenant, the state
    /// of the server): phase `Pending`, `Ready=False`, looked at again on that change.
    Waiting {
        /// The `Ready` reason.
        reason: &'static str,
        /// What it waits for.
        message: String,
    },
    /// It can never be carried out as written (the spec cannot change): phase `Failed`.
    Refused {
        /// The `Ready` reason.
        reason: &'static str,
        /// Why.
        message: String,
    },
}

impl Blocked {
    fn waiting(reason: &'static str, message: String) -> Self {
        Blocked::Waiting { reason, message }
    }

    fn refused(message: String) -> Self {
        Blocked::Refused {
            reason: reasons::INVALID_SPEC,
            message,
        }
    }
}

/// A reference error from [`references::find`] as a wait: a missing object may be created.
fn wait_for(error: Error) -> Blocked {
    Blocked::waiting(error.reason(), error.to_string())
}

/// What a data restore with no paths restores: everything, from the root of the server's OS.
pub fn root_of(os: OperatingSystem) -> &'static str {
    match os {
        OperatingSystem::WindowsServer => "C:\\",
        OperatingSystem::RockyLinux | OperatingSystem::Rhel => "/",
    }
}

/// The recovery point used from `policy`: the one named, else the one recorded in status before
/// an earlier create (so that a retry asks for the same restore), else the newest.
fn recovery_point(
    restore: &ServerRestore,
    policy: &BackupPolicy,
    named: Option<&str>,
) -> Result<String, Blocked> {
    let name = policy.name_any();
    let points = policy
        .status
        .as_ref()
        .map(|s| s.recovery_points.as_slice())
        .unwrap_or_default();
    let listed = |id: &str| points.iter().any(|p| p.id == id);
    if let Some(id) = named {
        return if listed(id) {
            Ok(id.to_owned())
        } else {
            Err(Blocked::waiting(
                reasons::REFERENCE_NOT_FOUND,
                format!(
                    "spec.source.backup.recoveryPoint {id}: BackupPolicy {name} holds no recovery point of that id"
                ),
            ))
        };
    }
    let recorded = restore
        .status
        .as_ref()
        .and_then(|s| s.restored_from.as_deref())
        .filter(|id| listed(id));
    recorded
        .or_else(|| points.first().map(|p| p.id.as_str()))
        .map(str::to_owned)
        .ok_or_else(|| {
            Blocked::waiting(
                reasons::REFERENCE_NOT_READY,
                format!("BackupPolicy {name} has no recovery point yet"),
            )
        })
}

/// Resolves the restore's server and source in its namespace into what the platform should do.
pub fn resolve(restore: &ServerRestore, objects: &Objects<'_>) -> Result<Resolved, Blocked> {
    let spec = &restore.spec;
    let namespace = restore.namespace().unwrap_or_default();
    let server_name = &spec.server_name;
    let vs = references::find(objects.servers, "spec.serverName", &namespace, server_name)
        .map_err(wait_for)?;
    let server_id = vs
        .status
        .as_ref()
        .and_then(|s| s.managed.external_id.clone())
        .ok_or_else(|| {
            Blocked::waiting(
                reasons::REFERENCE_NOT_READY,
                format!("VirtualServer {server_name} has no built server yet"),
            )
        })?;
    let (source, from, label) = match (&spec.source.backup, &spec.source.snapshot_name) {
        (Some(backup), _) => {
            let policy = references::find(
                objects.policies,
                "spec.source.backup.policyName",
                &namespace,
                &backup.policy_name,
            )
            .map_err(wait_for)?;
            let name = &backup.policy_name;
            if &policy.spec.server_name != server_name {
                return Err(Blocked::refused(format!(
                    "spec.source.backup.policyName {name} backs up VirtualServer {}, not {server_name}",
                    policy.spec.server_name
                )));
            }
            if spec.restore_type == RestoreType::SystemRestore
                && policy.spec.scope != BackupScope::Image
            {
                return Err(Blocked::refused(format!(
                    "a SystemRestore needs an Image backup; BackupPolicy {name} backs up data only"
                )));
            }
            let job_id = policy
                .status
                .as_ref()
                .and_then(|s| s.managed.external_id.clone())
                .ok_or_else(|| {
                    Blocked::waiting(
                        reasons::REFERENCE_NOT_READY,
                        format!("BackupPolicy {name} has no backup job on the platform yet"),
                    )
                })?;
            let point = recovery_point(restore, policy, backup.recovery_point.as_deref())?;
            let label = format!("recovery point {point} of BackupPolicy {name}");
            (
                RestoreSourceSpec::RecoveryPoint {
                    job_id,
                    point_id: point.clone(),
                },
                point,
                label,
            )
        }
        (None, Some(name)) => {
            let snap = references::find(
                objects.snapshots,
                "spec.source.snapshotName",
                &namespace,
                name,
            )
            .map_err(wait_for)?;
            if &snap.spec.server_name != server_name {
                return Err(Blocked::refused(format!(
                    "spec.source.snapshotName {name} is an image of VirtualServer {}, not {server_name}",
                    snap.spec.server_name
                )));
            }
            let status = snap.status.as_ref();
            let id = status
                .filter(|s| s.operation_phase == Some(OperationPhase::Completed))
                .and_then(|s| s.managed.external_id.clone())
                .ok_or_else(|| {
                    Blocked::waiting(
                        reasons::REFERENCE_NOT_READY,
                        format!("ServerSnapshot {name} is not taken yet"),
                    )
                })?;
            let label = format!("ServerSnapshot {name} ({id})");
            (
                RestoreSourceSpec::Snapshot {
                    snapshot_id: id.clone(),
                },
                id,
                label,
            )
        }
        (None, None) => {
            return Err(Blocked::refused(
                "spec.source needs exactly one of backup or snapshotName".to_owned(),
            ));
        }
    };
    let kind = match spec.restore_type {
        RestoreType::SystemRestore => RestoreKind::System,
        RestoreType::DataRestore if spec.paths.is_empty() => RestoreKind::Data {
            paths: vec![root_of(vs.spec.os).to_owned()],
        },
        RestoreType::DataRestore => RestoreKind::Data {
            paths: spec.paths.clone(),
        },
    };
    Ok(Resolved {
        spec: RestoreSpec {
            server_id,
            kind,
            source,
        },
        from,
        label,
    })
}

/// What a reconcile saw, for the status.
#[derive(Clone, Copy, Debug)]
pub enum Seen<'a> {
    /// Nothing ordered, and it cannot be yet (or ever).
    Blocked(&'a Blocked),
    /// About to be ordered: the marker written before the create.
    Ordering(&'a Resolved),
    /// The platform's restore.
    Platform(&'a Restore),
}

/// The phase of a restore as the platform has it.
pub fn phase_of(state: RestoreState) -> RestorePhase {
    match state {
        RestoreState::Pending | RestoreState::Running => RestorePhase::Running,
        RestoreState::Succeeded => RestorePhase::Succeeded,
        RestoreState::Failed => RestorePhase::Failed,
    }
}

/// The recovery point or snapshot a platform restore reads.
fn source_id(source: &RestoreSourceSpec) -> &str {
    match source {
        RestoreSourceSpec::RecoveryPoint { point_id, .. } => point_id,
        RestoreSourceSpec::Snapshot { snapshot_id } => snapshot_id,
    }
}

/// Whether a restore has ended, so that nothing more is written.
pub fn is_done(restore: &ServerRestore) -> bool {
    matches!(
        restore.status.as_ref().and_then(|s| s.phase),
        Some(RestorePhase::Succeeded | RestorePhase::Failed)
    )
}

/// The kind of restore in words.
pub fn noun(restore: &ServerRestore) -> &'static str {
    match restore.spec.restore_type {
        RestoreType::DataRestore => "data restore",
        RestoreType::SystemRestore => "system restore",
    }
}

/// The `Ready` condition and phase for a platform restore.
fn platform_ready(restore: &ServerRestore, r: &Restore) -> (RestorePhase, Desired) {
    let name = &restore.spec.server_name;
    let from = source_id(&r.spec.source);
    let phase = phase_of(r.state);
    let ready = match (phase, &r.new_server_id) {
        (RestorePhase::Succeeded, Some(new)) => Desired::new(
            cond::READY,
            true,
            reasons::SUCCEEDED,
            format!(
                "VirtualServer {name} was rebuilt from {from} as server {new}; server {} was deleted",
                r.spec.server_id
            ),
        ),
        (RestorePhase::Succeeded, None) => Desired::new(
            cond::READY,
            true,
            reasons::SUCCEEDED,
            format!("the data of VirtualServer {name} was restored from {from}"),
        ),
        (RestorePhase::Failed, _) => Desired::new(
            cond::READY,
            false,
            reasons::FAILED,
            format!(
                "the {} failed: {}",
                noun(restore),
                r.error.as_deref().unwrap_or("the platform gave no reason")
            ),
        ),
        _ => Desired::new(
            cond::READY,
            false,
            reasons::IN_PROGRESS,
            format!("the platform is restoring VirtualServer {name} from {from}"),
        ),
    };
    (phase, ready)
}

/// The status for what a reconcile saw. Deterministic: the same sighting gives the same status,
/// and conditions keep their transition times unless they flip.
pub fn desired_status(
    restore: &ServerRestore,
    seen: Seen<'_>,
    now: Timestamp,
) -> ServerRestoreStatus {
    let generation = restore.metadata.generation;
    let mut status = restore.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    let ready = match seen {
        Seen::Blocked(Blocked::Waiting { reason, message }) => {
            status.phase = Some(RestorePhase::Pending);
            Desired::new(cond::READY, false, reason, message.clone())
        }
        Seen::Blocked(Blocked::Refused { reason, message }) => {
            status.phase = Some(RestorePhase::Failed);
            Desired::new(cond::READY, false, reason, message.clone())
        }
        Seen::Ordering(resolved) => {
            status.phase = Some(RestorePhase::Pending);
            status.restored_from = Some(resolved.from.clone());
            Desired::new(
                cond::READY,
                false,
                reasons::IN_PROGRESS,
                format!(
                    "ordering the {} of VirtualServer {} from {}",
                    noun(restore),
                    restore.spec.server_name,
                    resolved.label
                ),
            )
        }
        Seen::Platform(r) => {
            let (phase, ready) = platform_ready(restore, r);
            status.phase = Some(phase);
            status.operation_id = Some(r.id.clone());
            status.restored_from = Some(source_id(&r.spec.source).to_owned());
            let system = r.spec.kind == RestoreKind::System;
            status.previous_server_id = system.then(|| r.spec.server_id.clone());
            status.new_server_id = r.new_server_id.clone();
            status.completed_at = r
                .finished_at
                .filter(|_| r.state.is_done())
                .map(|t| t.to_string());
            ready
        }
    };
    let synced = Desired::new(cond::SYNCED, true, reasons::RECONCILE_SUCCESS, "");
    conditions::set_all(&mut status.conditions, [synced, ready], generation, now);
    status
}

/// The status after a failed reconcile (a transient error): only `Synced` says so.
pub fn failed_status(
    restore: &ServerRestore,
    error: &Error,
    now: Timestamp,
) -> ServerRestoreStatus {
    let mut status = restore.status.clone().unwrap_or_default();
    conditions::set(
        &mut status.conditions,
        Desired::new(
            cond::SYNCED,
            false,
            error.reason(),
            error.inner().to_string(),
        ),
        restore.metadata.generation,
        now,
    );
    status
}

/// An Event to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Announcement {
    /// A Warning rather than a Normal Event.
    pub warning: bool,
    /// CamelCase reason.
    pub reason: &'static str,
    /// What happened.
    pub message: String,
}

/// The Event for a restore that has just ended (`before` is the phase it had): `Restored`, or
/// a Warning `RestoreFailed`. Nothing while it runs or once it was announced.
pub fn announce(before: Option<RestorePhase>, after: &ServerRestoreStatus) -> Option<Announcement> {
    if after.phase == before {
        return None;
    }
    let message = after
        .conditions
        .iter()
        .find(|c| c.type_ == cond::READY)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    match after.phase {
        Some(RestorePhase::Succeeded) => Some(Announcement {
            warning: false,
            reason: "Restored",
            message,
        }),
        Some(RestorePhase::Failed) => Some(Announcement {
            warning: true,
            reason: "RestoreFailed",
            message,
        }),
        _ => None,
    }
}
