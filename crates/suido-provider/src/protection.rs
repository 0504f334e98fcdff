//! Data protection: image backups by ArcserveUDP (service 5: backup jobs and their recovery
//! points), snapshots of stopped servers (service 13), and data or system restores from either.
//!
//! The platform runs backup jobs by itself, at the times of their cron schedule in their time
//! zone; a job reports its recovery points (newest first) and its last failed runs. A system
//! restore deletes the pre-restore server and builds a new one with a new id; the restore says
//! which in [`Restore::new_server_id`].

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::resource::ResourceState;
use crate::types::{ClientToken, Tags};

/// What a backup job copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BackupScopeKind {
    /// The whole server image: OS and data (needed for a system restore).
    Image,
    /// The data disks only.
    DataOnly,
}

/// Whether each run is a full backup, or the first one is and the later ones incremental.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BackupModeKind {
    /// Every run is a full backup.
    Full,
    /// The first run is full, later ones incremental; the oldest incremental is merged into
    /// the full one when there are more recovery points than generations.
    Incremental,
}

/// What to register: a backup job of one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupJobSpec {
    /// Display name.
    pub name: String,
    /// Platform id of the server backed up.
    pub server_id: String,
    /// Image or data only.
    pub scope: BackupScopeKind,
    /// Five-field cron schedule (minute hour day-of-month month day-of-week).
    pub schedule: String,
    /// IANA time zone the schedule is read in, e.g. `Asia/Tokyo`.
    pub time_zone: String,
    /// How many recovery points to keep.
    pub generations: u32,
    /// Full or incremental.
    pub mode: BackupModeKind,
    /// Five-field cron schedule of merges (incremental mode only); absent: merge right after
    /// each backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_schedule: Option<String>,
}

/// Whether a recovery point is a full image or an increment on the one before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RecoveryPointKind {
    /// A full backup (or incrementals merged into one).
    Full,
    /// The changes since the recovery point before it.
    Incremental,
}

/// A point in time a server can be restored to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPoint {
    /// Platform id of the recovery point.
    pub id: String,
    /// The time of the data it holds.
    pub taken_at: Timestamp,
    /// Full or incremental.
    pub kind: RecoveryPointKind,
    /// Stored size in GB.
    pub size_gb: u32,
}

/// A run of a backup job that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupFailure {
    /// The scheduled time of the run.
    pub at: Timestamp,
    /// Why it failed.
    pub reason: String,
}

/// A backup job as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupJob {
    /// Platform id.
    pub id: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Lifecycle state.
    pub state: ResourceState,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was registered.
    pub created_at: Timestamp,
    /// The spec as last applied.
    pub spec: BackupJobSpec,
    /// Scheduled time of the last run, successful or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<Timestamp>,
    /// When the next run is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_run: Option<Timestamp>,
    /// Recovery points, newest first.
    #[serde(default)]
    pub recovery_points: Vec<RecoveryPoint>,
    /// The last failed runs (a few at most), newest first.
    #[serde(default)]
    pub failures: Vec<BackupFailure>,
}

/// What to take: a snapshot (image) of a server, which must be stopped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSpec {
    /// Display name.
    pub name: String,
    /// Platform id of the server.
    pub server_id: String,
}

/// A snapshot as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// Platform id.
    pub id: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Lifecycle state.
    pub state: ResourceState,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was ordered.
    pub created_at: Timestamp,
    /// The spec it was taken from.
    pub spec: SnapshotSpec,
    /// The server it is an image of (it follows the server through a system restore).
    pub server_id: String,
    /// Size of the image in GB: the sum of the server's disks.
    pub size_gb: u32,
    /// When the image was taken; absent until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<Timestamp>,
}

/// Data or system restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum RestoreKind {
    /// Files put back on the running server, which stays as it is (tenant self-service).
    Data {
        /// Absolute paths to restore.
        paths: Vec<String>,
    },
    /// The server is rebuilt: the pre-restore server is deleted and a new one built.
    System,
}

/// Where a restore takes its data from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum RestoreSourceSpec {
    /// A recovery point of a backup job of the server.
    RecoveryPoint {
        /// Platform id of the backup job.
        job_id: String,
        /// Platform id of the recovery point.
        point_id: String,
    },
    /// A snapshot of the server.
    Snapshot {
        /// Platform id of the snapshot.
        snapshot_id: String,
    },
}

/// What to run: a restore of one server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreSpec {
    /// Platform id of the server restored.
    pub server_id: String,
    /// Data or system.
    pub kind: RestoreKind,
    /// Recovery point or snapshot; it must belong to that server.
    pub source: RestoreSourceSpec,
}

/// Progress of a restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RestoreState {
    /// Accepted, not started.
    Pending,
    /// In progress.
    Running,
    /// Done.
    Succeeded,
    /// Ended without restoring; see `error`.
    Failed,
}

impl RestoreState {
    /// Whether the restore has ended.
    pub fn is_done(self) -> bool {
        matches!(self, RestoreState::Succeeded | RestoreState::Failed)
    }
}

/// A restore as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restore {
    /// Platform id.
    pub id: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Progress.
    pub state: RestoreState,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was ordered.
    pub created_at: Timestamp,
    /// What it restores.
    pub spec: RestoreSpec,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For a system restore that succeeded: the id of the server built in place of
    /// `spec.server_id` (which no longer exists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_server_id: Option<String>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backup_job_spec_is_camel_case() -> Result<(), serde_json::Error> {
        let spec: BackupJobSpec = serde_json::from_value(json!({
            "name": "nightly", "serverId": "srv-000001", "scope": "Image",
            "schedule": "0 2 * * *", "timeZone": "Asia/Tokyo", "generations": 7,
            "mode": "Incremental", "mergeSchedule": "30 3 * * 0"
        }))?;
        assert_eq!(spec.mode, BackupModeKind::Incremental);
        assert_eq!(spec.merge_schedule.as_deref(), Some("30 3 * * 0"));
        let v = serde_json::to_value(&spec)?;
        assert_eq!(v["timeZone"], "Asia/Tokyo");
        assert_eq!(serde_json::from_value::<BackupJobSpec>(v)?, spec);
        Ok(())
    }

    #[test]
    fn restore_kinds_and_sources_are_tagged_by_type() -> Result<(), serde_json::Error> {
        let spec = RestoreSpec {
            server_id: "srv-000001".into(),
            kind: RestoreKind::Data {
                paths: vec!["/var/lib/app".into()],
            },
            source: RestoreSourceSpec::RecoveryPoint {
                job_id: "bkj-000002".into(),
                point_id: "rp-000003".into(),
            },
        };
        let v = serde_json::to_value(&spec)?;
        assert_eq!(
            v,
            json!({"serverId": "srv-000001",
                   "kind": {"type": "Data", "paths": ["/var/lib/app"]},
                   "source": {"type": "RecoveryPoint", "jobId": "bkj-000002", "pointId": "rp-000003"}})
        );
        assert_eq!(serde_json::from_value::<RestoreSpec>(v)?, spec);
        let system: RestoreSpec = serde_json::from_value(json!({
            "serverId": "srv-1", "kind": {"type": "System"},
            "source": {"type": "Snapshot", "snapshotId": "snap-1"}
        }))?;
        assert_eq!(system.kind, RestoreKind::System);
        assert_eq!(
            system.source,
            RestoreSourceSpec::Snapshot {
                snapshot_id: "snap-1".into()
            }
        );
        assert!(RestoreState::Failed.is_done() && !RestoreState::Running.is_done());
        Ok(())
    }
}
