//! The BackupPolicy's pure steps: the server it backs up, the job the platform should hold, the
//! next step for a registered job, which failed runs are new, when to look again, and its
//! status.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{
    BackupFailureStatus, BackupMode, BackupPolicy, BackupPolicyStatus, BackupScope, Phase,
    RecoveryPointStatus, VirtualServer,
};
use suido_provider::{
    BackupFailure, BackupJob, BackupJobSpec, BackupModeKind, BackupScopeKind, RecoveryPointKind,
    ResourceState,
};

use crate::conditions::Desired;
use crate::managed::references;
use crate::managed::{Error, Flow, Hold, Verdict};

/// The reason of the Warning Event for each failed or missed backup run.
pub const BACKUP_FAILED: &str = "BackupFailed";

/// How long after a run is due the status is looked at again, so that the new recovery point
/// (or failure) shows within seconds of the platform's run. Also the wait while a run is
/// overdue (the platform has not carried it out yet).
const AFTER_RUN: Duration = Duration::from_secs(3);
/// The longest wait asked for; the lifecycle also caps it at the drift interval.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The VirtualServer a policy backs up, resolved in its namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// The VirtualServer's name.
    pub name: String,
    /// Its platform id, once built.
    pub id: Option<String>,
}

/// Resolves `spec.serverName` among the VirtualServers: one that does not exist in the
/// policy's namespace is a `ReferenceNotFound` error; one not built yet has no id.
pub fn server(bp: &BackupPolicy, servers: &[Arc<VirtualServer>]) -> Result<Server, Error> {
    let namespace = bp.namespace().unwrap_or_default();
    let vs = references::find(servers, "spec.serverName", &namespace, &bp.spec.server_name)?;
    Ok(Server {
        name: bp.spec.server_name.clone(),
        id: vs
            .status
            .as_ref()
            .and_then(|s| s.managed.external_id.clone()),
    })
}

/// The job's scope on the platform.
pub fn scope(scope: BackupScope) -> BackupScopeKind {
    match scope {
        BackupScope::Image => BackupScopeKind::Image,
        BackupScope::DataOnly => BackupScopeKind::DataOnly,
    }
}

/// The job's mode on the platform.
pub fn mode(mode: BackupMode) -> BackupModeKind {
    match mode {
        BackupMode::Full => BackupModeKind::Full,
        BackupMode::Incremental => BackupModeKind::Incremental,
    }
}

/// What the platform should hold: the job, once the server is built (`None` before).
pub fn build(bp: &BackupPolicy, server: &Server) -> Option<BackupJobSpec> {
    let spec = &bp.spec;
    Some(BackupJobSpec {
        name: bp.name_any(),
        server_id: server.id.clone()?,
        scope: scope(spec.scope),
        schedule: spec.schedule.clone(),
        time_zone: spec.time_zone.clone(),
        generations: spec.generations,
        mode: mode(spec.mode),
        merge_schedule: spec.merge_schedule.clone(),
    })
}

/// The message while the server has no platform id.
fn not_built(name: &str) -> String {
    format!("waiting for VirtualServer {name} in this namespace to be built")
}

/// Whether the job may be registered now: not before its server is built.
pub fn gate(server: &Server) -> Option<Hold> {
    server.id.is_none().then(|| Hold {
        reason: reasons::REFERENCE_NOT_READY,
        message: not_built(&server.name),
        // The VirtualServer watch wakes the policy when the server gets its id.
        flow: Flow::Settled,
        notes: vec![],
    })
}

/// The next thing to do for a registered job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// An operation runs on the job; look again soon.
    Wait,
    /// The server has no platform id now, or one the platform no longer has (the
    /// VirtualServer has not followed its server after a system restore yet).
    WaitForServer {
        /// The VirtualServer's name.
        name: String,
        /// The id it names that the platform no longer has.
        gone: Option<String>,
    },
    /// Apply the spec; the settings that differ, for the Event.
    Update(Vec<&'static str>),
    /// The job matches the spec; the platform runs it.
    Done,
}

/// The settings of `current` that differ from `desired`, by their field names in the spec.
pub fn changes(desired: &BackupJobSpec, current: &BackupJobSpec) -> Vec<&'static str> {
    let mut out = vec![];
    let mut differs = |field, changed: bool| {
        if changed {
            out.push(field);
        }
    };
    differs("name", desired.name != current.name);
    differs("server", desired.server_id != current.server_id);
    differs("scope", desired.scope != current.scope);
    differs("schedule", desired.schedule != current.schedule);
    differs("timeZone", desired.time_zone != current.time_zone);
    differs("generations", desired.generations != current.generations);
    differs("mode", desired.mode != current.mode);
    differs(
        "mergeSchedule",
        desired.merge_schedule != current.merge_schedule,
    );
    out
}

/// Decides the next step for a registered job from the desired spec (absent while the server
/// is not built).
pub fn plan(desired: Option<&BackupJobSpec>, job: &BackupJob, server: &Server) -> Step {
    if job.operation.is_some()
        || matches!(
            job.state,
            ResourceState::Creating | ResourceState::Updating | ResourceState::Deleting
        )
    {
        return Step::Wait;
    }
    let Some(desired) = desired else {
        return Step::WaitForServer {
            name: server.name.clone(),
            gone: None,
        };
    };
    let changed = changes(desired, &job.spec);
    if changed.is_empty() {
        Step::Done
    } else {
        Step::Update(changed)
    }
}

/// The step when an update would name the server `gone`, which the VirtualServer still names
/// but the platform no longer has: a system restore replaced it and moved the job to the new
/// server, and the VirtualServer has not followed yet. If the server is all that differs, the
/// job is already right; otherwise the update waits until the VirtualServer has followed.
pub fn server_gone(changed: &[&'static str], name: &str, gone: &str) -> Step {
    if changed == ["server"] {
        Step::Done
    } else {
        Step::WaitForServer {
            name: name.to_owned(),
            gone: Some(gone.to_owned()),
        }
    }
}

/// The platform's failed runs that `known` (the status) does not list yet, oldest first: each
/// is announced once, as a Warning Event. A run is known by its time and reason.
pub fn new_failures<'a>(
    known: &[BackupFailureStatus],
    platform: &'a [BackupFailure],
) -> Vec<&'a BackupFailure> {
    let mut out: Vec<&BackupFailure> = platform
        .iter()
        .filter(|f| {
            let at = f.at.to_string();
            !known.iter().any(|k| k.at == at && k.reason == f.reason)
        })
        .collect();
    out.reverse();
    out
}

/// The Event's words for a failed run.
pub fn failure_note(failure: &BackupFailure) -> String {
    format!(
        "the backup run due at {} failed: {}",
        failure.at, failure.reason
    )
}

/// How long to wait, at `now`, so that the status follows the run due at `next_run` within
/// seconds: until then plus [`AFTER_RUN`], at most an hour (the lifecycle caps it at the drift
/// interval too).
pub fn wait_for_run(next_run: Timestamp, now: Timestamp) -> Duration {
    let until = Duration::try_from(next_run.duration_since(now)).unwrap_or(Duration::ZERO);
    (until + AFTER_RUN).min(MAX_WAIT)
}

/// How to go on after `step`, at `now`.
pub fn flow(step: &Step, job: &BackupJob, now: Timestamp) -> Flow {
    match step {
        Step::Wait | Step::Update(_) => Flow::Poll,
        Step::WaitForServer { .. } => Flow::Settled,
        Step::Done => match job.next_run {
            Some(next) => Flow::SettledFor(wait_for_run(next, now)),
            None => Flow::Settled,
        },
    }
}

fn kind_label(kind: RecoveryPointKind) -> &'static str {
    match kind {
        RecoveryPointKind::Full => "Full",
        RecoveryPointKind::Incremental => "Incremental",
    }
}

/// Fills the policy's own status fields from the job and returns its `ReferencesResolved`
/// condition.
pub fn observe(
    status: &mut BackupPolicyStatus,
    job: Option<&BackupJob>,
    server: Option<&Server>,
) -> Vec<Desired> {
    if let Some(job) = job.filter(|j| j.state != ResourceState::Creating) {
        status.recovery_points = job
            .recovery_points
            .iter()
            .map(|p| RecoveryPointStatus {
                id: p.id.clone(),
                taken_at: p.taken_at.to_string(),
                kind: kind_label(p.kind).to_owned(),
            })
            .collect();
        status.stored_generations =
            Some(u32::try_from(job.recovery_points.len()).unwrap_or(u32::MAX));
        status.last_backup_time = job.recovery_points.first().map(|p| p.taken_at.to_string());
        status.next_backup_time = job.next_run.map(|t| t.to_string());
        status.failures = job
            .failures
            .iter()
            .map(|f| BackupFailureStatus {
                at: f.at.to_string(),
                reason: f.reason.clone(),
            })
            .collect();
    }
    match server {
        Some(Server { name, id: Some(id) }) => vec![Desired::new(
            cond::REFERENCES_RESOLVED,
            true,
            reasons::RESOLVED,
            format!("VirtualServer {name} is server {id}"),
        )],
        Some(Server { name, id: None }) => vec![Desired::new(
            cond::REFERENCES_RESOLVED,
            false,
            reasons::REFERENCE_NOT_READY,
            not_built(name),
        )],
        None => vec![],
    }
}

/// Phase and `Ready` of a registered job after `step`.
pub fn verdict(bp: &BackupPolicy, step: &Step) -> Verdict {
    let v = |phase, ok, reason, message: String| Verdict {
        phase,
        ready: Desired::new(cond::READY, ok, reason, message),
    };
    match step {
        Step::Done => v(
            Phase::Available,
            true,
            reasons::AVAILABLE,
            format!(
                "the platform backs the server up on schedule {} ({}), keeping {} generations",
                bp.spec.schedule, bp.spec.time_zone, bp.spec.generations
            ),
        ),
        Step::WaitForServer { name, gone: None } => v(
            Phase::Waiting,
            false,
            reasons::REFERENCE_NOT_READY,
            not_built(name),
        ),
        Step::WaitForServer {
            name,
            gone: Some(id),
        } => v(
            Phase::Waiting,
            false,
            reasons::REFERENCE_NOT_READY,
            format!(
                "VirtualServer {name} names server {id}, which the platform no longer has; waiting for it to follow its server"
            ),
        ),
        Step::Wait | Step::Update(_) => v(
            Phase::Updating,
            false,
            reasons::PROVISIONING,
            "applying changes on the platform".to_owned(),
        ),
    }
}
