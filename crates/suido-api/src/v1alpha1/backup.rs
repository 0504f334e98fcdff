//! `BackupPolicy`: agent-based image backup (ArcserveUDP) of a VirtualServer, on a schedule, with
//! generations, incremental backups and periodic merging.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    EXTERNAL_ID_FIXED, EXTERNAL_ID_FIXED_MESSAGE, ManagedSpec, ManagedStatus,
    OBSERVE_ONLY_NEEDS_EXTERNAL_ID, OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE,
};

/// A five-field cron expression (minute hour day-of-month month day-of-week).
pub const CRON_PATTERN: &str = r"^(\S+\s+){4}\S+$";

/// Desired state of an image backup policy.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "BackupPolicy",
    namespaced,
    shortname = "bkp",
    category = "suido",
    status = "BackupPolicyStatus",
    doc = "Scheduled image backup (ArcserveUDP agent) of a VirtualServer, with generations, incremental backups and merging.",
    printcolumn(
        name = "Server",
        type_ = "string",
        json_path = ".spec.serverName",
        description = "VirtualServer backed up"
    ),
    printcolumn(
        name = "Scope",
        type_ = "string",
        json_path = ".spec.scope",
        description = "Image or data only"
    ),
    printcolumn(
        name = "Schedule",
        type_ = "string",
        json_path = ".spec.schedule",
        description = "Cron schedule"
    ),
    printcolumn(
        name = "Last-Backup",
        type_ = "date",
        json_path = ".status.lastBackupTime",
        description = "Last successful backup"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Ready condition"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Generations",
        type_ = "integer",
        json_path = ".status.storedGenerations",
        priority = 1,
        description = "Recovery points kept"
    ),
    printcolumn(
        name = "External-ID",
        type_ = "string",
        json_path = ".status.externalId",
        priority = 1,
        description = "Platform backup job id"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(OBSERVE_ONLY_NEEDS_EXTERNAL_ID).message(OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new(EXTERNAL_ID_FIXED).message(EXTERNAL_ID_FIXED_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new("self.mode == 'Incremental' || !has(self.mergeSchedule)").message("spec.mergeSchedule is only for mode Incremental").field_path(".mergeSchedule"))]
pub struct BackupPolicySpec {
    /// Name of the VirtualServer in this namespace to back up. Cannot change; make a new policy.
    #[schemars(length(min = 1, max = 253))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.serverName cannot change; create a new BackupPolicy"))]
    pub server_name: String,

    /// `Image` backs up the OS and data (default); `DataOnly` backs up the data disks only.
    #[serde(default)]
    pub scope: BackupScope,

    /// When backups run, as a five-field cron expression in `timeZone`, e.g. `0 2 * * *`.
    #[schemars(regex(pattern = r"^(\S+\s+){4}\S+$"))]
    pub schedule: String,

    /// Time zone of `schedule` (IANA name). Defaults to the platform's `Asia/Tokyo`.
    #[serde(default = "default_time_zone")]
    #[schemars(length(min = 1, max = 64))]
    pub time_zone: String,

    /// Generations (recovery points) kept; older ones are merged away. At least 1.
    #[schemars(range(min = 1))]
    pub generations: u32,

    /// `Incremental` (default): one full backup, then incremental ones; `Full`: a full backup
    /// every time.
    #[serde(default)]
    pub mode: BackupMode,

    /// For `Incremental`: when incremental backups beyond `generations` are merged into the
    /// full one, as a five-field cron expression. Without it they are merged after each backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(\S+\s+){4}\S+$"))]
    pub merge_schedule: Option<String>,

    /// Deletion, management, adoption and pausing.
    #[serde(flatten)]
    pub management: ManagedSpec,
}

fn default_time_zone() -> String {
    "Asia/Tokyo".to_owned()
}

/// What a backup contains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BackupScope {
    #[default]
    Image,
    DataOnly,
}

/// Full or incremental backups.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BackupMode {
    Full,
    #[default]
    Incremental,
}

/// Observed state of a backup policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupPolicyStatus {
    /// Generation, conditions, external id and phase.
    #[serde(flatten)]
    pub managed: ManagedStatus,
    /// When the last successful backup finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup_time: Option<String>,
    /// Recovery points kept on the platform now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored_generations: Option<u32>,
    /// When the platform runs the next backup (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_backup_time: Option<String>,
    /// The recovery points held, newest first; their ids are what a ServerRestore names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_points: Vec<RecoveryPointStatus>,
    /// The most recent failed or missed runs, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<BackupFailureStatus>,
}

/// A recovery point the platform holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPointStatus {
    /// The recovery point's id, for `ServerRestore.spec.source.backup.recoveryPoint`.
    pub id: String,
    /// When it was taken (RFC 3339).
    pub taken_at: String,
    /// `Full` or `Incremental`.
    pub kind: String,
}

/// A backup run that failed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupFailureStatus {
    /// When the run was due (RFC 3339).
    pub at: String,
    /// Why it failed, as the platform reports.
    pub reason: String,
}
