//! `ServerRestore`: a data restore or a system restore of a VirtualServer from a backup or a
//! snapshot.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// A restore, carried out once. A `SystemRestore` replaces the server: the platform deletes the
/// pre-restore server, so it needs `confirmServerReplacement` set to the server's name.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "ServerRestore",
    namespaced,
    shortname = "rst",
    category = "suido",
    status = "ServerRestoreStatus",
    doc = "A data restore or a system restore of a VirtualServer from a backup recovery point or a snapshot.",
    printcolumn(
        name = "Server",
        type_ = "string",
        json_path = ".spec.serverName",
        description = "VirtualServer restored"
    ),
    printcolumn(
        name = "Type",
        type_ = "string",
        json_path = ".spec.type",
        description = "DataRestore or SystemRestore"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Progress"
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
        name = "Completed",
        type_ = "date",
        json_path = ".status.completedAt",
        priority = 1,
        description = "When the restore finished"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("a ServerRestore is carried out once: its spec cannot change; create a new one"))]
#[x_kube(validation = Rule::new("self.type != 'SystemRestore' || (has(self.confirmServerReplacement) && self.confirmServerReplacement == self.serverName)").message("a SystemRestore deletes the pre-restore server: set spec.confirmServerReplacement to the value of spec.serverName to confirm").field_path(".confirmServerReplacement"))]
pub struct ServerRestoreSpec {
    /// Name of the VirtualServer in this namespace to restore.
    #[schemars(length(min = 1, max = 253))]
    pub server_name: String,

    /// `DataRestore` restores files onto the running server (tenant self-service);
    /// `SystemRestore` rebuilds the whole server together with the platform and deletes the
    /// pre-restore server.
    #[serde(rename = "type")]
    pub restore_type: RestoreType,

    /// Where the data comes from: exactly one of a backup recovery point or a snapshot.
    pub source: RestoreSource,

    /// For `DataRestore`: paths to restore; all data when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(min = 1, max = 4096)))]
    pub paths: Vec<String>,

    /// Confirmation for `SystemRestore`: must equal `serverName`, because the server is replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub confirm_server_replacement: Option<String>,
}

/// Kind of restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RestoreType {
    DataRestore,
    SystemRestore,
}

/// The source of a restore.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.backup) != has(self.snapshotName)").message("spec.source needs exactly one of backup or snapshotName"))]
pub struct RestoreSource {
    /// A recovery point of a BackupPolicy in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupSource>,
    /// Name of a ServerSnapshot in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub snapshot_name: Option<String>,
}

/// A backup recovery point.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupSource {
    /// Name of the BackupPolicy in this namespace.
    #[schemars(length(min = 1, max = 253))]
    pub policy_name: String,
    /// A recovery point from the policy's `status.recoveryPoints`; the newest when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub recovery_point: Option<String>,
}

/// Progress of a restore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RestorePhase {
    // Accepted, not yet sent to the platform.
    Pending,
    // The platform is restoring.
    Running,
    // The restore finished.
    Succeeded,
    // The restore failed (see conditions); it is not retried.
    Failed,
}

/// Observed state of a restore.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerRestoreStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current conditions: `Ready` (the restore completed) and `Synced`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Progress of the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RestorePhase>,
    /// The recovery point or snapshot actually used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
    /// Platform id of the restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// For a system restore: the platform id of the server it replaced (deleted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_server_id: Option<String>,
    /// For a system restore: the platform id of the server built from the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_server_id: Option<String>,
    /// When the restore finished (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
}
